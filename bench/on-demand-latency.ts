// What fetching on demand adds to the first request to a service: two real Envoy sidecars fed by
// polaris-xds from one mesh file (1,000 services), one full-state (Delta) and one on-demand
// (`bootstrap --on-demand`: VHDS + on-demand CDS). For 100 services neither has called, in turn:
// the first request through the on-demand sidecar (held until the virtual host, cluster and
// endpoints arrive), the first through the full-state one (everything already there), and a second
// through the on-demand one (now warm). Prints p50/p99 of each and what on demand adds, and writes
// them to bench/results/.
// Needs ENVOY_BIN (scripts/install-envoy.sh prints it).
//   ENVOY_BIN=$(bash scripts/install-envoy.sh) node --import tsx bench/on-demand-latency.ts [--services 1000] [--called 100]
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBridge } from '../test/support/bridge.js';
import { startSidecarEnvoy } from '../test/support/envoy.js';
import { meshFile, type MeshService } from '../test/support/mesh.js';
import { waitFor } from '../test/support/ports.js';
import { startUpstream } from '../test/support/upstream.js';

const { values } = parseArgs({
  options: { services: { type: 'string', default: '1000' }, called: { type: 'string', default: '100' } },
});
const total = Number(values.services);
const called = Number(values.called);
const NS = 'bench';

function timedGet(port: number, host: string): Promise<{ ms: number; status: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const upstream = await startUpstream('echo');
const name = (i: number) => `svc-${String(i).padStart(5, '0')}`;
const services: MeshService[] = Array.from({ length: total }, (_, i) => ({
  name: name(i),
  instances: [{ host: '127.0.0.1', port: upstream.port, protocol: 'http' }],
}));
services.push({ name: 'client', instances: [{ host: '127.0.0.1', port: 9, protocol: 'http' }] });
const mesh = meshFile({ namespaces: [{ name: NS, services, rules: [] }] });
const bridge = await startBridge(['--file', mesh.path], { ready: true });
const full = await startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'client', extra: ['--delta'] });
const onDemand = await startSidecarEnvoy(bridge.xdsAddress, {
  namespace: NS,
  service: 'client',
  extra: ['--on-demand'],
});
try {
  const ready = async (port: number, host: string) =>
    (await timedGet(port, host).catch(() => ({ status: 0 }))).status === 200;
  await waitFor('the full-state sidecar', () => ready(full.outbound, `${name(total - 1)}.${NS}`), 60_000, 100);
  await waitFor('the on-demand sidecar', () => ready(onDemand.outbound, `${name(total - 1)}.${NS}`), 60_000, 100);
  const lat = { onDemandFirst: [] as number[], fullFirst: [] as number[], onDemandWarm: [] as number[] };
  const added: number[] = [];
  // What each stream was sent, after n services called (the readiness probe called one).
  const sent = async () => {
    const rows =
      await bridge.adminJson<
        Array<{ counters: { bytesSent: number }; onDemand?: { virtualHosts: number; clusters: number } }>
      >('/debug/syncz');
    const od = rows.find((r) => r.onDemand);
    const fs = rows.find((r) => !r.onDemand);
    return {
      onDemandBytes: od?.counters.bytesSent ?? 0,
      fullStateBytes: fs?.counters.bytesSent ?? 0,
      holds: od?.onDemand,
    };
  };
  const bytesAfter: Record<string, Awaited<ReturnType<typeof sent>>> = { '1': await sent() };
  // Spread over the mesh; neither sidecar has called these.
  for (let k = 0; k < called; k++) {
    const host = `${name(Math.floor((k * total) / called))}.${NS}`;
    const cold = await timedGet(onDemand.outbound, host);
    const base = await timedGet(full.outbound, host);
    const warm = await timedGet(onDemand.outbound, host);
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
    if (k + 2 === 4 || k + 1 === called) bytesAfter[String(k + 2)] = await sent();
  }
  const stat = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1]! };
  };
  const summary = {
    onDemandFirst: stat(lat.onDemandFirst),
    fullStateFirst: stat(lat.fullFirst),
    onDemandSecond: stat(lat.onDemandWarm),
    added: stat(added),
  };
  const result = {
    when: new Date().toISOString(),
    cores: cpus().length,
    services: total,
    called,
    ...summary,
    bytesAfterServicesCalled: bytesAfter,
  };
  console.log('| request | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|');
  for (const [label, s] of [
    ['on-demand, first', summary.onDemandFirst],
    ['full-state, first', summary.fullStateFirst],
    ['on-demand, second', summary.onDemandSecond],
    ['added by on demand (paired)', summary.added],
  ] as const) {
    console.log(`| ${label} | ${s.n} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.max.toFixed(2)} |`);
  }
  console.log(
    '| services called | on-demand stream: bytes sent | holds | full-state stream: bytes sent |\n|---|---|---|---|',
  );
  for (const [n, b] of Object.entries(bytesAfter))
    console.log(
      `| ${n} | ${b.onDemandBytes} | ${b.holds ? `${b.holds.virtualHosts} virtual hosts, ${b.holds.clusters} clusters` : '-'} | ${b.fullStateBytes} |`,
    );
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `on-demand-latency-${result.when.replace(/[:.]/g, '-')}.json`),
    JSON.stringify(result, null, 2),
  );
} finally {
  await onDemand.envoy.stop();
  await full.envoy.stop();
  await bridge.stop();
  await upstream.close();
  mesh.remove();
}
