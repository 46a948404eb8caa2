// Starts and observes the bench's bridge process: ports, probe events, memory (after a GC on
// request), CPU time from /proc, and the admin /metrics.
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nowMs, sleep } from '../lib/clock.js';
import { imageMallocEnv } from '../lib/image-env.js';
import { cpuSeconds, extraNodeArgs, rssBytes, stopChild, track } from '../lib/proc.js';
import { scrape } from '../lib/prom.js';
import type {
  BridgeChildMessage,
  BridgeMainOptions,
  BridgeParentMessage,
  MemoryMessage,
  ProbeEvent,
} from './bridge-protocol.js';

const MAIN = fileURLToPath(new URL('./bridge-main.ts', import.meta.url));

export interface BridgeOptions extends BridgeMainOptions {
  /** Write a V8 CPU profile into this folder when the bridge stops. */
  readonly cpuProfDir?: string;
  /** Where the bridge's log goes. */
  readonly logFile: string;
}

/** Bridge is a running bench bridge. */
export class Bridge {
  readonly probes: ProbeEvent[] = [];
  private memoryWaiters: Array<(m: MemoryMessage) => void> = [];
  private profileWaiters: Array<(error: string | undefined) => void> = [];

  private constructor(
    readonly child: ChildProcess,
    readonly xdsAddress: string,
    readonly adminUrl: string,
    readonly probed: readonly string[],
  ) {
    child.on('message', (raw) => {
      const m = raw as BridgeChildMessage;
      if (m.op === 'probe') {
        this.probes.push(m);
        if (this.probes.length > 10_000) this.probes.splice(0, 5_000);
      } else if (m.op === 'memory') {
        for (const w of this.memoryWaiters.splice(0)) w(m);
      } else if (m.op === 'profiled') {
        for (const w of this.profileWaiters.splice(0)) w(m.error);
      }
    });
  }

  /** start forks the bridge and waits until its xDS and admin ports are bound. */
  static async start(opts: BridgeOptions, timeoutMs = 120_000): Promise<Bridge> {
    const execArgv = [
      '--import',
      'tsx',
      '--expose-gc',
      '--max-old-space-size=8192',
      ...extraNodeArgs('BENCH_BRIDGE_NODE_ARGS'),
    ];
    if (opts.cpuProfDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
    const log = openSync(opts.logFile, 'a');
    const { cpuProfDir: _dir, logFile: _log, ...main } = opts;
    const child = track(
      fork(MAIN, [JSON.stringify(main)], {
        execArgv,
        env: { ...process.env, ...imageMallocEnv() },
        stdio: ['ignore', log, log, 'ipc'],
      }),
    );
    closeSync(log);
    const ready = await new Promise<Extract<BridgeChildMessage, { op: 'ready' }>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`bridge did not start within ${timeoutMs} ms; see ${opts.logFile}`)),
        timeoutMs,
      );
      child.on('message', (m: BridgeChildMessage) => {
        if (m.op !== 'ready') return;
        clearTimeout(timer);
        resolve(m);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`bridge exited with ${code} while starting; see ${opts.logFile}`));
      });
    });
    return new Bridge(child, `127.0.0.1:${ready.xdsPort}`, `http://127.0.0.1:${ready.adminPort}`, ready.probed);
  }

  get pid(): number {
    return this.child.pid!;
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  rss(): number {
    return rssBytes(this.pid);
  }

  /** memory asks the bridge for process.memoryUsage(), after a full GC when `gc`. */
  memory(gc: boolean): Promise<MemoryMessage> {
    return this.ask(this.memoryWaiters, { op: 'memory', gc }, 30_000);
  }

  /** profile starts a CPU profile in the bridge, or (with `file`) stops it and has it written there. */
  async profile(file?: string): Promise<void> {
    const error = await this.ask(
      this.profileWaiters,
      { op: 'profile', ...(file === undefined ? {} : { file }) },
      60_000,
    );
    if (error) throw new Error(`bridge profile: ${error}`);
  }

  /** ask sends `message` and waits for the answer the message handler hands to `waiters`. */
  private ask<T>(waiters: Array<(answer: T) => void>, message: BridgeParentMessage, timeoutMs: number): Promise<T> {
    const answer = new Promise<T>((resolve) => waiters.push(resolve));
    this.child.send(message);
    const fail = () => Promise.reject(new Error(`bridge ${message.op}: no answer`));
    return Promise.race([answer, sleep(timeoutMs).then(fail)]);
  }

  metrics(): Promise<Map<string, number>> {
    return scrape(`${this.adminUrl}/metrics`);
  }

  /** probeAfter waits for the first probe of `kind` at or after `t` (undefined after `timeoutMs`). */
  async probeAfter(kind: ProbeEvent['kind'], t: number, timeoutMs: number): Promise<ProbeEvent | undefined> {
    const deadline = nowMs() + timeoutMs;
    for (;;) {
      const p = this.probes.find((e) => e.kind === kind && e.at >= t);
      if (p || nowMs() > deadline) return p;
      await sleep(5);
    }
  }

  /** ready polls /readyz until the bridge has its first mesh. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = nowMs() + timeoutMs;
    while (nowMs() < deadline) {
      try {
        const res = await fetch(`${this.adminUrl}/readyz`, { signal: AbortSignal.timeout(5000) });
        if (res.status === 200) return;
      } catch {
        // not yet
      }
      await sleep(100);
    }
    throw new Error(`bridge not ready within ${timeoutMs} ms`);
  }

  /** stop asks for a clean exit (so a CPU profile is written), then kills. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.child.send({ op: 'stop' });
    } catch {
      // IPC already closed
    }
    await Promise.race([exited, sleep(15_000)]);
    await stopChild(this.child, 5000);
  }
}
