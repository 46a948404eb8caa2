// The driver's side of the client workers: forks them, spreads streams across them, arms
// expectations, waits until every stream has what a change should bring, and gathers reports.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nowMs, sleep } from '../lib/clock.js';
import { extraNodeArgs, track } from '../lib/proc.js';
import type { ClientMode, DriverMessage, Expectation, StreamReport, StreamSpec, WorkerMessage } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

type Activity = Extract<WorkerMessage, { op: 'activity' }>;

class Worker {
  activity: Activity = { op: 'activity', responses: 0, lastRecvAt: 0, met: 0, streams: 0, errors: 0 };
  private readonly waiting = new Map<string, Array<(m: WorkerMessage) => void>>();
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.on('message', (raw) => {
      const m = raw as WorkerMessage;
      if (m.op === 'activity') this.activity = m;
      const q = this.waiting.get(m.op);
      q?.shift()?.(m);
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** next resolves with the next message of kind `op`, or rejects after `timeoutMs`. */
  next<O extends WorkerMessage['op']>(op: O, timeoutMs: number): Promise<Extract<WorkerMessage, { op: O }>> {
    return new Promise((resolve, reject) => {
      const q = this.waiting.get(op) ?? [];
      this.waiting.set(op, q);
      const timer = setTimeout(() => {
        const i = q.indexOf(done);
        if (i >= 0) q.splice(i, 1);
        reject(new Error(`client worker ${this.child.pid}: no '${op}' within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (m: WorkerMessage) => {
        clearTimeout(timer);
        resolve(m as Extract<WorkerMessage, { op: O }>);
      };
      q.push(done);
    });
  }

  send(m: DriverMessage): void {
    this.child.send(m);
  }
}

export interface OpenResult {
  readonly synced: number;
  readonly failed: number;
  readonly errors: string[];
  readonly syncMs: number[];
  readonly wallMs: number;
  /** Per type, how many streams that did not sync never received it. */
  readonly missing: Record<string, number>;
}

export interface SettleResult {
  /** Streams that met every expectation. */
  readonly met: number;
  readonly streams: number;
  readonly timedOut: boolean;
  readonly waitedMs: number;
}

/** ClientPool is a set of client worker processes acting as one population of Envoys. */
export class ClientPool {
  private constructor(private readonly workers: Worker[]) {}

  /** start forks `n` workers and waits until each has loaded its protos. */
  static async start(n: number): Promise<ClientPool> {
    const workers = Array.from({ length: n }, () => {
      const child = track(
        fork(WORKER, [], {
          execArgv: ['--import', 'tsx', '--max-old-space-size=4096', ...extraNodeArgs('BENCH_CLIENT_NODE_ARGS')],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
      return new Worker(child);
    });
    await Promise.all(workers.map((w) => w.next('ready', 30_000)));
    return new ClientPool(workers);
  }

  get pids(): number[] {
    return this.workers.map((w) => w.child.pid!);
  }

  get streams(): number {
    return this.workers.reduce((n, w) => n + w.activity.streams, 0);
  }

  /** open adds streams (dealt round-robin to workers) and waits until they synced or `timeoutMs` passed. */
  async open(
    target: string,
    mode: ClientMode,
    specs: readonly StreamSpec[],
    opts: {
      concurrency: number;
      timeoutMs: number;
      sentinel: boolean;
      nodeEveryRequest: boolean;
      rawAckNames?: number;
    },
  ): Promise<OpenResult> {
    const started = nowMs();
    const shares = this.workers.map(() => [] as StreamSpec[]);
    for (const [i, s] of specs.entries()) shares[i % shares.length]!.push(s);
    const answers = await Promise.all(
      this.workers.map(async (w, i) => {
        const reply = w.next('opened', opts.timeoutMs + 30_000);
        w.send({
          op: 'open',
          target,
          mode,
          streams: shares[i]!,
          concurrency: Math.max(1, Math.ceil(opts.concurrency / this.workers.length)),
          timeoutMs: opts.timeoutMs,
          sentinel: opts.sentinel,
          nodeEveryRequest: opts.nodeEveryRequest,
          rawAckNames: opts.rawAckNames,
        });
        return reply;
      }),
    );
    return {
      synced: answers.reduce((n, a) => n + a.synced, 0),
      failed: answers.reduce((n, a) => n + a.failed, 0),
      errors: [...new Set(answers.flatMap((a) => a.errors))],
      syncMs: answers.flatMap((a) => a.syncMs),
      wallMs: nowMs() - started,
      missing: answers.reduce<Record<string, number>>((m, a) => {
        for (const [t, n] of Object.entries(a.missing)) m[t] = (m[t] ?? 0) + (n ?? 0);
        return m;
      }, {}),
    };
  }

  /** expect arms the same expectations on every stream (met counts restart at zero). */
  async expect(expectations: readonly Expectation[]): Promise<void> {
    await Promise.all(
      this.workers.map((w) => {
        const reply = w.next('armed', 10_000);
        w.send({ op: 'expect', expectations: [...expectations] });
        return reply;
      }),
    );
  }

  /**
   * settle waits until every stream (or `expected` many) met its expectations and nothing arrived for `quietMs`, or
   * nothing arrived for `giveUpMs` since `since` (some streams never got it), or `timeoutMs` passed.
   */
  async settle(
    since: number,
    opts: { quietMs: number; giveUpMs: number; timeoutMs: number; expected?: number },
  ): Promise<SettleResult> {
    const started = nowMs();
    const deadline = started + opts.timeoutMs;
    for (;;) {
      const now = nowMs();
      // Streams that must meet their expectations (default all; a fan-out to some of them names how many).
      const total = opts.expected ?? this.streams;
      const met = this.workers.reduce((n, w) => n + w.activity.met, 0);
      const last = Math.max(since, ...this.workers.map((w) => w.activity.lastRecvAt));
      const quietFor = now - last;
      if (met >= total && quietFor >= opts.quietMs)
        return { met, streams: total, timedOut: false, waitedMs: now - started };
      if (quietFor >= opts.giveUpMs || now >= deadline)
        return { met, streams: total, timedOut: true, waitedMs: now - started };
      await sleep(10);
    }
  }

  /** report gathers every stream's report (and resets their counters). */
  async report(): Promise<{ streams: StreamReport[]; decodeErrors: string[] }> {
    const answers = await Promise.all(
      this.workers.map((w) => {
        const reply = w.next('report', 60_000);
        w.send({ op: 'report' });
        return reply;
      }),
    );
    return { streams: answers.flatMap((a) => a.streams), decodeErrors: answers.flatMap((a) => a.decodeErrors) };
  }

  /** close ends every stream and worker. */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.child.exitCode !== null) return;
        try {
          w.send({ op: 'close' });
          await Promise.race([w.exited, sleep(5000)]);
        } catch {
          // already gone
        }
        if (w.child.exitCode === null) w.child.kill('SIGKILL');
      }),
    );
  }
}
