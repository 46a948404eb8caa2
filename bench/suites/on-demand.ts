// What fetching on demand adds to the first request to a service: two real Envoy sidecars fed by
// polaris-xds from one mesh file, one full-state (Delta) and one on demand (`bootstrap --on-demand`:
// VHDS and on-demand CDS). For services neither has called, in turn: the first request through the
// on-demand sidecar (held by Envoy until the virtual host, cluster and endpoints arrive), the first
// through the full-state one (the limit: everything is already there), and a second through the
// on-demand one (now warm). Also what each stream was sent after 1, 4 and all services called.
import { startBridge } from '../../test/support/bridge.js';
import { startSidecarEnvoy } from '../../test/support/envoy.js';
import { meshFile, type MeshService } from '../../test/support/mesh.js';
import { waitFor } from '../../test/support/ports.js';
import { startUpstream } from '../../test/support/upstream.js';
import { progress } from '../lib/progress.js';
import { timedGet } from '../lib/http.js';
import { summarize, type Summary } from '../lib/stats.js';

/** What the streams were sent after a number of services called. */
export interface OnDemandBytes {
  readonly servicesCalled: number;
  readonly onDemandBytes: number;
  readonly fullStateBytes: number;
  readonly virtualHosts?: number;
  readonly clusters?: number;
}

export interface OnDemandResult {
  readonly services: number;
  readonly called: number;
  /** First and second requests (ms), and on demand's first minus full state's first, paired per service. */
  readonly latencyMs: {
    readonly onDemandFirst: Summary;
    readonly fullStateFirst: Summary;
    readonly onDemandSecond: Summary;
    readonly added: Summary;
  };
  /** p99 of on demand's first request ÷ p99 of full state's first (the run's own limit). */
  readonly firstP99Ratio: number;
  readonly bytes: readonly OnDemandBytes[];
  readonly error?: string;
}

/** runOnDemand times the first request to `called` services of a `services`-service mesh. */
export async function runOnDemand(services: number, called: number): Promise<OnDemandResult> {
  const empty = summarize([]);
  const failed = (error: string): OnDemandResult => ({
    services,
    called,
    latencyMs: { onDemandFirst: empty, fullStateFirst: empty, onDemandSecond: empty, added: empty },
    firstP99Ratio: NaN,
    bytes: [],
    error,
  });
  const NS = 'bench';
  const name = (i: number) => `svc-${String(i).padStart(5, '0')}`;
  const upstream = await startUpstream('echo');
  const list: MeshService[] = Array.from({ length: services }, (_, i) => ({
    name: name(i),
    instances: [{ host: '127.0.0.1', port: upstream.port, protocol: 'http' }],
  }));
  list.push({ name: 'client', instances: [{ host: '127.0.0.1', port: 9, protocol: 'http' }] });
  const mesh = meshFile({ namespaces: [{ name: NS, services: list, rules: [] }] });
  const stops: Array<() => Promise<void>> = [];
  try {
    const bridge = await startBridge(['--file', mesh.path], { ready: true });
    stops.push(async () => {
      await bridge.stop();
    });
    const full = await startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'client', extra: ['--delta'] });
    stops.push(() => full.envoy.stop());
    const onDemand = await startSidecarEnvoy(bridge.xdsAddress, {
      namespace: NS,
      service: 'client',
      extra: ['--on-demand'],
    });
    stops.push(() => onDemand.envoy.stop());
    const answers = async (port: number, host: string) =>
      (await timedGet(port, { host }).catch(() => ({ status: 0 }))).status === 200;
    const probe = `${name(services - 1)}.${NS}`;
    await waitFor('the full-state sidecar', () => answers(full.outbound, probe), 60_000, 100);
    await waitFor('the on-demand sidecar', () => answers(onDemand.outbound, probe), 60_000, 100);
    type Row = { counters: { bytesSent: number }; onDemand?: { virtualHosts: number; clusters: number } };
    const sent = async (servicesCalled: number): Promise<OnDemandBytes> => {
      const rows = await bridge.adminJson<Row[]>('/debug/syncz');
      const od = rows.find((r) => r.onDemand);
      const fs = rows.find((r) => !r.onDemand);
      return {
        servicesCalled,
        onDemandBytes: od?.counters.bytesSent ?? 0,
        fullStateBytes: fs?.counters.bytesSent ?? 0,
        virtualHosts: od?.onDemand?.virtualHosts,
        clusters: od?.onDemand?.clusters,
      };
    };
    // The readiness probe called one service already.
    const bytes: OnDemandBytes[] = [await sent(1)];
    const lat = { onDemandFirst: [] as number[], fullFirst: [] as number[], onDemandWarm: [] as number[] };
    const added: number[] = [];
    // Spread over the mesh; neither sidecar has called these.
    for (let k = 0; k < called; k++) {
      const host = `${name(Math.floor((k * (services - 1)) / called))}.${NS}`;
      const cold = await timedGet(onDemand.outbound, { host });
      const base = await timedGet(full.outbound, { host });
      const warm = await timedGet(onDemand.outbound, { host });
      for (const [what, r] of [
        ['on-demand first', cold],
        ['full-state first', base],
        ['on-demand second', warm],
      ] as const) {
        if (r.status !== 200) throw new Error(`${host}: ${what} request: status ${r.status}`);
      }
      lat.onDemandFirst.push(cold.ms);
      lat.fullFirst.push(base.ms);
      lat.onDemandWarm.push(warm.ms);
      added.push(cold.ms - base.ms);
      if (k + 2 === 4 || k + 1 === called) bytes.push(await sent(k + 2));
    }
    const latencyMs = {
      onDemandFirst: summarize(lat.onDemandFirst),
      fullStateFirst: summarize(lat.fullFirst),
      onDemandSecond: summarize(lat.onDemandWarm),
      added: summarize(added),
    };
    progress(
      `on-demand: first request p99 ${latencyMs.onDemandFirst.p99.toFixed(2)} ms ` +
        `(full state ${latencyMs.fullStateFirst.p99.toFixed(2)} ms) over ${called} services`,
    );
    return {
      services,
      called,
      latencyMs,
      firstP99Ratio: latencyMs.onDemandFirst.p99 / latencyMs.fullStateFirst.p99,
      bytes,
    };
  } catch (err) {
    return failed((err as Error).message);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await upstream.close();
    mesh.remove();
  }
}
