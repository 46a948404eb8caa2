// Real Envoys on both protocol variants — one on State of the World ADS, one on Delta ADS — fed by
// polaris-xds from a mesh file that the test rewrites. After each of add service, add instance,
// remove instance and remove service, each Envoy's config_dump holds exactly the expected
// resources with nothing rejected, and a request loop against a service that stays (the one whose
// instances change) never sees a failed request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { meshFile, type MeshDoc, type MeshFile, type MeshRule } from '../support/mesh.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';
import { waitFor } from '../support/ports.js';
import {
  converge,
  envoyStats,
  startAdsEnvoy,
  startRequestLoop,
  type AdsEnvoy,
  type Expected,
  type RequestLoop,
} from '../support/xds-helpers.js';

const NS = 'xe';
const STAY = `OUTBOUND|${NS}|stay`;
const EXTRA = `OUTBOUND|${NS}|extra`;
// A rule cluster is named after the service plus a digest of its destinations.
const RULE_CLUSTER = /^OUTBOUND\|xe\|stay\|[0-9a-f]+$/;

/** Every request to `stay`, whoever sends it, goes to its instances labelled `version: v1` (a rule cluster of its own). */
const V1_ONLY: MeshRule = {
  name: 'stay-v1',
  destinations: [{ service: 'stay', namespace: NS, labels: { version: 'v1' } }],
};

describe('real Envoy (SotW and Delta) through mesh churn', () => {
  const up: Record<string, Upstream> = {};
  let file: MeshFile;
  let bridge: BridgeProcess;
  const envoys: AdsEnvoy[] = [];
  const loops: RequestLoop[] = [];

  // s1 and s2 are version v1, s3 is v2.
  const instance = (n: string) => ({
    host: '127.0.0.1',
    port: up[n]!.port,
    protocol: 'http',
    version: n === 's3' ? 'v2' : 'v1',
  });
  const mesh = (stay: string[], extra?: string[], rules: MeshRule[] = []): MeshDoc => ({
    namespaces: [
      {
        name: NS,
        services: [
          { name: 'stay', instances: stay.map(instance) },
          ...(extra ? [{ name: 'extra', instances: extra.map(instance) }] : []),
        ],
        rules,
      },
    ],
  });

  const expected = (e: AdsEnvoy, stay: string[], extra?: string[], rule?: string[]): Expected => ({
    clusters: ['PassthroughCluster', STAY, ...(extra ? [EXTRA] : []), ...(rule ? [RULE_CLUSTER] : [])],
    listeners: [`OUTBOUND_${e.outbound}`],
    routes: ['polaris-outbound-router'],
    // Envoy lists every dynamic cluster's assignment; the original-destination one has no endpoints.
    endpoints: {
      PassthroughCluster: [],
      [STAY]: stay.map((n) => up[n]!.port),
      ...(extra ? { [EXTRA]: extra.map((n) => up[n]!.port) } : {}),
      ...(rule ? { [RULE_CLUSTER.source]: rule.map((n) => up[n]!.port) } : {}),
    },
    domains: { 'polaris-outbound-router': { [`stay.${NS}`]: true, [`extra.${NS}`]: !!extra } },
  });

  /** step rewrites the mesh and waits until both Envoys hold exactly what it implies. */
  async function step(what: string, stay: string[], extra?: string[], rule?: string[]): Promise<void> {
    const failedBefore = loops.map((l) => l.snapshot().failed);
    file.write(mesh(stay, extra, rule ? [V1_ONLY] : []));
    for (const [i, e] of envoys.entries()) {
      const { ms } = await converge(e, expected(e, stay, extra, rule));
      // A failure shows up in the loop within a request's time after the change.
      await new Promise((r) => setTimeout(r, 100));
      const failed = loops[i] ? loops[i]!.snapshot().failed - failedBefore[i]! : 0;
      console.log(`${what}: ${e.delta ? 'Delta' : 'SotW'} Envoy converged in ${ms} ms; ${failed} failed requests`);
    }
  }

  /** served waits until requests to `host` through every Envoy reach each of `bodies`, and only those. */
  async function served(host: string, bodies: string[]): Promise<void> {
    for (const e of envoys) {
      await waitFor(
        `${host} → ${bodies.join(',')}`,
        async () => {
          const seen = new Set<string>();
          for (let i = 0; i < 12 * bodies.length; i++) {
            const r = await sendThrough(e.outbound, host);
            if (r.status !== 200) return false;
            seen.add(r.body);
          }
          return JSON.stringify([...seen].sort()) === JSON.stringify([...bodies].sort());
        },
        10_000,
        50,
      );
    }
  }

  /**
   * looped checks the staying service through the request loops (a second requester would fall
   * into step with round robin and see one upstream only): every loop reaches each of `bodies`,
   * and none of `gone` while the loops run for another 300 ms.
   */
  async function looped(bodies: string[], gone: string[] = []): Promise<void> {
    const start = loops.map((l) => l.snapshot().bodies);
    await waitFor(
      `loops reach ${bodies.join(',')}`,
      () => loops.every((l, i) => bodies.every((b) => (l.snapshot().bodies[b] ?? 0) > (start[i]![b] ?? 0))),
      10_000,
      50,
    );
    const mid = loops.map((l) => l.snapshot().bodies);
    await new Promise((r) => setTimeout(r, 300));
    for (const [i, l] of loops.entries()) {
      const now = l.snapshot().bodies;
      for (const g of gone) assert.equal(now[g] ?? 0, mid[i]![g] ?? 0, `${g} got traffic after it left`);
    }
  }

  before(async () => {
    for (const n of ['s1', 's2', 's3', 'x1']) up[n] = await startUpstream(n);
    file = meshFile(mesh(['s1', 's2']));
    bridge = await startBridge(['--file', file.path], { ready: true });
    envoys.push(await startAdsEnvoy([bridge.xdsAddress], { namespace: NS, service: 'client' }));
    envoys.push(await startAdsEnvoy([bridge.xdsAddress], { namespace: NS, service: 'client', delta: true }));
    for (const e of envoys) await converge(e, expected(e, ['s1', 's2']), 20_000);
    for (const e of envoys) loops.push(startRequestLoop(e.outbound, `stay.${NS}`, 8));
    await looped(['s1', 's2']);
  });

  after(async () => {
    await Promise.all(loops.map((l) => l.stop()));
    await Promise.all(envoys.map((e) => e.stop()));
    await bridge?.stop();
    file?.remove();
    await Promise.all(Object.values(up).map((u) => u.close()));
  });

  it('uses the protocol variant each bootstrap asked for', async () => {
    const rows = await bridge.adminJson<Array<{ nodeId: string; mode: string }>>('/debug/syncz');
    for (const e of envoys)
      assert.equal(rows.find((r) => r.nodeId === e.nodeId)?.mode, e.delta ? 'delta' : 'sotw', e.nodeId);
  });

  it('add service: the new cluster, its endpoints and its virtual host; traffic reaches it', async () => {
    await step('add service', ['s1', 's2'], ['x1']);
    await served(`extra.${NS}`, ['x1']);
  });

  it('add instance: the staying service gets a third endpoint, which takes traffic', async () => {
    await step('add instance', ['s1', 's2', 's3'], ['x1']);
    await looped(['s1', 's2', 's3']);
  });

  it('add a rule sending all its traffic to a new rule cluster: the cluster is warm before any route names it', async () => {
    await step('add rule', ['s1', 's2', 's3'], ['x1'], ['s1', 's2']);
    await looped(['s1', 's2'], ['s3']);
  });

  it('remove the rule: routes go back to the service cluster before the rule cluster goes', async () => {
    await step('remove rule', ['s1', 's2', 's3'], ['x1']);
    await looped(['s1', 's2', 's3']);
  });

  it('remove instance: the endpoint leaves, and no request is sent to it any more', async () => {
    await step('remove instance', ['s2', 's3'], ['x1']);
    await looped(['s2', 's3'], ['s1']);
  });

  it('remove service: cluster, endpoints and virtual host go', async () => {
    await step('remove service', ['s2', 's3']);
  });

  it('not one request to the staying service failed during all of it, and no update was rejected', async () => {
    const results = await Promise.all(loops.splice(0).map((l) => l.stop()));
    for (const [i, r] of results.entries()) {
      console.log(
        `${envoys[i]!.delta ? 'Delta' : 'SotW'} Envoy: ${r.ok} requests to stay.${NS} during churn, ${r.failed} failed; by upstream ${JSON.stringify(r.bodies)}`,
      );
      assert.equal(r.failed, 0, `failed requests: ${JSON.stringify(r.failures)}`);
      assert.ok(r.ok > 100, `the loop ran (${r.ok} requests)`);
    }
    for (const e of envoys) {
      const stats = await envoyStats(e, 'update_rejected');
      const bad = Object.entries(stats).filter(([, v]) => v > 0);
      assert.deepEqual(bad, [], `${e.delta ? 'Delta' : 'SotW'} Envoy rejected updates`);
      assert.ok(
        Object.keys(stats).some((k) => k.startsWith('cluster_manager.cds')),
        'CDS stats present',
      );
    }
    const rows =
      await bridge.adminJson<Array<{ nodeId: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz');
    for (const r of rows)
      for (const [t, s] of Object.entries(r.types)) assert.equal(s.lastNack, undefined, `${r.nodeId} ${t} NACKed`);
  });
});
