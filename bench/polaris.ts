// `npm run bench:polaris`: polaris-xds side by side with Polaris's own xDS server. Starts the real
// Polaris (v1.18.1), loads the same seeded mesh through its HTTP API, then points the same
// simulated Envoys first at Polaris's xds-v3 port and then at polaris-xds syncing from that
// Polaris. Prints a table; writes bench/results/<timestamp>-polaris.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sleep } from './lib/clock.js';
import { machineInfo } from './lib/machine.js';
import { progress } from './lib/progress.js';
import { kb, mb, ms, table } from './lib/table.js';
import { startBenchPolaris, type BenchPolaris } from './servers/polaris.js';
import type { AdsMode } from './suites/convergence.js';
import { plan, probeSotw, runPhase, type PhaseResult } from './suites/side-by-side.js';
import { generateMesh, instanceCount } from './workload/mesh.js';
import { loadPolaris } from './workload/polaris-api.js';

const USAGE = `usage: npm run bench:polaris [-- flags]

  --quick             100 services, 20 streams, 3 registrations
  --services N        services (10 instances each; default 100)
  --streams N         simulated Envoys (default 100; Polaris's own server needs minutes for 100)
  --registrations N   new instances registered one after another (default 6)
  --sync-timeout-s N  how long the streams may take to sync on either server (default 900)
  --mode auto|sotw|delta   ADS variant for both servers (auto: SotW if Polaris answers it, else Delta)
  --workers N         client worker processes (default: cores)
  --seed N            workload seed (default 7)
  --out FILE          JSON output`;

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');

function parse() {
  const { values: v } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      quick: { type: 'boolean' },
      services: { type: 'string' },
      streams: { type: 'string' },
      registrations: { type: 'string' },
      'sync-timeout-s': { type: 'string' },
      mode: { type: 'string' },
      workers: { type: 'string' },
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
  const mode = v.mode ?? 'auto';
  if (!['auto', 'sotw', 'delta'].includes(mode)) throw new Error(`--mode must be auto, sotw or delta, not ${mode}`);
  return {
    quick,
    services: Number(v.services ?? 100),
    streams: Number(v.streams ?? (quick ? 20 : 100)),
    registrations: Number(v.registrations ?? (quick ? 3 : 6)),
    syncTimeoutMs: Number(v['sync-timeout-s'] ?? 900) * 1000,
    mode: mode as AdsMode | 'auto',
    workers: Number(v.workers ?? Math.max(2, availableParallelism())),
    seed: Number(v.seed ?? 7),
    out: v.out,
  };
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (err) {
    console.error(`bench:polaris: ${(err as Error).message.split('\n')[0]}\n\n${USAGE}`);
    process.exit(2);
  }
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'pxds-bench-polaris-'));
  const mesh = generateMesh({ services: args.services, instancesPerService: 10, seed: args.seed });
  let polaris: BenchPolaris | undefined;
  const phases: PhaseResult[] = [];
  let mode: AdsMode = args.mode === 'auto' ? 'delta' : args.mode;
  let sotwProbe: { synced: number; of: number; missing: Record<string, number> } | undefined;
  try {
    progress('starting Polaris');
    polaris = await startBenchPolaris();
    progress(
      `Polaris up (pid ${polaris.pid()}, xDS ${polaris.xdsAddress}); loading ${mesh.services.length} services, ${instanceCount(mesh)} instances, ${mesh.rules.length * 2} rules`,
    );
    let last = 0;
    await loadPolaris(polaris.api, mesh, (done, total) => {
      if (done - last >= total / 5 || done === total) progress(`registered ${done}/${total} instances`);
      last = done;
    });
    // Polaris's caches refresh about once a second.
    await sleep(3000);
    if (args.mode === 'auto') {
      sotwProbe = await probeSotw(polaris, mesh, args.workers, 20_000);
      mode = sotwProbe.synced === sotwProbe.of ? 'sotw' : 'delta';
      const never = Object.entries(sotwProbe.missing)
        .map(([t, n]) => `${t.toUpperCase()} never answered on ${n}`)
        .join(', ');
      progress(
        `SotW probe on Polaris's xDS: ${sotwProbe.synced}/${sotwProbe.of} streams got CDS, EDS, LDS and RDS${never ? ` (${never})` : ''} → using ${mode} for both`,
      );
      // A fresh process, so Polaris's lazily started xDS sync does not carry over.
      await polaris.restart();
      await sleep(3000);
    }
    const first = plan(mesh, args.registrations, args.seed, 61000);
    phases.push(
      await runPhase({
        server: 'polaris',
        polaris,
        mesh,
        mode,
        streams: args.streams,
        registrations: first,
        workers: args.workers,
        workDir: work,
        seed: args.seed,
        syncTimeoutMs: args.syncTimeoutMs,
      }),
    );
    // Restart so Polaris's own xDS server (started by the first phase's watches) stops working in the background.
    await polaris.restart();
    await sleep(3000);
    const second = plan(mesh, args.registrations, args.seed, 62000);
    phases.push(
      await runPhase({
        server: 'polaris-xds',
        polaris,
        mesh,
        mode,
        streams: args.streams,
        registrations: second,
        workers: args.workers,
        workDir: work,
        seed: args.seed,
        syncTimeoutMs: args.syncTimeoutMs,
      }),
    );
  } finally {
    await polaris?.stop();
  }

  const [a, b] = phases as [PhaseResult, PhaseResult];
  const finished = new Date();
  const result = {
    schema: 'polaris-xds-bench-polaris/1',
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    args,
    machine: machineInfo(repo),
    mesh: { services: mesh.services.length, instances: instanceCount(mesh), rules: mesh.rules.length * 2 },
    mode,
    sotwProbe,
    phases,
    ratios: {
      latencyP50: b.latency.p50 / a.latency.p50,
      latencyP99: b.latency.p99 / a.latency.p99,
      bytesPerStream: b.bytesPerStream / a.bytesPerStream,
      serverCpuPerRegistration: b.serverCpuPerRegistration / a.serverCpuPerRegistration,
      serverRss: b.serverRssBytes / a.serverRssBytes,
    },
  };
  const out = args.out ?? join(here, 'results', `${started.toISOString().replace(/[:.]/g, '-')}-polaris.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  const rows = phases.map((p) => [
    p.server,
    p.mode,
    `${p.synced}/${p.streams}`,
    (p.syncWallMs / 1000).toFixed(1),
    ms(p.latency.p50),
    ms(p.latency.p99),
    ms(p.latency.max),
    p.missed,
    kb(p.bytesPerStream),
    (['cds', 'eds', 'lds', 'rds'] as const)
      .filter((k) => p.bytesPerStreamByType[k] >= 1)
      .map((k) => `${k} ${kb(p.bytesPerStreamByType[k])}`)
      .join(' ') || '-',
    p.serverCpuPerRegistration.toFixed(2),
    p.polarisCpuPerRegistration.toFixed(2),
    p.serverCpuPerMinute.toFixed(1),
    mb(p.serverRssBytes),
    mb(p.polarisRssBytes),
  ]);
  rows.push([
    'polaris-xds ÷ polaris',
    '',
    '',
    ratio(b.syncWallMs, a.syncWallMs),
    ratio(b.latency.p50, a.latency.p50),
    ratio(b.latency.p99, a.latency.p99),
    ratio(b.latency.max, a.latency.max),
    '',
    ratio(b.bytesPerStream, a.bytesPerStream),
    '',
    ratio(b.serverCpuPerRegistration, a.serverCpuPerRegistration),
    '',
    ratio(b.serverCpuPerMinute, a.serverCpuPerMinute),
    ratio(b.serverRssBytes, a.serverRssBytes),
    '',
  ]);
  const m = result.machine;
  process.stdout.write(
    `polaris-xds vs Polaris ${'v1.18.1'} xds-v3 — ${m.cores} cores, Node ${m.node}, commit ${m.gitCommit.slice(0, 12)}; ${mesh.services.length} services × 10 instances, ${args.streams} streams, ADS ${mode}${sotwProbe ? ` (SotW probe: ${sotwProbe.synced}/${sotwProbe.of} streams complete on Polaris; never answered: ${JSON.stringify(sotwProbe.missing)})` : ''}\n`,
  );
  process.stdout.write(
    `${table(
      "Register-to-received of a new instance (ms from the register call to each stream's ACK of an assignment carrying it), bytes per stream for it, CPU per registration, RSS with the streams connected",
      [
        'server',
        'mode',
        'synced',
        'sync all s',
        'p50',
        'p99',
        'max',
        'missed',
        'KB/stream',
        'per type KB',
        'server CPU s/reg',
        'Polaris CPU s/reg',
        'server CPU s/min',
        'server RSS MB',
        'Polaris RSS MB',
      ],
      rows,
    )}\n`,
  );
  for (const p of phases) if (p.error) process.stdout.write(`!! ${p.server}: ${p.error}\n`);
  process.stdout.write(`\nJSON: ${out}\n`);
  if (phases.some((p) => p.error)) progress(`logs kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
