// What a LOCAL rate-limit rule adds to a request's latency through a real Envoy: one sidecar,
// fed by polaris-xds from a mesh file, receives requests on its inbound listener, half on a path
// a LOCAL rule applies to (its bucket large enough never to reject) and half on a path without a
// rule, interleaved in the same run; the p50/p99 of each and their difference are printed (and
// written to bench/results/). GLOBAL rules are not supported yet, so there is no GLOBAL figure.
// Needs ENVOY_BIN (scripts/install-envoy.sh prints it).
//   ENVOY_BIN=$(bash scripts/install-envoy.sh) node --import tsx bench/ratelimit-latency.ts [--requests N]
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBridge } from '../test/support/bridge.js';
import { startSidecarEnvoy } from '../test/support/envoy.js';
import { meshFile } from '../test/support/mesh.js';
import { waitFor } from '../test/support/ports.js';
import { startUpstream } from '../test/support/upstream.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '4000' } } });
const requests = Number(values.requests);

function timedGet(port: number, path: string): Promise<{ ms: number; status: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'echo' } }, (res) => {
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
const mesh = meshFile({
  namespaces: [
    {
      name: 'bench',
      services: [{ name: 'echo', instances: [{ host: '127.0.0.1', port: upstream.port, protocol: 'http' }] }],
      ratelimits: [{ name: 'limited', service: 'echo', type: 'LOCAL', resource: 'QPS', method: { type: 'EXACT', value: '/limited' }, amounts: [{ maxAmount: 1_000_000_000, validDuration: '1s' }] }],
    },
  ],
});
const bridge = await startBridge(['--file', mesh.path], { ready: true });
const sidecar = await startSidecarEnvoy(bridge.xdsAddress, { namespace: 'bench', service: 'echo' });
try {
  await waitFor('the rule in Envoy', async () => (await sidecar.envoy.admin('/config_dump')).includes('polaris_ratelimit_'), 20_000, 100);
  const lat: Record<'limited' | 'free', number[]> = { limited: [], free: [] };
  // Warm-up, then alternate so both paths see the same machine load.
  for (let i = 0; i < 200; i++) await timedGet(sidecar.inbound, i % 2 ? '/limited' : '/free');
  for (let i = 0; i < requests; i++) {
    const path = i % 2 ? 'limited' : 'free';
    const r = await timedGet(sidecar.inbound, `/${path}`);
    if (r.status !== 200) throw new Error(`/${path}: status ${r.status}`);
    lat[path].push(r.ms);
  }
  const summary = Object.fromEntries(
    Object.entries(lat).map(([k, v]) => {
      const s = [...v].sort((a, b) => a - b);
      return [k, { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99) }];
    }),
  ) as Record<'limited' | 'free', { n: number; p50: number; p99: number }>;
  const result = {
    when: new Date().toISOString(),
    cores: cpus().length,
    requests,
    noRule: summary.free,
    localRule: summary.limited,
    addedP50Ms: summary.limited.p50 - summary.free.p50,
    addedP99Ms: summary.limited.p99 - summary.free.p99,
    globalRule: 'not supported yet',
  };
  console.log('| path | requests | p50 ms | p99 ms |\n|---|---|---|---|');
  console.log(`| no rule | ${summary.free.n} | ${summary.free.p50.toFixed(3)} | ${summary.free.p99.toFixed(3)} |`);
  console.log(`| LOCAL rule | ${summary.limited.n} | ${summary.limited.p50.toFixed(3)} | ${summary.limited.p99.toFixed(3)} |`);
  console.log(`added by the LOCAL rule: p50 ${result.addedP50Ms.toFixed(3)} ms, p99 ${result.addedP99Ms.toFixed(3)} ms`);
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `ratelimit-latency-${result.when.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2));
} finally {
  await sidecar.envoy.stop();
  await bridge.stop();
  await upstream.close();
  mesh.remove();
}
