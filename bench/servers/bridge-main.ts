// The bridge as the bench runs it: the real composition (src/app.ts startApp) in its own process,
// on ephemeral loopback ports, with two probes that report over IPC when a mesh state enters the
// snapshot cache and how long each rebuild took, and CPU profiles of a stretch the driver chooses
// (the changes, without the opening of the streams). Started by servers/bridge.ts; exits when the
// driver goes away.
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { loadConfig, type Overrides } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { SnapshotCache } from '../../src/xds/snapshot-cache.js';
import { nowMs } from '../lib/clock.js';
import type { BridgeChildMessage, BridgeMainOptions, BridgeParentMessage } from './bridge-protocol.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as BridgeMainOptions;

function send(m: BridgeChildMessage): void {
  process.send?.(m);
}

// Probes: wrap two SnapshotCache methods. If their names change the bench still runs, timing
// convergence from the source change instead, and says so.
type Patchable = Record<string, unknown> & { groups?: Map<string, unknown> };
const proto = SnapshotCache.prototype as unknown as Patchable;
const probed: string[] = [];
for (const name of ['setMesh', 'rebuild']) {
  const original = proto[name];
  if (typeof original !== 'function') continue;
  probed.push(name);
  proto[name] = function (this: Patchable, ...args: unknown[]) {
    const at = nowMs();
    try {
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } finally {
      send({ op: 'probe', kind: name as 'setMesh' | 'rebuild', at, ms: nowMs() - at, groups: this.groups?.size ?? -1 });
    }
  };
}

const overrides: Overrides = [
  { path: ['xds', 'address'], value: '127.0.0.1:0' },
  { path: ['admin', 'address'], value: '127.0.0.1:0' },
  { path: ['log', 'level'], value: opts.logLevel ?? 'warn' },
  ...(opts.file ? [{ path: ['file'], value: opts.file }] : []),
  ...(opts.polaris ? [{ path: ['polaris', 'addresses'], value: [opts.polaris] }] : []),
  ...(opts.debounceMs !== undefined ? [{ path: ['xds', 'debounceMs'], value: opts.debounceMs }] : []),
  ...(opts.pollIntervalMs !== undefined ? [{ path: ['polaris', 'pollIntervalMs'], value: opts.pollIntervalMs }] : []),
];
const cfg = loadConfig({ env: {}, overrides });
const logger = createLogger(cfg.log);
const { startApp } = await import('../../src/app.js');
const app = await startApp(cfg, logger);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await app.stop().catch(() => undefined);
  // A normal exit lets --cpu-prof write its profile.
  process.exit(0);
}

let profiler: Session | undefined;

/** profile starts a CPU profile (no file) or stops the running one and writes it to `file`. */
async function profile(file: string | undefined): Promise<void> {
  if (file === undefined) {
    profiler ??= new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    return;
  }
  if (!profiler) throw new Error('no profile was started');
  const { profile: taken } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  await writeFile(file, JSON.stringify(taken));
}

process.on('message', (raw) => {
  const m = raw as BridgeParentMessage;
  if (m.op === 'profile') {
    profile(m.file).then(
      () => send({ op: 'profiled' }),
      (err: unknown) => send({ op: 'profiled', error: String(err) }),
    );
  } else if (m.op === 'memory') {
    if (m.gc) (globalThis as { gc?: () => void }).gc?.();
    send({ op: 'memory', ...process.memoryUsage() });
  } else if (m.op === 'stop') {
    void stop();
  }
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
send({ op: 'ready', xdsPort: app.xdsPort, adminPort: app.adminPort, probed });
