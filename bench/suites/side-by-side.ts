// Side by side against the real Polaris: the same simulated Envoys first on Polaris's own xds-v3
// server, then on polaris-xds syncing from that same Polaris. For both: how long from the
// register call of a new instance until each stream received (and ACKed) an assignment carrying
// it, the bytes each stream received for it, and the servers' CPU and RSS.
import { join } from 'node:path';
import { ClientPool } from '../clients/pool.js';
import type { ByType } from '../clients/protocol.js';
import { sidecarSpecs } from '../clients/specs.js';
import { nowMs, sleep } from '../lib/clock.js';
import { cpuSeconds, rssBytes } from '../lib/proc.js';
import { progress } from '../lib/progress.js';
import { summarize, type Summary } from '../lib/stats.js';
import { Bridge } from '../servers/bridge.js';
import type { BenchPolaris } from '../servers/polaris.js';
import { clusterName } from '../workload/changes.js';
import { hostOf, makeInstance, type BenchMesh } from '../workload/mesh.js';
import { apiInstance } from '../workload/polaris-api.js';
import { Rng } from '../workload/rng.js';
import type { AdsMode } from './convergence.js';

export interface Registration {
  readonly service: string;
  readonly host: string;
  /** Wait before registering, so registrations fall at random points of Polaris's 5 s push tick. */
  readonly delayMs: number;
}

export interface RegistrationResult extends Registration {
  readonly latency: Summary;
  readonly missed: number;
  readonly bytesPerStream: number;
}

export interface PhaseResult {
  readonly server: 'polaris' | 'polaris-xds';
  readonly mode: AdsMode;
  readonly streams: number;
  readonly synced: number;
  readonly openErrors: string[];
  readonly syncMs: Summary;
  /** Time until every stream had CDS, EDS, LDS and RDS. */
  readonly syncWallMs: number;
  readonly registrations: RegistrationResult[];
  /** Every (stream, registration) latency pooled. */
  readonly latency: Summary;
  readonly missed: number;
  readonly bytesPerStream: number;
  readonly bytesPerStreamByType: ByType;
  /** CPU seconds per registration of the xDS server (Polaris, or the bridge) and of Polaris. */
  readonly serverCpuPerRegistration: number;
  readonly polarisCpuPerRegistration: number;
  /** CPU of the server per minute while streams were connected and idle-ish (whole phase). */
  readonly serverCpuPerMinute: number;
  readonly serverRssBytes: number;
  readonly polarisRssBytes: number;
  readonly error?: string;
}

/** plan draws the registrations (service, new host, delay) from a seed. */
export function plan(mesh: BenchMesh, count: number, seed: number, slot: number): Registration[] {
  const rng = new Rng(seed ^ 0xb00);
  return Array.from({ length: count }, (_, i) => ({
    service: mesh.services[rng.int(mesh.services.length)]!.name,
    host: hostOf(slot, i),
    delayMs: rng.int(5000),
  }));
}

export interface PhaseOptions {
  readonly server: 'polaris' | 'polaris-xds';
  readonly polaris: BenchPolaris;
  readonly mesh: BenchMesh;
  readonly mode: AdsMode;
  readonly streams: number;
  readonly registrations: readonly Registration[];
  readonly workers: number;
  readonly workDir: string;
  readonly seed: number;
  /** How long the streams may take to sync (Polaris's own server is slow to). */
  readonly syncTimeoutMs: number;
}

/** runPhase runs one server's half of the comparison. */
export async function runPhase(opts: PhaseOptions): Promise<PhaseResult> {
  let bridge: Bridge | undefined;
  let pool: ClientPool | undefined;
  const label = `[${opts.server} ${opts.mode}]`;
  const empty: PhaseResult = {
    server: opts.server,
    mode: opts.mode,
    streams: opts.streams,
    synced: 0,
    openErrors: [],
    syncMs: summarize([]),
    syncWallMs: NaN,
    registrations: [],
    latency: summarize([]),
    missed: 0,
    bytesPerStream: NaN,
    bytesPerStreamByType: { cds: 0, eds: 0, lds: 0, rds: 0, vhds: 0, other: 0 },
    serverCpuPerRegistration: NaN,
    polarisCpuPerRegistration: NaN,
    serverCpuPerMinute: NaN,
    serverRssBytes: NaN,
    polarisRssBytes: NaN,
  };
  try {
    let target = opts.polaris.xdsAddress;
    let serverPid = opts.polaris.pid();
    if (opts.server === 'polaris-xds') {
      bridge = await Bridge.start({
        polaris: opts.polaris.grpcAddress,
        logFile: join(opts.workDir, 'bridge-side-by-side.log'),
      });
      await bridge.waitReady(300_000);
      target = bridge.xdsAddress;
      serverPid = bridge.pid;
      progress(`${label} bridge synced from Polaris (pid ${bridge.pid})`);
    }
    pool = await ClientPool.start(opts.workers);
    const phaseStart = nowMs();
    const cpuStart = cpuSeconds(serverPid);
    const specs = sidecarSpecs(
      opts.mesh.namespace,
      opts.mesh.services.map((s) => s.name),
      0,
      opts.streams,
    );
    const open = await pool.open(target, opts.mode, specs, {
      concurrency: 200,
      timeoutMs: opts.syncTimeoutMs,
      sentinel: true,
      nodeEveryRequest: true,
    });
    progress(
      `${label} ${open.synced}/${opts.streams} streams synced in ${(open.wallMs / 1000).toFixed(1)} s${open.failed ? `; ${open.failed} not synced: ${open.errors.join('; ') || 'no error, some type never arrived'}` : ''}`,
    );
    await pool.report();
    const results: RegistrationResult[] = [];
    const pooled: number[] = [];
    const byType: ByType = { cds: 0, eds: 0, lds: 0, rds: 0, vhds: 0, other: 0 };
    let serverCpu = 0;
    let polarisCpu = 0;
    const rng = new Rng(opts.seed);
    for (const reg of opts.registrations) {
      await sleep(reg.delayMs);
      await pool.expect([{ type: 'eds', name: clusterName(opts.mesh.namespace, reg.service), needle: reg.host }]);
      await pool.report();
      const s0 = cpuSeconds(serverPid);
      const p0 = cpuSeconds(opts.polaris.pid());
      const inst = { ...makeInstance(rng, 0, 0), host: reg.host, healthy: true };
      const t0 = nowMs();
      await opts.polaris.api.registerInstances([apiInstance(opts.mesh.namespace, reg.service, inst)]);
      // Polaris pushes on a 5 s tick and may be busy long after; give it a minute of silence.
      await pool.settle(t0, { quietMs: 500, giveUpMs: 60_000, timeoutMs: 120_000 });
      serverCpu += cpuSeconds(serverPid) - s0;
      polarisCpu += cpuSeconds(opts.polaris.pid()) - p0;
      const rep = await pool.report();
      const lat = rep.streams.flatMap((s) => (s.metAt[0] == null ? [] : [s.metAt[0] - t0]));
      pooled.push(...lat);
      const bytes =
        rep.streams.reduce((n, s) => n + s.bytes.cds + s.bytes.eds + s.bytes.lds + s.bytes.rds + s.bytes.other, 0) /
        Math.max(1, rep.streams.length);
      for (const s of rep.streams)
        for (const k of Object.keys(byType) as Array<keyof ByType>)
          byType[k] += s.bytes[k] / rep.streams.length / opts.registrations.length;
      const r: RegistrationResult = {
        ...reg,
        latency: summarize(lat),
        missed: rep.streams.length - lat.length,
        bytesPerStream: bytes,
      };
      results.push(r);
      progress(
        `${label} +${reg.host} → ${reg.service}: p50 ${r.latency.p50.toFixed(0)} p99 ${r.latency.p99.toFixed(0)} ms, ${(bytes / 1024).toFixed(1)} KB/stream, missed ${r.missed}`,
      );
    }
    const minutes = (nowMs() - phaseStart) / 60_000;
    const n = Math.max(1, opts.registrations.length);
    return {
      ...empty,
      synced: open.synced,
      openErrors: open.errors,
      syncMs: summarize(open.syncMs),
      syncWallMs: open.wallMs,
      registrations: results,
      latency: summarize(pooled),
      missed: results.reduce((m, r) => m + r.missed, 0),
      bytesPerStream: results.reduce((m, r) => m + r.bytesPerStream, 0) / n,
      bytesPerStreamByType: byType,
      serverCpuPerRegistration: serverCpu / n,
      polarisCpuPerRegistration: polarisCpu / n,
      serverCpuPerMinute: (cpuSeconds(serverPid) - cpuStart) / minutes,
      serverRssBytes: rssBytes(serverPid),
      polarisRssBytes: rssBytes(opts.polaris.pid()),
    };
  } catch (err) {
    progress(`${label} failed: ${(err as Error).stack ?? String(err)}`);
    return { ...empty, error: (err as Error).message };
  } finally {
    await pool?.close();
    await bridge?.stop();
  }
}

/** probeSotw opens a few SotW streams on Polaris's xDS port and says whether they got every type. */
export async function probeSotw(
  polaris: BenchPolaris,
  mesh: BenchMesh,
  workers: number,
  timeoutMs: number,
): Promise<{ synced: number; of: number; missing: Record<string, number> }> {
  const pool = await ClientPool.start(Math.min(workers, 1));
  try {
    const specs = sidecarSpecs(
      mesh.namespace,
      mesh.services.map((s) => s.name),
      0,
      3,
    );
    const open = await pool.open(polaris.xdsAddress, 'sotw', specs, {
      concurrency: 3,
      timeoutMs,
      sentinel: false,
      nodeEveryRequest: true,
    });
    return { synced: open.synced, of: specs.length, missing: open.missing };
  } finally {
    await pool.close();
  }
}
