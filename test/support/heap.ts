// The used V8 heap of another Node process after a full garbage collection, read over its
// inspector (the process runs with --inspect): the figure after the collection is what the
// process holds, not garbage it has not yet collected. Node 20 has WebSocket behind a flag, so
// a short child process speaks to the inspector.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const SCRIPT = `
const ws = new WebSocket(process.argv[1]);
let id = 0;
const waiting = new Map();
ws.onmessage = (e) => { const m = JSON.parse(e.data); waiting.get(m.id)?.(m); };
const send = (method) => new Promise((r) => { waiting.set(++id, r); ws.send(JSON.stringify({ id, method })); });
ws.onopen = async () => {
  await send('HeapProfiler.collectGarbage');
  await send('HeapProfiler.collectGarbage');
  const usage = await send('Runtime.getHeapUsage');
  process.stdout.write(JSON.stringify(usage.result));
  ws.close();
};
ws.onerror = (e) => { console.error(String(e.message ?? e)); process.exit(1); };
`;

/** inspectorUrl finds the inspector's WebSocket address in a process's output ("Debugger listening on ws://…"). */
export function inspectorUrl(output: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
}

/** usedHeapAfterGc collects garbage in the process behind `wsUrl` and returns its used heap in bytes. */
export async function usedHeapAfterGc(wsUrl: string): Promise<number> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--experimental-websocket', '--no-warnings', '-e', SCRIPT, wsUrl],
    { timeout: 30_000 },
  );
  return (JSON.parse(stdout) as { usedSize: number }).usedSize;
}
