// A change pushed to on-demand (or full-state) Delta streams, in one process: the real snapshot
// cache, translator and ADS handlers, with streams whose calls decode each response and ACK it on
// the next tick, as the bench's clients do, but without gRPC, HTTP/2 or a second process. It shows
// the bridge's own cost of a change (rebuild, telling the streams, planning and writing) apart from
// the machine's: the time from the new state entering the cache to the last response written.
//   node --import tsx bench/push-in-process.ts [--streams N] [--rounds N] [--full] [--profile FILE]
// --profile writes a V8 CPU profile of the change rounds alone (not of opening the streams) and prints its top
// functions.
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from '../src/gen/envoy/service/discovery/v3/discovery.js';
import { silentLogger } from '../src/log.js';
import { meshState, serviceKey, type MeshState, type Service } from '../src/model/mesh.js';
import { createAdsHandlers } from '../src/xds/server/ads.js';
import type { AdsCall } from '../src/xds/server/stream.js';
import { SnapshotCache } from '../src/xds/snapshot-cache.js';
import { createTranslator } from '../src/xds/translate/index.js';
import { sidecarSpecs } from './clients/specs.js';
import { TYPE_URLS } from './clients/codec.js';
import { hotSpots } from './lib/cpuprofile.js';
import { median } from './lib/stats.js';
import { generateMesh, type BenchInstance, type BenchRule } from './workload/mesh.js';
import { modelService } from './workload/model.js';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '5' },
    full: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const streams = Number(values.streams);
const rounds = Number(values.rounds);
const onDemand = !values.full;

const bench = generateMesh({ services: 1000, instancesPerService: 10, seed: 7 });
const ns = bench.namespace;
const names = bench.services.map((s) => s.name);
const hot = bench.rules[0]!.service;

/** model converts the bench mesh, keeping the Service objects of `prev` that did not change (as the sources do). */
function model(prev: MeshState | undefined): MeshState {
  const out: Service[] = [];
  for (const s of bench.services) {
    const next = modelService(bench, s);
    const old = prev?.services.get(serviceKey(ns, s.name));
    out.push(old && old.revision === next.revision && old.routing.revision === next.routing.revision ? old : next);
  }
  return meshState(out, 'bench');
}

const rebuilds: number[] = [];
const cache = new SnapshotCache({
  translator: createTranslator(),
  logger: silentLogger(),
  debounceMs: 0,
  debounceMaxMs: 0,
  onBuild: (b) => rebuilds.push(b.millis),
});
let mesh = model(undefined);
cache.setMesh(mesh);
// Full-state streams are each sent a 337 KB route configuration at once: no pending-bytes budget here.
const ads = createAdsHandlers({
  watcher: cache,
  limits: { maxPendingBytes: Number.MAX_SAFE_INTEGER, maxPendingBytesPerStream: Number.MAX_SAFE_INTEGER },
});
const decode = ads.definition.DeltaAggregatedResources.requestDeserialize;

let writes = 0;
let lastWriteAt = 0;

/** Call is a client that ACKs every response on the next tick and, as Envoy, asks for the assignments of its clusters. */
class Call extends EventEmitter implements AdsCall {
  private readonly assignments = new Set<string>();
  write(chunk: Buffer, cb: (err?: Error | null) => void): boolean {
    writes++;
    lastWriteAt = performance.now();
    const r = DeltaDiscoveryResponse.decode(chunk);
    setImmediate(() => {
      cb();
      this.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
      if (r.typeUrl !== TYPE_URLS.cds) return;
      // The bench's clusters take their assignments by their own name over ADS (EDS).
      const more = r.resources.map((x) => x.name).filter((n) => n.startsWith('OUTBOUND|') && !this.assignments.has(n));
      for (const n of more) this.assignments.add(n);
      if (more.length > 0) this.send({ typeUrl: TYPE_URLS.eds, resourceNamesSubscribe: more });
    });
    return true;
  }
  end(): void {}
  send(req: Partial<DeltaDiscoveryRequest>): void {
    this.emit(
      'data',
      decode(Buffer.from(DeltaDiscoveryRequest.encode(DeltaDiscoveryRequest.fromPartial(req)).finish())),
    );
  }
}

// What Envoy subscribes to, all at once: its clusters and listeners (wildcard), its route
// configurations, and on demand the virtual hosts, clusters and assignments of what it calls.
for (const s of sidecarSpecs(ns, names, 0, streams, onDemand ? { all: names, hot } : undefined)) {
  const c = new Call();
  ads.delta(c);
  const outbound = (s.calls ?? []).map((x) => `OUTBOUND|${ns}|${x}`);
  c.send({ typeUrl: TYPE_URLS.cds, node: { id: s.nodeId, cluster: s.cluster, metadata: s.metadata } as never });
  c.send({ typeUrl: TYPE_URLS.lds });
  c.send({ typeUrl: TYPE_URLS.rds, resourceNamesSubscribe: ['polaris-outbound-router', `INBOUND|${ns}|${s.cluster}`] });
  if (onDemand) {
    c.send({
      typeUrl: TYPE_URLS.vhds,
      resourceNamesSubscribe: s.calls!.map((x) => `polaris-outbound-router/${x}.${ns}`),
    });
    c.send({ typeUrl: TYPE_URLS.cds, resourceNamesSubscribe: outbound });
  }
}

/** quiet resolves once nothing was written for 50 ms. */
async function quiet(): Promise<void> {
  for (;;) {
    const before = writes;
    await new Promise((r) => setTimeout(r, 50));
    if (writes === before) return;
  }
}

await quiet();
console.log(`${streams} ${onDemand ? 'on-demand' : 'full-state'} Delta streams, ${cache.groupCount()} node groups`);
const hotService = bench.services.find((s) => s.name === hot)!;
// The meshes of every round are made first, so a profile shows the bridge and not the bench's model.
const steps: Array<{ kind: 'health-flip' | 'rule-change'; mesh: MeshState }> = [];
for (let round = 0; round < rounds; round++) {
  for (const kind of ['health-flip', 'rule-change'] as const) {
    const instances = hotService.instances as BenchInstance[];
    if (kind === 'health-flip') instances[0] = { ...instances[0]!, healthy: !instances[0]!.healthy };
    else (bench.rules as BenchRule[])[0] = { ...bench.rules[0]!, headerValue: `canary-${round}` };
    mesh = model(mesh);
    steps.push({ kind, mesh });
  }
}
const rows: Record<string, { rebuild: number[]; lastWrite: number[]; writes: number }> = {};
const session = values.profile ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
for (const { kind, mesh: next } of steps) {
  const w0 = writes;
  const built = rebuilds.length;
  const t0 = performance.now();
  cache.setMesh(next);
  // The rebuild runs on a later tick and tells the streams on the one after: wait for both.
  while (rebuilds.length === built) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  await quiet();
  const row = (rows[kind] ??= { rebuild: [], lastWrite: [], writes: 0 });
  row.rebuild.push(rebuilds.at(-1)!);
  row.lastWrite.push(lastWriteAt - t0);
  row.writes = writes - w0;
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(values.profile!, JSON.stringify(profile));
  const spots = hotSpots(values.profile!, process.cwd(), 25);
  console.log(`profile of the rounds: ${spots.busyMs.toFixed(0)} ms busy, GC ${spots.gcMs.toFixed(0)} ms`);
  for (const h of spots.top)
    console.log(
      `  ${h.selfPct.toFixed(1).padStart(5)} % self ${h.totalPct.toFixed(1).padStart(5)} % total  ${h.fn} (${h.where})`,
    );
}
for (const [kind, r] of Object.entries(rows))
  console.log(
    `${kind.padEnd(12)} rebuild p50 ${median(r.rebuild).toFixed(1)} ms; last response written p50 ` +
      `${median(r.lastWrite).toFixed(1)} max ${Math.max(...r.lastWrite).toFixed(1)} ms; ${r.writes} responses`,
  );
cache.stop();
process.exit(0);
