// How many Discover requests per second the syncer sends to Polaris for a mesh of N services
// (default 1,000), with the default poll interval. Uses the in-process fake Polaris so every
// request is counted. Prints a table and JSON (also written to bench/results/).
//   node --import tsx bench/discover-rate.ts [--services N] [--seconds S] [--poll-ms MS]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/log.js';
import { createPolarisSource } from '../src/sync/polaris-source.js';
import { FakePolaris } from '../test/support/fake-polaris.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    'poll-ms': { type: 'string', default: '1000' },
  },
});
const services = Number(values.services);
const seconds = Number(values.seconds);
const pollMs = Number(values['poll-ms']);

const fake = await FakePolaris.start();
for (let i = 0; i < services; i++) {
  fake.setService({
    namespace: `ns${i % 3}`,
    name: `svc-${String(i).padStart(5, '0')}`,
    instances: Array.from({ length: 10 }, (_, j) => ({ host: `10.${i >> 8}.${i & 255}.${j + 1}`, port: 8080 })),
  });
}
const source = createPolarisSource({
  addresses: [fake.address],
  namespaces: [],
  pollIntervalMs: pollMs,
  logger: silentLogger(),
});
const t0 = Date.now();
await source.start();
while (!source.status().ready) {
  if (Date.now() - t0 > 120_000) throw new Error('no full sync within 120 s');
  await new Promise((r) => setTimeout(r, 50));
}
const firstSyncMs = Date.now() - t0;
process.stderr.write(`first full sync of ${services} services after ${firstSyncMs} ms; counting for ${seconds} s\n`);
const start = fake.requests.length;
const startedAt = Date.now();
for (let s = 1; s <= seconds; s++) {
  await new Promise((r) => setTimeout(r, 1000));
  process.stderr.write(`  ${s}/${seconds} s: ${fake.requests.length - start} requests\n`);
}
const window = (Date.now() - startedAt) / 1000;
const seen = fake.requests.slice(start);
const byType: Record<string, number> = {};
for (const r of seen) byType[r.type] = (byType[r.type] ?? 0) + 1;
await source.stop();
await fake.stop();

const result = {
  bench: 'discover-rate',
  machine: { cores: cpus().length, node: process.version },
  services,
  pollIntervalMs: pollMs,
  firstFullSyncMs: firstSyncMs,
  requestsPerSecond: Math.round(seen.length / window),
  requestsPerSecondByType: Object.fromEntries(Object.entries(byType).map(([t, n]) => [t, Math.round(n / window)])),
  perServicePerSecond: Number((seen.length / window / services).toFixed(3)),
};
console.log(`services  poll(ms)  first sync(ms)  Discover req/s  ${Object.keys(byType).sort().join('/')}`);
console.log(
  `${String(services).padEnd(9)} ${String(pollMs).padEnd(9)} ${String(firstSyncMs).padEnd(15)} ${String(result.requestsPerSecond).padEnd(15)} ${Object.keys(
    byType,
  )
    .sort()
    .map((t) => result.requestsPerSecondByType[t])
    .join('/')}`,
);
console.log(JSON.stringify(result));
const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, `discover-rate-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
  JSON.stringify(result, null, 2),
);
