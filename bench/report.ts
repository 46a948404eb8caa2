// Turns a run's results into the stdout tables and the checks against the issue's targets.
import type { HotSpot } from './lib/cpuprofile.js';
import type { MachineInfo } from './lib/machine.js';
import { median, type Summary } from './lib/stats.js';
import { kb, mb, ms, table } from './lib/table.js';
import type { ChangeResult, ConvergenceResult } from './suites/convergence.js';
import type { OnDemandResult } from './suites/on-demand.js';
import type { RateLimitResult } from './suites/ratelimit.js';
import type { RawResult } from './suites/raw.js';
import type { TranslateResult } from './suites/translate.js';
import type { ChangeKind } from './workload/changes.js';

export interface ProfileSummary {
  readonly file: string;
  readonly scenario: string;
  readonly busyMs: number;
  readonly gcMs: number;
  readonly top: HotSpot[];
}

export interface RunResult {
  readonly schema: 'polaris-xds-bench/1';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly args: unknown;
  readonly machine: MachineInfo;
  readonly translate: TranslateResult[];
  readonly raw: RawResult[];
  readonly convergence: ConvergenceResult[];
  /** Latency a LOCAL and a GLOBAL rate-limit rule add through a real Envoy (absent in results written before it existed). */
  readonly ratelimit?: RateLimitResult[];
  /** First-request latency and bytes of an on-demand sidecar against a full-state one (absent in older results). */
  readonly onDemand?: OnDemandResult[];
  readonly profiles: ProfileSummary[];
  readonly targets: TargetCheck[];
}

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** `info`: a figure for context, not one of the issue's targets. */
  readonly verdict: 'pass' | 'FAIL' | 'not measured' | 'info';
}

/** KindSummary folds the rounds of one change kind at one level: median p50, worst and median p99, worst max. */
export interface KindSummary {
  readonly kind: ChangeKind;
  readonly rounds: number;
  readonly cache: Folded | null;
  readonly push: Folded | null;
  readonly source: Folded;
  readonly answer: Folded | null;
  readonly bytes: ChangeResult['bytesPerStream'];
  readonly cpuSeconds: number;
  readonly clientCpuSeconds: number;
  readonly wallSeconds: number;
  readonly rebuildMs: number | null;
  readonly groups: number | null;
  /** Streams the change concerned (fewest over the rounds): all, except on-demand streams that do not call the changed service. */
  readonly concerned: number;
  readonly missed: number;
}

/** Folded is one figure over rounds: `p99` the worst round's, `p99Median` the median round's (as the raw limit's). */
interface Folded {
  readonly p50: number;
  readonly p99: number;
  readonly p99Median: number;
  readonly max: number;
}

function fold(list: ReadonlyArray<Summary | null>): Folded | null {
  const s = list.filter((x): x is Summary => x !== null && x.n > 0);
  if (s.length === 0) return null;
  return {
    p50: median(s.map((x) => x.p50)),
    p99: Math.max(...s.map((x) => x.p99)),
    p99Median: median(s.map((x) => x.p99)),
    max: Math.max(...s.map((x) => x.max)),
  };
}

/** byKind groups a level's changes by kind. */
export function byKind(changes: readonly ChangeResult[]): KindSummary[] {
  const kinds = [...new Set(changes.map((c) => c.kind))];
  return kinds.map((kind) => {
    const cs = changes.filter((c) => c.kind === kind);
    const avg = (f: (c: ChangeResult) => number) => cs.reduce((n, c) => n + f(c), 0) / cs.length;
    const bytes = { ...cs[0]!.bytesPerStream };
    for (const k of Object.keys(bytes) as Array<keyof typeof bytes>) bytes[k] = avg((c) => c.bytesPerStream[k]);
    const rebuilds = cs.flatMap((c) => (c.rebuildMs === null ? [] : [c.rebuildMs]));
    return {
      kind,
      rounds: cs.length,
      cache: fold(cs.map((c) => c.fromCache)),
      push: fold(cs.map((c) => c.push)),
      source: fold(cs.map((c) => c.fromSource)) ?? { p50: NaN, p99: NaN, p99Median: NaN, max: NaN },
      answer: fold(cs.map((c) => c.fromAnswer)),
      bytes,
      cpuSeconds: avg((c) => c.bridgeCpuSeconds),
      clientCpuSeconds: avg((c) => c.clientCpuSeconds),
      wallSeconds: avg((c) => c.wallSeconds),
      rebuildMs: rebuilds.length ? median(rebuilds) : null,
      groups: cs.find((c) => c.groups !== null)?.groups ?? null,
      concerned: Math.min(...cs.map((c) => c.concerned ?? c.streams)),
      missed: Math.max(...cs.map((c) => c.missed)),
    };
  });
}

/** SMALL is the largest message size still counted as the issue's 300-byte raw limit (Delta framing adds a little). */
const SMALL = 512;
/** Raw messages above this are the big-push figure (a route configuration), not a change's size. */
const CHANGE_SIZED = 10_000;

/** RawRef is the raw fan-out a change is compared with. */
interface RawRef {
  /** The median round's p99. */
  readonly p99: number;
  /** The worst round's p99. */
  readonly p99Worst: number;
  readonly bytes: number;
  /** Streams written to. */
  readonly written: number;
}

/**
 * rawFor is the raw fan-out of the same bytes to as many streams as a change reaches: the change-sized message when
 * the run measured it (on demand: to every tenth of `streams`, the streams such a change concerns), else the 300-byte
 * one (on demand: to `concerned` streams, when the run opened that many).
 */
function rawFor(raw: readonly RawResult[], mode: string, streams: number, concerned = streams): RawRef | undefined {
  const onDemand = mode === 'on-demand';
  const wire = onDemand ? 'delta' : mode;
  const pick = (ok: (r: RawResult) => boolean, at: number): RawRef | undefined => {
    for (const r of raw) {
      if (r.mode !== wire || r.ackNames || !ok(r)) continue;
      const l = r.levels.find((x) => x.streams === at);
      if (l)
        return {
          p99: l.p99,
          p99Worst: Math.max(l.p99, ...l.rounds.map((x) => x.p99)),
          bytes: r.messageBytes,
          written: Math.ceil(at / (r.every ?? 1)),
        };
    }
    return undefined;
  };
  const sized = (r: RawResult) => r.messageBytes > SMALL && r.messageBytes < CHANGE_SIZED;
  return (
    (onDemand
      ? pick((r) => sized(r) && (r.every ?? 1) > 1, streams)
      : pick((r) => sized(r) && (r.every ?? 1) === 1, streams)) ??
    pick((r) => r.messageBytes <= SMALL && (r.every ?? 1) === 1, onDemand ? concerned : streams)
  );
}

/**
 * againstRaw puts a change's p99 beside the raw fan-out's, the same statistic on both sides: the median round's (the
 * verdict) and the worst round's (how far one bad round went).
 */
function againstRaw(medianP99: number, worstP99: number, ref: RawRef): string {
  return (
    `median round ${ms(medianP99)} ms = ${ratio(medianP99, ref.p99)} of raw ${ms(ref.p99)} ms; ` +
    `worst round ${ms(worstP99)} ms = ${ratio(worstP99, ref.p99Worst)} of raw ${ms(ref.p99Worst)} ms ` +
    `(${ref.bytes} B to ${ref.written} streams)`
  );
}

function rawP99(raw: readonly RawResult[], mode: string, streams: number, concerned = streams): number | undefined {
  return rawFor(raw, mode, streams, concerned)?.p99;
}

function ratio(a: number | undefined | null, b: number | undefined): string {
  return a === undefined || a === null || b === undefined || !Number.isFinite(a) || !b
    ? 'n/a'
    : `${(a / b).toFixed(1)}x`;
}

function types(b: ChangeResult['bytesPerStream']): string {
  return (['cds', 'eds', 'lds', 'rds', 'vhds'] as const)
    .filter((k) => b[k] >= 1)
    .map((k) => `${k} ${kb(b[k])}`)
    .join(' ');
}

/** render prints every table of a run. */
export function render(r: RunResult): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `polaris-xds bench — ${m.cores} cores (${m.cpuModel}), ${m.memoryMB} MB, Node ${m.node}, commit ${m.gitCommit.slice(0, 12)}${m.gitDirty ? ' (dirty)' : ''}; ${r.durationSeconds.toFixed(0)} s`,
  );
  if (r.translate.length) {
    out.push(
      table(
        'Translate + encode (in process, one sidecar view)',
        [
          'services',
          'instances',
          'whole mesh ms',
          '1 service ms',
          '1 service max',
          'groups',
          '1 change × groups ms',
          'file parse ms',
          'snapshot KB (cds/eds/rds)',
        ],
        r.translate.map((t) => [
          t.services,
          t.instances,
          ms(t.wholeMeshMs),
          ms(t.oneServiceMs),
          ms(t.oneServiceMaxMs),
          t.groups,
          ms(t.oneServiceAllGroupsMs),
          t.fileParseMs === null ? 'skipped' : ms(t.fileParseMs),
          `${kb(t.snapshotBytes.Cluster)}/${kb(t.snapshotBytes.ClusterLoadAssignment)}/${kb(t.snapshotBytes.RouteConfiguration)}`,
        ]),
      ),
    );
  }
  if (r.raw.length) {
    out.push(
      table(
        "Raw limit: plain grpc-js server, one pre-encoded message to every stream, or to every k-th (medians of rounds, ms to the ACK); the 300-byte rows without ACK names are the issue's limit, the change-sized rows the same bytes as a one-instance change, those with names the floor of SotW's EDS ACK traffic",
        [
          'mode',
          'bytes',
          'to',
          'ACK names',
          'streams',
          'p50',
          'p99',
          'max',
          'write loop ms',
          'server CPU ms',
          'KB RSS/stream',
          'missed',
        ],
        r.raw.flatMap((x) =>
          x.levels.map((l) => [
            x.mode,
            x.messageBytes,
            (x.every ?? 1) > 1 ? `${Math.ceil(l.streams / x.every)} (every ${x.every}th)` : 'all',
            x.ackNames ?? 0,
            l.streams,
            ms(l.p50),
            ms(l.p99),
            ms(l.max),
            ms(l.writeMs),
            ms(l.serverCpuMsPerFanout),
            l.rssKBPerStream.toFixed(1),
            l.missed,
          ]),
        ),
      ),
    );
  }
  const rows: Array<Array<string | number>> = [];
  const mem: Array<Array<string | number>> = [];
  for (const c of r.convergence) {
    for (const l of c.levels) {
      const nacks = Object.entries(l.metrics)
        .filter(([k]) => k.startsWith('polaris_xds_nacks_total'))
        .reduce((n, [, v]) => n + v, 0);
      mem.push([
        c.services,
        c.mode,
        c.feed,
        l.streams,
        l.metrics.polaris_xds_node_groups ?? '?',
        nacks,
        `${l.open.synced}/${l.streams - (c.levels[c.levels.indexOf(l) - 1]?.streams ?? 0)}`,
        ms(l.open.syncMs.p50),
        ms(l.open.syncMs.p99),
        (l.open.wallMs / 1000).toFixed(1),
        mb(c.idle.rssBytes),
        mb(l.rssBytes),
        mb(l.heapUsedBytes),
        mb(l.externalBytes),
        l.rssKBPerStream.toFixed(1),
        l.heapKBPerStream.toFixed(1),
      ]);
      for (const k of byKind(l.changes)) {
        // On demand, a change is pushed to the streams that hold what it touches: compared with the
        // raw fan-out to that many streams (measured when --streams lists it).
        const raw = rawP99(r.raw, c.mode, l.streams, Math.min(k.concerned, l.streams));
        rows.push([
          c.services,
          c.mode,
          c.feed,
          l.streams,
          k.concerned,
          k.groups ?? '?',
          k.kind,
          ms(k.cache?.p50),
          ms(k.cache?.p99),
          ms(k.cache?.p99Median),
          ms(k.cache?.max),
          ms(k.push?.p99),
          ratio(k.cache?.p99Median, raw),
          ms(k.source.p99),
          k.answer ? ms(k.answer.p99) : '-',
          ms(k.rebuildMs),
          kb(k.bytes.total),
          types(k.bytes),
          k.cpuSeconds.toFixed(2),
          k.clientCpuSeconds.toFixed(2),
          k.wallSeconds.toFixed(1),
          k.missed,
        ]);
      }
    }
    if (c.error) out.push(`\n!! ${c.services} services ${c.mode} ${c.feed}: ${c.error}`);
    if (c.decodeErrors.length)
      out.push(
        `\n!! ${c.services} services ${c.mode}: sentinel decode errors: ${c.decodeErrors.slice(0, 3).join('; ')}`,
      );
  }
  if (rows.length) {
    out.push(
      table(
        'Convergence (ms to the ACK that completed each stream; p50 = median of rounds, p99/max = worst round, p99 med = median round, as the raw limit is folded). cache: from the state entering the snapshot cache (debounce included); push: from the rebuild start; src: from the file rename / fake Polaris update; answer: from the fake Polaris answer. Clients CPU near workers × wall means the clients limited the figure',
        [
          'mesh',
          'mode',
          'feed',
          'streams',
          'concerned',
          'groups',
          'change',
          'cache p50',
          'cache p99',
          'cache p99 med',
          'cache max',
          'push p99',
          'cache÷raw p99 med',
          'src p99',
          'answer p99',
          'rebuild ms',
          'KB/stream',
          'per type KB',
          'bridge CPU s',
          'clients CPU s',
          'wall s',
          'missed',
        ],
        rows,
      ),
    );
    out.push(
      table(
        'Bridge memory after a full GC, and initial sync of the streams added at each level',
        [
          'mesh',
          'mode',
          'feed',
          'streams',
          'groups',
          'NACKs',
          'synced',
          'sync p50 ms',
          'sync p99 ms',
          'sync wall s',
          'idle RSS MB',
          'RSS MB',
          'heap MB',
          'external MB',
          'KB RSS/stream',
          'KB heap/stream',
        ],
        mem,
      ),
    );
  }
  for (const x of r.ratelimit ?? []) {
    if (x.error) {
      out.push(`\n!! rate-limit latency: ${x.error}`);
      continue;
    }
    const paths = [
      ['upstream directly (no Envoy)', 'direct'],
      ['Envoy, no rule (the limit)', 'noRule'],
      ['Envoy, LOCAL rule', 'local'],
      ['Envoy, GLOBAL rule (limiter call)', 'global'],
    ] as const;
    const added = (p: string) => (p === 'local' ? x.addedP99Ms.local : p === 'global' ? x.addedP99Ms.global : NaN);
    const times = (p: string) =>
      p === 'local' ? x.p99Ratio.local : p === 'global' ? x.p99Ratio.global : p === 'noRule' ? 1 : NaN;
    out.push(
      table(
        `Rate limits: one request at a time through one real Envoy sidecar, ${x.requestsPerPath} per path, interleaved (ms); added and ratio against Envoy without a rule in the same run`,
        ['path', 'n', 'p50', 'p99', 'max', 'added p99', 'p99 ÷ no rule'],
        paths.map(([label, p]) => [
          label,
          x.latencyMs[p].n,
          x.latencyMs[p].p50.toFixed(3),
          x.latencyMs[p].p99.toFixed(3),
          x.latencyMs[p].max.toFixed(3),
          Number.isFinite(added(p)) ? added(p).toFixed(3) : '-',
          Number.isFinite(times(p)) ? `${times(p).toFixed(2)}x` : '-',
        ]),
      ),
    );
  }
  for (const x of r.onDemand ?? []) {
    if (x.error) {
      out.push(`\n!! on-demand first request: ${x.error}`);
      continue;
    }
    const rows = [
      ['on-demand, first (held until fetched)', x.latencyMs.onDemandFirst],
      ['full-state, first (the limit)', x.latencyMs.fullStateFirst],
      ['on-demand, second', x.latencyMs.onDemandSecond],
      ['added by on demand (paired per service)', x.latencyMs.added],
    ] as const;
    out.push(
      table(
        `On-demand sidecar: first request to ${x.called} never-called services of ${x.services}, through real Envoys (ms)`,
        ['request', 'n', 'p50', 'p99', 'max'],
        rows.map(([label, s]) => [label, s.n, s.p50.toFixed(2), s.p99.toFixed(2), s.max.toFixed(2)]),
      ),
    );
    out.push(
      table(
        'On-demand sidecar: bytes each stream was sent, by services called',
        ['services called', 'on-demand KB', 'virtual hosts', 'clusters', 'full-state KB'],
        x.bytes.map((b) => [
          b.servicesCalled,
          (b.onDemandBytes / 1024).toFixed(1),
          b.virtualHosts ?? '-',
          b.clusters ?? '-',
          (b.fullStateBytes / 1024).toFixed(1),
        ]),
      ),
    );
  }
  for (const p of r.profiles) {
    out.push(
      table(
        `Bridge CPU profile (${p.scenario}): busy ${(p.busyMs / 1000).toFixed(1)} s, GC ${(p.gcMs / 1000).toFixed(1)} s — ${p.file}`,
        ['self %', 'total %', 'function', 'where'],
        p.top.map((h) => [h.selfPct.toFixed(1), h.totalPct.toFixed(1), h.fn, h.where]),
      ),
    );
  }
  out.push(
    table(
      'Targets (issue: 2-core machine, clients in another process)',
      ['target', 'measured', 'verdict'],
      r.targets.map((t) => [t.target, t.measured, t.verdict]),
    ),
  );
  return `${out.join('\n')}\n`;
}

function oneInstance(c: ConvergenceResult, streams: number): KindSummary[] {
  const l = c.levels.find((x) => x.streams === streams);
  return l ? byKind(l.changes).filter((k) => k.kind === 'health-flip' || k.kind === 'instance-add') : [];
}

/** checkTargets compares a run with the targets of the issue. */
export function checkTargets(r: Omit<RunResult, 'targets'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const file = r.convergence.filter((c) => !c.error);
  for (const [streams, limit] of [
    [1000, 100],
    [5000, 300],
  ] as const) {
    for (const c of file.filter((x) => x.levels.some((l) => l.streams === streams))) {
      const ks = oneInstance(c, streams);
      if (ks.length === 0) continue;
      const cache = Math.max(...ks.map((k) => k.cache?.p99 ?? NaN));
      const cacheMedian = Math.max(...ks.map((k) => k.cache?.p99Median ?? NaN));
      const push = Math.max(...ks.map((k) => k.push?.p99 ?? NaN));
      const ref = rawFor(r.raw, c.mode, streams, Math.min(...ks.map((k) => k.concerned)));
      const raw = ref?.p99;
      const where = `${c.services} svc, ${c.mode}, ${c.feed}, ${ks[0]!.groups ?? '?'} groups`;
      out.push({
        target: `one-instance change to ${streams} streams: p99 ≤ ${limit} ms (${where})`,
        measured: `cache ${ms(cache)} ms, push ${ms(push)} ms`,
        verdict: cache <= limit ? 'pass' : 'FAIL',
      });
      out.push({
        target: `… and ≤ 2× the raw fan-out, median round against median round (${where})`,
        measured: ref ? againstRaw(cacheMedian, cache, ref) : 'no raw figure',
        verdict: raw ? (cacheMedian <= 2 * raw ? 'pass' : 'FAIL') : 'not measured',
      });
      const floor =
        c.mode === 'sotw'
          ? r.raw.find((x) => x.mode === 'sotw' && x.ackNames > 0 && x.levels.some((l) => l.streams === streams))
          : undefined;
      const floorP99 = floor?.levels.find((l) => l.streams === streams)?.p99;
      if (floor && floorP99)
        out.push({
          target: `… against a raw fan-out whose ACKs name ${floor.ackNames} clusters, as SotW EDS ACKs do (${where})`,
          measured: `cache ${ratio(cache, floorP99)} of its p99 ${ms(floorP99)} ms`,
          verdict: 'info',
        });
    }
  }
  // Per-group cost: the same change with one node group per service against 100 groups, same run.
  for (const streams of [1000, 5000]) {
    for (const many of file.filter((c) => c.fronted >= 1000)) {
      const few = file.find(
        (c) => c.fronted === 100 && c.mode === many.mode && c.services === many.services && c.feed === many.feed,
      );
      const a = oneInstance(many, streams);
      const b = few ? oneInstance(few, streams) : [];
      if (a.length === 0 || b.length === 0) continue;
      const p99 = (ks: KindSummary[]) => Math.max(...ks.map((k) => k.cache?.p99 ?? NaN));
      out.push({
        target: `one-instance change to ${streams} streams, ${many.fronted} groups ≤ 1.5× 100 groups (${many.services} svc, ${many.mode})`,
        measured: `${ms(p99(a))} ms vs ${ms(p99(b))} ms (${ratio(p99(a), p99(b))})`,
        verdict: p99(a) <= 1.5 * p99(b) ? 'pass' : 'FAIL',
      });
    }
  }
  // On demand: a change pushed to the streams that hold what it touches, against the raw fan-out to that many.
  for (const c of file.filter((x) => x.mode === 'on-demand')) {
    for (const l of c.levels) {
      for (const k of byKind(l.changes)) {
        if (k.concerned === 0 || !k.cache) continue;
        const ref = rawFor(r.raw, c.mode, l.streams, k.concerned);
        out.push({
          target: `on-demand ${k.kind} to the ${k.concerned} of ${l.streams} streams it concerns ≤ 2× the raw fan-out of the same bytes to them, median round against median round (${c.services} svc)`,
          measured: ref ? againstRaw(k.cache.p99Median, k.cache.p99, ref) : 'no raw figure',
          verdict: ref ? (k.cache.p99Median <= 2 * ref.p99 ? 'pass' : 'FAIL') : 'not measured',
        });
      }
    }
  }
  if (!out.some((t) => t.target.includes('1000 streams')))
    out.push({ target: 'one-instance change to 1000 streams: p99 ≤ 100 ms', measured: '-', verdict: 'not measured' });
  if (!out.some((t) => t.target.includes('5000 streams')))
    out.push({ target: 'one-instance change to 5000 streams: p99 ≤ 300 ms', measured: '-', verdict: 'not measured' });
  for (const x of r.ratelimit ?? []) {
    if (x.error) continue;
    for (const kind of ['local', 'global'] as const) {
      out.push({
        target: `Envoy's added p99 latency with a ${kind.toUpperCase()} rate-limit rule, against no rule`,
        measured: `${x.addedP99Ms[kind].toFixed(3)} ms (${x.p99Ratio[kind].toFixed(2)}× of ${x.latencyMs.noRule.p99.toFixed(3)} ms)`,
        verdict: 'info',
      });
    }
  }
  for (const x of r.onDemand ?? []) {
    if (x.error) continue;
    out.push({
      target: "an on-demand sidecar's first request to a service, against a full-state sidecar's",
      measured:
        `p50 ${x.latencyMs.onDemandFirst.p50.toFixed(2)} / p99 ${x.latencyMs.onDemandFirst.p99.toFixed(2)} ms ` +
        `(${x.firstP99Ratio.toFixed(2)}× of ${x.latencyMs.fullStateFirst.p99.toFixed(2)} ms)`,
      verdict: 'info',
    });
  }
  const t10k = r.translate.find((t) => t.services >= 10000);
  out.push(
    t10k
      ? {
          target: 'whole-mesh translate + encode, 10,000 services / 100,000 instances ≤ 2 s',
          measured: `${ms(t10k.wholeMeshMs)} ms`,
          verdict: t10k.wholeMeshMs <= 2000 ? 'pass' : 'FAIL',
        }
      : { target: 'whole-mesh translate + encode 10k ≤ 2 s', measured: '-', verdict: 'not measured' },
  );
  for (const t of r.translate)
    out.push({
      target: `one-service change ≤ 5 ms (${t.services} services, one view)`,
      measured: `${ms(t.oneServiceMs)} ms (max ${ms(t.oneServiceMaxMs)}; × ${t.groups} groups ${ms(t.oneServiceAllGroupsMs)} ms)`,
      verdict: t.oneServiceMs <= 5 ? 'pass' : 'FAIL',
    });
  const mem = file.flatMap((c) =>
    c.services === 1000 ? c.levels.filter((l) => l.streams === 5000).map((l) => ({ c, l })) : [],
  );
  if (mem.length === 0)
    out.push({
      target: '5,000 streams, 1,000 services: RSS ≤ 1 GB and ≤ 100 KB/stream above idle',
      measured: '-',
      verdict: 'not measured',
    });
  for (const { c, l } of mem) {
    out.push({
      target: `5,000 streams, 1,000 services (${c.mode}): RSS ≤ 1 GB, ≤ 100 KB/stream above idle`,
      measured: `${mb(l.rssBytes)} MB, ${l.rssKBPerStream.toFixed(1)} KB/stream`,
      verdict: l.rssBytes <= 2 ** 30 && l.rssKBPerStream <= 100 ? 'pass' : 'FAIL',
    });
  }
  for (const c of file) {
    const t = r.translate.find((x) => x.services === c.services);
    const claMean = t ? t.snapshotBytes.ClusterLoadAssignment! / t.snapshotResources.ClusterLoadAssignment! : undefined;
    for (const l of c.levels) {
      const k = byKind(l.changes).find((x) => x.kind === 'health-flip');
      if (!k) continue;
      const eds = k.bytes.eds;
      const edsSet = t?.snapshotBytes.ClusterLoadAssignment;
      out.push({
        target: `one-instance change ≈ one ClusterLoadAssignment per stream (${c.services} svc, ${c.mode}, ${l.streams} streams)`,
        measured: `${kb(k.bytes.total)} KB/stream (eds ${kb(eds)} KB${claMean ? ` ≈ ${(eds / claMean).toFixed(1)} mean CLAs` : ''}${edsSet ? ` of a ${kb(edsSet)} KB EDS set` : ''})`,
        verdict: edsSet === undefined ? 'not measured' : k.bytes.total <= 0.05 * edsSet ? 'pass' : 'FAIL',
      });
    }
  }
  return out;
}
