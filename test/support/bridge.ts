// Runs the polaris-xds command (bin/polaris-xds.js, built dist/) as a child process, the way a
// user runs it, on free ports.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './components.js';
import { freePorts, waitFor } from './ports.js';

const BIN = join(repoRoot, 'bin/polaris-xds.js');

export interface BridgeProcess {
  readonly xdsPort: number;
  readonly adminPort: number;
  readonly xdsAddress: string;
  readonly adminAddress: string;
  logs(): string;
  admin(path: string): Promise<{ status: number; body: string }>;
  adminJson<T = unknown>(path: string): Promise<T>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

type BridgeOptions = { ready?: boolean; env?: NodeJS.ProcessEnv; ports?: [number, number] };

/**
 * startBridge runs `polaris-xds serve` with `args` plus free xDS/admin ports; waits until admin answers
 * (and /readyz if `ready`). A port found free can be taken by another process (an outgoing connection
 * gets ports from the same range) before the bridge binds it: then it starts again on new ports.
 */
export async function startBridge(args: string[], opts: BridgeOptions = {}): Promise<BridgeProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startBridgeOn(args, opts, opts.ports ?? ((await freePorts(2)) as [number, number]));
    } catch (err) {
      const portTaken = /address already in use \[PXDS_ERR_SERVE_LISTEN\]/.test(String(err));
      if (opts.ports || !portTaken || attempt === 3) throw err;
    }
  }
}

async function startBridgeOn(
  args: string[],
  opts: BridgeOptions,
  [xdsPort, adminPort]: [number, number],
): Promise<BridgeProcess> {
  let out = '';
  const proc: ChildProcess = spawn(
    process.execPath,
    [BIN, 'serve', '--xds-address', `127.0.0.1:${xdsPort}`, '--admin-address', `127.0.0.1:${adminPort}`, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
  );
  const collect = (b: Buffer) => {
    out += b.toString();
    if (out.length > 400_000) out = out.slice(-200_000);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const admin = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
    return { status: res.status, body: await res.text() };
  };
  const bridge: BridgeProcess = {
    xdsPort,
    adminPort,
    xdsAddress: `127.0.0.1:${xdsPort}`,
    adminAddress: `127.0.0.1:${adminPort}`,
    logs: () => out,
    admin,
    adminJson: async <T>(path: string) => JSON.parse((await admin(path)).body) as T,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (!done) {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
      return exited;
    },
  };
  try {
    // An early exit ends the wait at once (a throwing check would be retried until the deadline).
    const state = await waitFor(
      'polaris-xds admin',
      async () => {
        if (done) return 'exited';
        const r = await admin(opts.ready ? '/readyz' : '/healthz');
        return r.status === 200 && 'up';
      },
      20_000,
    );
    if (state === 'exited') throw new Error(`polaris-xds exited early:\n${out}`);
  } catch (err) {
    await bridge.stop('SIGKILL');
    throw err;
  }
  return bridge;
}

/** runCli runs one polaris-xds command to completion. */
export async function runCli(
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
