// Command-line options of `npm run bench`, and the two profiles (full and --quick).
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { AdsMode } from '../suites/convergence.js';
import type { FeedKind } from '../workload/feed.js';
import { CHANGE_KINDS, type ChangeKind } from '../workload/changes.js';

export type Suite = 'translate' | 'raw' | 'convergence' | 'ratelimit' | 'on-demand';
// A one-instance change's Delta response in the bench's workload: one ClusterLoadAssignment of 10 instances (1.66 KB).
const RAW_CHANGE_BYTES = 1700;

const SUITES: readonly Suite[] = ['translate', 'raw', 'convergence', 'ratelimit', 'on-demand'];

export interface BenchArgs {
  readonly quick: boolean;
  readonly suites: readonly Suite[];
  readonly seed: number;
  readonly instancesPerService: number;
  readonly translateMeshes: readonly number[];
  /** Micro-bench: cold runs, warm one-service changes, node groups per change. */
  readonly translateRuns: number;
  readonly translateChanges: number;
  readonly translateGroups: number;
  /** Also time the file source's parse of meshes up to this many services. */
  readonly parseFileMax: number;
  readonly meshes: readonly number[];
  readonly streams: readonly number[];
  readonly modes: readonly AdsMode[];
  readonly feed: FeedKind;
  /** Extra scenario: this mesh size through the fake Polaris (0 = none). */
  readonly fakeMesh: number;
  readonly fakeStreams: readonly number[];
  /** Each value is its own convergence scenario (so 0 and 100 compare in one run). */
  readonly fronted: readonly number[];
  readonly rounds: number;
  /** The changes of each round, in order. */
  readonly changes: readonly ChangeKind[];
  readonly rawRounds: number;
  /** Also fan out a message this large (about one outbound route configuration) at the largest stream count; 0 = no. */
  readonly rawBigBytes: number;
  /** Also measure the SotW raw fan-out with ACKs naming this many clusters (0 = no). */
  readonly rawAckNames: number;
  /**
   * Also fan out a message this large, the size of a one-instance change's response (0 = no): to every stream, and
   * for on-demand to every tenth (the streams such a change concerns).
   */
  readonly rawChangeBytes: number;
  readonly workers: number;
  readonly connectConcurrency: number;
  readonly debounceMs?: number;
  readonly profile: boolean;
  /** Rate-limit suite: requests timed per path (no rule, LOCAL, GLOBAL, direct). */
  readonly ratelimitRequests: number;
  /** On-demand suite: services in the mesh, and never-called services whose first request is timed. */
  readonly onDemandServices: number;
  readonly onDemandCalled: number;
  readonly out?: string;
}

export const USAGE = `usage: npm run bench [-- flags]

  --quick                    the quick profile (under 5 minutes on 2 cores)
  --suites LIST              translate,raw,convergence,ratelimit,on-demand (default: all)
  --meshes LIST              services per mesh for the convergence suite (10 instances each)
  --translate-meshes LIST    services per mesh for the translator micro-bench
  --streams LIST             stream counts, opened in turn on one bridge (e.g. 100,1000,5000)
  --modes LIST               sotw,delta,on-demand (on-demand: Delta sidecars with openOnDemand that call
                             three services each, a tenth of them the one the changes touch)
  --feed file|fake-polaris   where the bridge reads the mesh (default file)
  --fake-mesh N              also run an N-service mesh through the fake Polaris (0: no)
  --fronted LIST             streams front at most N distinct services (node groups); 0 = all; a list (0,100)
                             runs each as its own scenario, so the figures compare within one run
  --rounds N                 rounds of the four changes per stream count
  --changes LIST             which changes each round makes (default: health-flip,instance-add,service-add,rule-change)
  --workers N                client worker processes (default: cores)
  --raw-big-bytes N          also measure the raw fan-out of an N-byte message (default 340000; 0: no)
  --raw-ack-names N          also measure the SotW raw fan-out with ACKs naming N clusters, as Envoy's EDS ACKs
                             do (default: the largest convergence mesh; 0: no)
  --raw-change-bytes N       also measure the raw fan-out of an N-byte message, the size of a one-instance change's
                             response (default 1700; 0: no): to every stream, and for on-demand to every tenth
  --debounce-ms N            override the bridge's xds.debounceMs (default: the bridge's own)
  --profile                  CPU-profile the bridge (node --cpu-prof) and print its hot spots
  --ratelimit-requests N     requests per path of the rate-limit suite (default 3000; quick 1000)
  --on-demand-services N     services in the on-demand suite's mesh (default 1000; quick 200)
  --on-demand-called N       never-called services whose first request it times (default 100; quick 30)
  --seed N                   workload seed (default 7)
  --out FILE                 JSON output (default bench/results/<timestamp>.json)`;

const list = (s: string | undefined, fallback: readonly number[]): number[] =>
  s
    ? s
        .split(',')
        .map((x) => Number(x.trim()))
        .filter((n) => Number.isFinite(n) && n >= 0)
    : [...fallback];

/** parseBenchArgs reads argv; unknown flags throw with the usage text. */
export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      suites: { type: 'string' },
      meshes: { type: 'string' },
      'translate-meshes': { type: 'string' },
      streams: { type: 'string' },
      modes: { type: 'string' },
      feed: { type: 'string' },
      'fake-mesh': { type: 'string' },
      fronted: { type: 'string' },
      rounds: { type: 'string' },
      changes: { type: 'string' },
      workers: { type: 'string' },
      'raw-big-bytes': { type: 'string' },
      'raw-ack-names': { type: 'string' },
      'raw-change-bytes': { type: 'string' },
      'debounce-ms': { type: 'string' },
      profile: { type: 'boolean' },
      'ratelimit-requests': { type: 'string' },
      'on-demand-services': { type: 'string' },
      'on-demand-called': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = !!v.quick;
  const suites = (v.suites ? v.suites.split(',') : [...SUITES]) as Suite[];
  for (const s of suites) if (!SUITES.includes(s)) throw new Error(`unknown suite ${s}`);
  const modes = (v.modes ? v.modes.split(',') : ['sotw', 'delta']) as AdsMode[];
  for (const m of modes) if (m !== 'sotw' && m !== 'delta' && m !== 'on-demand') throw new Error(`unknown mode ${m}`);
  const changes = (v.changes ? v.changes.split(',') : [...CHANGE_KINDS]) as ChangeKind[];
  for (const c of changes)
    if (!CHANGE_KINDS.includes(c)) throw new Error(`unknown change ${c} (one of ${CHANGE_KINDS.join(', ')})`);
  const feed = (v.feed ?? 'file') as FeedKind;
  const meshes = list(v.meshes, quick ? [1000] : [100, 1000]);
  if (feed !== 'file' && feed !== 'fake-polaris') throw new Error(`unknown feed ${feed}`);
  const num = (s: string | undefined, fallback: number) => (s === undefined ? fallback : Number(s));
  return {
    quick,
    suites,
    seed: num(v.seed, 7),
    instancesPerService: 10,
    translateMeshes: list(v['translate-meshes'], [100, 1000, 10000]),
    translateRuns: quick ? 2 : 3,
    translateChanges: quick ? 5 : 20,
    translateGroups: quick ? 10 : 100,
    parseFileMax: quick ? 1000 : 10000,
    meshes,
    streams: list(v.streams, quick ? [1000] : [100, 1000, 5000]),
    modes,
    feed,
    fakeMesh: num(v['fake-mesh'], quick ? 1000 : 10000),
    fakeStreams: [100],
    fronted: list(v.fronted, [quick ? 100 : 0]),
    rounds: num(v.rounds, quick ? 1 : 2),
    changes,
    rawRounds: quick ? 5 : 9,
    rawBigBytes: num(v['raw-big-bytes'], 340_000),
    rawAckNames: num(v['raw-ack-names'], Math.max(0, ...meshes)),
    rawChangeBytes: num(v['raw-change-bytes'], RAW_CHANGE_BYTES),
    workers: num(v.workers, Math.max(2, availableParallelism())),
    connectConcurrency: 200,
    debounceMs: v['debounce-ms'] === undefined ? undefined : Number(v['debounce-ms']),
    profile: !!v.profile,
    ratelimitRequests: num(v['ratelimit-requests'], quick ? 1000 : 3000),
    onDemandServices: num(v['on-demand-services'], quick ? 200 : 1000),
    onDemandCalled: num(v['on-demand-called'], quick ? 30 : 100),
    out: v.out,
  };
}
