// `npm run bench`: the translator micro-bench, the raw fan-out limit, the convergence suite and the
// latency rate-limit rules add through a real Envoy, then a table on stdout and the JSON in bench/results/<timestamp>.json. Progress goes to stderr.
// Every child process is killed on exit (lib/proc.ts).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, USAGE, type BenchArgs } from './lib/args.js';
import { hotSpots } from './lib/cpuprofile.js';
import { machineInfo } from './lib/machine.js';
import { extraNodeArgs } from './lib/proc.js';
import { progress } from './lib/progress.js';
import { checkTargets, render, type ProfileSummary, type RunResult } from './report.js';
import { runConvergence, type AdsMode, type ConvergenceResult } from './suites/convergence.js';
import { runOnDemand, type OnDemandResult } from './suites/on-demand.js';
import { ON_DEMAND_CONCERNED_EVERY } from './clients/specs.js';
import { runRateLimit, type RateLimitResult } from './suites/ratelimit.js';
import { runRaw, type RawResult } from './suites/raw.js';
import { runTranslate, type TranslateResult } from './suites/translate.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');

async function main(args: BenchArgs): Promise<void> {
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'pxds-bench-'));
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const profileDir = args.profile ? join(here, 'results', `profiles-${stamp}`) : undefined;
  progress(`workdir ${work}${args.quick ? ' (quick)' : ''}`);

  const translate: TranslateResult[] = [];
  if (args.suites.includes('translate')) {
    for (const services of args.translateMeshes) {
      translate.push(
        runTranslate(
          { services, instancesPerService: args.instancesPerService, seed: args.seed },
          {
            runs: args.translateRuns,
            changes: args.translateChanges,
            groups: args.translateGroups,
            parseFile: services <= args.parseFileMax,
          },
        ),
      );
    }
  }

  const raw: RawResult[] = [];
  if (args.suites.includes('raw')) {
    const common = { workers: args.workers, warmup: 3, connectConcurrency: args.connectConcurrency };
    // On-demand sidecars speak Delta: their raw limit is Delta's.
    const rawModes = [...new Set(args.modes.map((m) => (m === 'on-demand' ? 'delta' : m)))];
    for (const mode of rawModes)
      raw.push(await runRaw(mode, args.streams, { ...common, rounds: args.rawRounds, messageBytes: 300 }));
    if (args.rawAckNames > 0 && args.modes.includes('sotw'))
      raw.push(
        await runRaw('sotw', args.streams, {
          ...common,
          rounds: args.rawRounds,
          messageBytes: 300,
          ackNames: args.rawAckNames,
        }),
      );
    // The same bytes as a one-instance change: to every stream, and to the tenth of the on-demand streams it concerns.
    if (args.rawChangeBytes > 0) {
      for (const mode of rawModes)
        raw.push(
          await runRaw(mode, args.streams, { ...common, rounds: args.rawRounds, messageBytes: args.rawChangeBytes }),
        );
      if (args.modes.includes('on-demand'))
        raw.push(
          await runRaw('delta', args.streams, {
            ...common,
            rounds: args.rawRounds,
            messageBytes: args.rawChangeBytes,
            every: ON_DEMAND_CONCERNED_EVERY,
          }),
        );
    }
    if (args.rawBigBytes > 0) {
      const top = [Math.max(...args.streams)];
      for (const mode of rawModes)
        raw.push(await runRaw(mode, top, { ...common, rounds: 3, messageBytes: args.rawBigBytes }));
    }
  }

  const convergence: ConvergenceResult[] = [];
  const profiles: ProfileSummary[] = [];
  const scenarios: Array<{
    services: number;
    mode: AdsMode;
    feed: 'file' | 'fake-polaris';
    levels: readonly number[];
    fronted: number;
  }> = [];
  if (args.suites.includes('convergence')) {
    for (const services of args.meshes)
      for (const mode of args.modes)
        for (const fronted of args.fronted)
          scenarios.push({ services, mode, feed: args.feed, levels: args.streams, fronted });
    if (args.fakeMesh > 0 && args.feed !== 'fake-polaris')
      scenarios.push({
        services: args.fakeMesh,
        mode: 'delta',
        feed: 'fake-polaris',
        levels: args.fakeStreams,
        fronted: args.fronted[0]!,
      });
  }
  for (const s of scenarios) {
    const dir = profileDir ? join(profileDir, `${s.services}-${s.mode}-${s.feed}-fronted${s.fronted}`) : undefined;
    if (dir) mkdirSync(dir, { recursive: true });
    const result = await runConvergence({
      services: s.services,
      instancesPerService: args.instancesPerService,
      seed: args.seed,
      mode: s.mode,
      feed: s.feed,
      levels: s.levels,
      fronted: s.fronted,
      rounds: args.rounds,
      changes: args.changes,
      workers: args.workers,
      debounceMs: args.debounceMs,
      connectConcurrency: args.connectConcurrency,
      workDir: work,
      cpuProfDir: dir,
      // A rebuild for 1,000 node groups can block the bridge for most of a minute.
      changeTimeoutMs: 180_000,
    });
    convergence.push(result);
    if (dir) {
      // Whole-process profiles are named CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile (thread 0 is the main
      // thread, the others the module loader's worker); changes-<streams>.cpuprofile cover a level's changes alone.
      const whole = (x: string) => x.startsWith('CPU.') && x.split('.')[4] === '0';
      for (const f of readdirSync(dir).filter(
        (x) => x.endsWith('.cpuprofile') && (whole(x) || !x.startsWith('CPU.')),
      )) {
        const h = hotSpots(join(dir, f), repo, 15);
        const what = whole(f) ? 'whole run' : `changes at ${f.replace(/^changes-|\.cpuprofile$/g, '')} streams`;
        profiles.push({
          file: join(dir, f),
          scenario: `${s.services} services, ${s.mode}, ${s.feed}, fronted ${s.fronted || 'all'}: ${what}`,
          busyMs: h.busyMs,
          gcMs: h.gcMs,
          top: h.top,
        });
      }
    }
  }

  const ratelimit: RateLimitResult[] = [];
  if (args.suites.includes('ratelimit')) ratelimit.push(await runRateLimit(args.ratelimitRequests));
  const onDemand: OnDemandResult[] = [];
  if (args.suites.includes('on-demand')) onDemand.push(await runOnDemand(args.onDemandServices, args.onDemandCalled));

  const finished = new Date();
  const partial = {
    schema: 'polaris-xds-bench/1' as const,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    args,
    machine: machineInfo(repo),
    translate,
    raw,
    convergence,
    ratelimit,
    onDemand,
    profiles,
  };
  const result: RunResult = { ...partial, targets: checkTargets(partial) };
  const out = args.out ?? join(here, 'results', `${stamp}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(render(result));
  process.stdout.write(`\nJSON: ${out}\n`);
  // Bridge logs stay when something failed, or when the bridge ran with extra flags (their output is in the logs).
  for (const r of ratelimit) if (r.error) progress(`ratelimit suite failed: ${r.error}`);
  for (const r of onDemand) if (r.error) progress(`on-demand suite failed: ${r.error}`);
  if (
    convergence.some((c) => c.error) ||
    raw.some((x) => x.error) ||
    extraNodeArgs('BENCH_BRIDGE_NODE_ARGS').length > 0
  )
    progress(`logs kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

let args: BenchArgs;
try {
  args = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  console.error(`bench: ${(err as Error).message.split('\n')[0]}\n\n${USAGE}`);
  process.exit(2);
}

main(args).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
