// The raw limit, measured in the same run: a plain grpc-js server writes one pre-encoded 300-byte
// response (or one the size of a change's, or a large one for the cost of big pushes) to N streams of the same
// client design, or to every k-th of them (a change that concerns a tenth of the sidecars); convergence is from just before the first
// write to each stream's ACK (SotW clients may ACK with a names list as long as a mesh's EDS list:
// the floor of the protocol's ACK traffic). Several rounds after a warm-up; the medians of the rounds' p50, p99
// and max are kept. Also the server's memory per idle stream.
import { ClientPool } from '../clients/pool.js';
import { sidecarSpecs } from '../clients/specs.js';
import { nowMs, sleep } from '../lib/clock.js';
import { progress } from '../lib/progress.js';
import { median, summarize, type Summary } from '../lib/stats.js';
import { RawServer } from '../servers/raw.js';
import type { AdsMode } from './convergence.js';

export interface RawLevel {
  readonly streams: number;
  readonly connected: number;
  /** Medians over rounds of each round's p50 / p99 / max (ms). */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly rounds: Summary[];
  readonly writeMs: number;
  readonly missed: number;
  readonly rssKBPerStream: number;
  readonly heapKBPerStream: number;
  readonly serverCpuMsPerFanout: number;
}

export interface RawResult {
  readonly mode: AdsMode;
  readonly messageBytes: number;
  /** Names in each SotW ACK (0: none, the issue's limit). */
  readonly ackNames: number;
  /** The message went to every `every`-th open stream (1: all); `streams` of a level counts the open ones. */
  readonly every: number;
  readonly levels: RawLevel[];
  readonly error?: string;
}

/** runRaw measures the raw fan-out at each level for one variant. */
/** RawMode is the wire variant of a raw fan-out (on-demand sidecars speak Delta). */
export type RawMode = Exclude<AdsMode, 'on-demand'>;

export async function runRaw(
  mode: RawMode,
  levels: readonly number[],
  opts: {
    workers: number;
    rounds: number;
    warmup: number;
    connectConcurrency: number;
    messageBytes: number;
    ackNames?: number;
    every?: number;
  },
): Promise<RawResult> {
  const every = Math.max(1, opts.every ?? 1);
  const raw = await RawServer.start(opts.messageBytes);
  const ackNames = mode === 'sotw' ? (opts.ackNames ?? 0) : 0;
  let pool: ClientPool | undefined;
  const out: RawLevel[] = [];
  try {
    await sleep(300);
    const idle = await raw.memory(true);
    const idleRss = raw.rss();
    pool = await ClientPool.start(opts.workers);
    let opened = 0;
    for (const level of levels) {
      await pool.open(
        raw.address,
        mode === 'sotw' ? 'raw-sotw' : 'raw-delta',
        sidecarSpecs('bench', ['raw'], opened, level),
        {
          concurrency: opts.connectConcurrency,
          timeoutMs: 300_000,
          sentinel: false,
          nodeEveryRequest: false,
          rawAckNames: ackNames,
        },
      );
      opened = level;
      const deadline = nowMs() + 60_000;
      let connected = await raw.streams();
      while (connected < level && nowMs() < deadline) {
        await sleep(100);
        connected = await raw.streams();
      }
      const mem = await raw.memory(true);
      await sleep(200);
      const rss = raw.rss();
      const rounds: Summary[] = [];
      let writeMs = 0;
      let missed = 0;
      const cpu0 = raw.cpuSeconds();
      for (let r = 0; r < opts.warmup + opts.rounds; r++) {
        await pool.expect([{ type: 'eds' }]);
        const f = await raw.fanout(every);
        // A large message to thousands of streams keeps the client workers busy for seconds between
        // activity reports: give up only after a long silence then.
        const big = opts.messageBytes > 10_000;
        await pool.settle(f.t0, {
          quietMs: 100,
          giveUpMs: big ? 30_000 : 5000,
          timeoutMs: big ? 120_000 : 30_000,
          expected: f.streams,
        });
        const rep = await pool.report();
        if (r < opts.warmup) continue;
        const acks = rep.streams.flatMap((s) => (s.metAt[0] == null ? [] : [s.metAt[0] - f.t0]));
        missed = Math.max(missed, f.streams - acks.length);
        rounds.push(summarize(acks));
        writeMs += f.writeMs / opts.rounds;
      }
      const cpuMs = ((raw.cpuSeconds() - cpu0) * 1000) / (opts.warmup + opts.rounds);
      const lvl: RawLevel = {
        streams: level,
        connected,
        p50: median(rounds.map((s) => s.p50)),
        p99: median(rounds.map((s) => s.p99)),
        max: median(rounds.map((s) => s.max)),
        rounds,
        writeMs,
        missed,
        rssKBPerStream: (rss - idleRss) / 1024 / level,
        heapKBPerStream: (mem.heapUsed - idle.heapUsed) / 1024 / level,
        serverCpuMsPerFanout: cpuMs,
      };
      out.push(lvl);
      progress(
        `[raw ${mode} ${raw.messageBytes[mode]} B${ackNames ? `, ACKs naming ${ackNames}` : ''}${every > 1 ? `, to every ${every}th` : ''}] ${level} streams: p50 ${lvl.p50.toFixed(0)} p99 ${lvl.p99.toFixed(0)} max ${lvl.max.toFixed(0)} ms; ${lvl.rssKBPerStream.toFixed(1)} KB RSS/stream`,
      );
    }
    return { mode, messageBytes: raw.messageBytes[mode], ackNames, every, levels: out };
  } catch (err) {
    progress(`[raw ${mode}] failed: ${(err as Error).stack ?? String(err)}`);
    return { mode, messageBytes: 0, ackNames, every, levels: out, error: (err as Error).message };
  } finally {
    await pool?.close();
    await raw.stop();
  }
}
