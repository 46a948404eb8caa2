// The scale suite for one mesh and one ADS variant: one bridge, client streams added level by
// level (e.g. 100 → 1,000 → 5,000), and at each level the four changes, each timed from the moment
// the mesh state entered the bridge's snapshot cache (probe), from the source change, and (fake
// Polaris) from Polaris's answer, to the ACK with which each stream had everything the change
// brings. Memory is read after a full GC in the bridge at every level.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ClientPool, type OpenResult } from '../clients/pool.js';
import type { ByType, StreamReport } from '../clients/protocol.js';
import { sidecarSpecs, uuidOf } from '../clients/specs.js';
import { nowMs, sleep } from '../lib/clock.js';
import { cpuSeconds } from '../lib/proc.js';
import { progress } from '../lib/progress.js';
import { summarize, type Summary } from '../lib/stats.js';
import { Bridge } from '../servers/bridge.js';
import { ChangeMaker, onDemandExpectations, type Change, type ChangeKind } from '../workload/changes.js';
import { fakePolarisFeed, fileFeed, type Feed, type FeedKind } from '../workload/feed.js';
import { generateMesh, instanceCount, type BenchMesh } from '../workload/mesh.js';

/** `on-demand`: Delta sidecars with openOnDemand that call a few services each (clients/specs.ts). */
export type AdsMode = 'sotw' | 'delta' | 'on-demand';

export interface ConvergenceOptions {
  readonly services: number;
  readonly instancesPerService: number;
  readonly seed: number;
  readonly mode: AdsMode;
  readonly feed: FeedKind;
  readonly levels: readonly number[];
  /** Streams front at most this many distinct services (node groups); 0 = one per service. */
  readonly fronted: number;
  readonly rounds: number;
  readonly changes: readonly ChangeKind[];
  readonly workers: number;
  readonly debounceMs?: number;
  readonly pollIntervalMs?: number;
  readonly connectConcurrency: number;
  readonly workDir: string;
  readonly cpuProfDir?: string;
  readonly changeTimeoutMs: number;
}

export interface ChangeResult {
  readonly kind: ChangeKind;
  readonly round: number;
  readonly detail: string;
  readonly streams: number;
  /** Streams the change concerns (all of them, except on-demand streams that do not call the changed service). */
  readonly concerned: number;
  /** Streams that did not get everything the change brings before the bench gave up. */
  readonly missed: number;
  /** The first few streams that did not converge: what they met, and the bridge's /debug/syncz rows for them. */
  readonly missedStreams: ReadonlyArray<{
    readonly index: number;
    readonly met: readonly boolean[];
    readonly error?: string;
    readonly syncz: unknown[];
  }>;
  /** ms from the state entering the snapshot cache (null: the probe did not fire). */
  readonly fromCache: Summary | null;
  /** ms from the end of the debounce (the rebuild's start): the push itself. */
  readonly push: Summary | null;
  /** ms from the source change (file renamed / fake Polaris updated). */
  readonly fromSource: Summary;
  /** ms from the fake Polaris's first answer carrying the change. */
  readonly fromAnswer: Summary | null;
  /** ms from the cache to the last response of any kind (extra pushes included). */
  readonly lastAckFromCache: Summary | null;
  readonly cacheDelayMs: number | null;
  readonly rebuildMs: number | null;
  readonly groups: number | null;
  /** Mean response bytes per stream, per type, and the mean total. */
  readonly bytesPerStream: ByType & { total: number };
  readonly responsesPerStream: ByType;
  readonly bridgeCpuSeconds: number;
  /** CPU the client workers used meanwhile, and the wall time it all took: clients near workers × wall were a bottleneck. */
  readonly clientCpuSeconds: number;
  readonly wallSeconds: number;
  readonly settleTimedOut: boolean;
}

export interface LevelResult {
  readonly streams: number;
  readonly open: { synced: number; failed: number; errors: string[]; wallMs: number; syncMs: Summary };
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** Memory outside the JS heap held by JS objects (Buffers and the like), after GC. */
  readonly externalBytes: number;
  /** (RSS − idle RSS) / streams, in KB; the same for heap. */
  readonly rssKBPerStream: number;
  readonly heapKBPerStream: number;
  /** The bridge's own /metrics after the level's changes (histogram buckets left out). */
  readonly metrics: Record<string, number>;
  readonly changes: ChangeResult[];
}

export interface ConvergenceResult {
  readonly services: number;
  readonly instances: number;
  readonly rules: number;
  readonly mode: AdsMode;
  readonly feed: FeedKind;
  readonly fronted: number;
  readonly debounceMs: number | null;
  readonly probes: readonly string[];
  readonly idle: { rssBytes: number; heapUsedBytes: number; externalBytes: number };
  readonly levels: LevelResult[];
  readonly decodeErrors: string[];
  readonly error?: string;
}

function meanByType(rows: readonly StreamReport[], pick: (r: StreamReport) => ByType): ByType & { total: number } {
  const out = { cds: 0, eds: 0, lds: 0, rds: 0, vhds: 0, other: 0, total: 0 };
  if (rows.length === 0) return out;
  for (const r of rows) {
    const b = pick(r);
    for (const k of ['cds', 'eds', 'lds', 'rds', 'vhds', 'other'] as const) out[k] += b[k] / rows.length;
  }
  out.total = out.cds + out.eds + out.lds + out.rds + out.vhds + out.other;
  return out;
}

/** convergedAt is when a stream had everything: the ACK that met its last expectation. */
function convergedAt(r: StreamReport): number | null {
  if (r.metAt.length === 0 || r.metAt.some((m) => m === null)) return null;
  return Math.max(...(r.metAt as number[]));
}

async function memory(bridge: Bridge): Promise<{ rssBytes: number; heapUsedBytes: number; externalBytes: number }> {
  const m = await bridge.memory(true);
  await sleep(200);
  return { rssBytes: bridge.rss(), heapUsedBytes: m.heapUsed, externalBytes: m.external };
}

/** missedDetail explains streams that did not converge, so a miss can be told from a slow client. */
async function missedDetail(
  bridge: Bridge,
  change: Change,
  rows: readonly StreamReport[],
): Promise<ChangeResult['missedStreams']> {
  if (rows.length === 0) return [];
  let syncz: unknown[] = [];
  try {
    const body = (await (await fetch(`${bridge.adminUrl}/debug/syncz`)).json()) as unknown;
    syncz = Array.isArray(body) ? body : Object.values(body as Record<string, unknown>).flat();
  } catch {
    // The explanation is best effort; the miss itself is counted either way.
  }
  return rows.map((r) => {
    const uuid = uuidOf(r.index);
    const mine = syncz.filter((row) => JSON.stringify(row).includes(uuid));
    if (mine.length === 0) progress(`missed stream ${r.index} (${change.kind}): no /debug/syncz row`);
    else
      progress(
        `missed stream ${r.index} (${change.kind}): met ${JSON.stringify(r.metAt.map((m) => m !== null))}; syncz ${JSON.stringify(mine).slice(0, 2000)}`,
      );
    return { index: r.index, met: r.metAt.map((m) => m !== null), ...(r.error ? { error: r.error } : {}), syncz: mine };
  });
}

/** How long a change may take to reach the snapshot cache and be rebuilt after the streams settled. */
const APPLIED_TIMEOUT_MS = 30_000;

async function runChange(
  bridge: Bridge,
  pool: ClientPool,
  feed: Feed,
  change: Change,
  round: number,
  opts: ConvergenceOptions,
): Promise<ChangeResult> {
  await pool.expect(change.expect);
  const cpu0 = bridge.cpuSeconds();
  const clientCpu = () => pool.pids.reduce((n, pid) => n + cpuSeconds(pid), 0);
  const client0 = clientCpu();
  const tSource = feed.apply(change);
  const settled = await pool.settle(tSource, {
    quietMs: 300,
    giveUpMs: opts.changeTimeoutMs,
    timeoutMs: opts.changeTimeoutMs * 2,
  });
  // A change no stream expects (a new service to on-demand sidecars) settles at once: wait until the bridge has
  // applied it, so its parse and rebuild do not fall into the next change's figures.
  const cache = await bridge.probeAfter('setMesh', tSource - 1, APPLIED_TIMEOUT_MS);
  const rebuild = cache ? await bridge.probeAfter('rebuild', cache.at, APPLIED_TIMEOUT_MS) : undefined;
  const tAnswer = feed.answeredAt();
  const wallSeconds = (nowMs() - tSource) / 1000;
  const cpu = bridge.cpuSeconds() - cpu0;
  const clientCpuSeconds = clientCpu() - client0;
  const report = await pool.report();
  // On-demand streams that do not call the changed service expect nothing: they are not waited for.
  const concerned = report.streams.filter((r) => r.metAt.length > 0);
  const done = concerned.map(convergedAt);
  const ok = done.filter((d): d is number => d !== null);
  const from = (t: number | undefined) => (t === undefined ? null : summarize(ok.map((d) => d - t)));
  const lastAcks = report.streams.flatMap((r) => (r.lastAckAt === null ? [] : [r.lastAckAt]));
  return {
    kind: change.kind,
    round,
    detail: change.detail,
    streams: report.streams.length,
    concerned: concerned.length,
    missed: done.length - ok.length,
    missedStreams: await missedDetail(bridge, change, concerned.filter((_, i) => done[i] === null).slice(0, 3)),
    fromCache: from(cache?.at),
    push: from(rebuild?.at),
    fromSource: summarize(ok.map((d) => d - tSource)),
    fromAnswer: from(tAnswer),
    lastAckFromCache: cache ? summarize(lastAcks.map((d) => d - cache.at)) : null,
    cacheDelayMs: cache ? cache.at - tSource : null,
    rebuildMs: rebuild?.ms ?? null,
    groups: rebuild?.groups ?? null,
    bytesPerStream: meanByType(report.streams, (r) => r.bytes),
    responsesPerStream: meanByType(report.streams, (r) => r.responses),
    bridgeCpuSeconds: cpu,
    clientCpuSeconds,
    wallSeconds,
    settleTimedOut: settled.timedOut,
  };
}

function changeLine(c: ChangeResult): string {
  const f = (s: Summary | null) =>
    s ? `p50 ${s.p50.toFixed(0)} p99 ${s.p99.toFixed(0)} max ${s.max.toFixed(0)} ms` : 'n/a';
  return `${c.kind} (${c.detail}): from cache ${f(c.fromCache)}; rebuild ${c.rebuildMs?.toFixed(0) ?? '?'} ms × ${c.groups ?? '?'} groups; ${(c.bytesPerStream.total / 1024).toFixed(1)} KB/stream; CPU bridge ${c.bridgeCpuSeconds.toFixed(1)} s, clients ${c.clientCpuSeconds.toFixed(1)} s in ${c.wallSeconds.toFixed(1)} s; ${c.concerned < c.streams ? `${c.concerned} of ${c.streams} streams concerned; ` : ''}missed ${c.missed}`;
}

/** runConvergence runs the suite for one mesh and one variant; it always stops what it started. */
export async function runConvergence(opts: ConvergenceOptions): Promise<ConvergenceResult> {
  let mesh: BenchMesh = generateMesh({
    services: opts.services,
    instancesPerService: opts.instancesPerService,
    seed: opts.seed,
  });
  const base = {
    services: opts.services,
    instances: instanceCount(mesh),
    rules: mesh.rules.length * 2,
    mode: opts.mode,
    feed: opts.feed,
    fronted: opts.fronted > 0 ? Math.min(opts.fronted, opts.services) : opts.services,
    debounceMs: opts.debounceMs ?? null,
  };
  const label = `${opts.services} services, ${opts.mode}, ${opts.feed}, ${base.fronted} groups`;
  mkdirSync(opts.workDir, { recursive: true });
  const feed = opts.feed === 'file' ? fileFeed(mesh) : await fakePolarisFeed(mesh);
  let bridge: Bridge | undefined;
  let pool: ClientPool | undefined;
  const levels: LevelResult[] = [];
  const decodeErrors: string[] = [];
  let idle = { rssBytes: 0, heapUsedBytes: 0, externalBytes: 0 };
  try {
    progress(`[${label}] starting the bridge`);
    bridge = await Bridge.start({
      ...feed.bridge,
      debounceMs: opts.debounceMs,
      pollIntervalMs: opts.pollIntervalMs,
      logFile: join(opts.workDir, `bridge-${opts.services}-${opts.mode}-${opts.feed}.log`),
      cpuProfDir: opts.cpuProfDir,
    });
    await bridge.waitReady(300_000);
    await sleep(1000);
    idle = await memory(bridge);
    progress(`[${label}] bridge ready (pid ${bridge.pid}), idle RSS ${(idle.rssBytes / 2 ** 20).toFixed(0)} MB`);
    pool = await ClientPool.start(opts.workers);
    const fronted = mesh.services.slice(0, base.fronted).map((s) => s.name);
    const maker = new ChangeMaker(opts.seed);
    // On demand: one service with a rule is the one changed; a tenth of the sidecars call it.
    const hot = opts.mode === 'on-demand' ? (mesh.rules[0]?.service ?? mesh.services[0]!.name) : undefined;
    const onDemand = hot === undefined ? undefined : { all: mesh.services.map((s) => s.name), hot };
    const make = (kind: ChangeKind, m: BenchMesh): Change => {
      const c = maker.make(kind, m, hot);
      return onDemand ? { ...c, expect: onDemandExpectations(c, m.namespace) } : c;
    };
    let opened = 0;
    for (const level of opts.levels) {
      const specs = sidecarSpecs(mesh.namespace, fronted, opened, level, onDemand);
      progress(`[${label}] opening streams ${opened}…${level}`);
      const open: OpenResult = await pool.open(bridge.xdsAddress, opts.mode, specs, {
        concurrency: opts.connectConcurrency,
        timeoutMs: 600_000,
        sentinel: opened === 0,
        // As the bootstrap polaris-xds writes for Envoy (set_node_on_first_message_only).
        nodeEveryRequest: false,
      });
      opened = level;
      progress(
        `[${label}] ${open.synced}/${specs.length} streams synced in ${(open.wallMs / 1000).toFixed(1)} s${open.failed ? `; ${open.failed} failed: ${open.errors.join('; ')}` : ''}`,
      );
      await pool.report();
      await sleep(500);
      const mem = await memory(bridge);
      // One unrecorded round of the same changes warms each kind's code paths at this level (the raw
      // fan-out, too, is timed after warm-up rounds).
      for (const kind of opts.changes) {
        const warm = make(kind, mesh);
        await runChange(bridge, pool, feed, warm, -1, opts);
        mesh = warm.after;
      }
      const changes: ChangeResult[] = [];
      // The changes alone, so the profile says what a push costs (the whole-process one is mostly the opening).
      if (opts.cpuProfDir) await bridge.profile();
      for (let round = 0; round < opts.rounds; round++) {
        for (const kind of opts.changes) {
          const change = make(kind, mesh);
          const r = await runChange(bridge, pool, feed, change, round, opts);
          mesh = change.after;
          changes.push(r);
          progress(`[${label}] ${level} streams: ${changeLine(r)}`);
        }
      }
      if (opts.cpuProfDir) await bridge.profile(join(opts.cpuProfDir, `changes-${level}.cpuprofile`));
      const rep = await pool.report();
      decodeErrors.push(...rep.decodeErrors);
      const metrics = Object.fromEntries(
        [...(await bridge.metrics())].filter(([k]) => k.startsWith('polaris_xds_') && !k.includes('_bucket{')),
      );
      levels.push({
        streams: level,
        open: {
          synced: open.synced,
          failed: open.failed,
          errors: open.errors,
          wallMs: open.wallMs,
          syncMs: summarize(open.syncMs),
        },
        rssBytes: mem.rssBytes,
        heapUsedBytes: mem.heapUsedBytes,
        externalBytes: mem.externalBytes,
        rssKBPerStream: (mem.rssBytes - idle.rssBytes) / 1024 / level,
        heapKBPerStream: (mem.heapUsedBytes - idle.heapUsedBytes) / 1024 / level,
        metrics,
        changes,
      });
    }
    return { ...base, probes: bridge.probed, idle, levels, decodeErrors: [...new Set(decodeErrors)] };
  } catch (err) {
    progress(`[${label}] failed: ${(err as Error).stack ?? String(err)}`);
    return { ...base, probes: bridge?.probed ?? [], idle, levels, decodeErrors, error: (err as Error).message };
  } finally {
    await pool?.close();
    await bridge?.stop();
    await feed.close();
  }
}
