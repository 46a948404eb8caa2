import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { configSize, registerConfigSize } from '../../../src/admin/config-size.js';
import { createXdsObserver } from '../../../src/admin/xds-observer.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../src/xds/resource.js';
import { encodeResource, makeSnapshot } from '../../../src/xds/snapshot.js';

/** value reads a gauge or counter sample with the given labels. */
async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((x) =>
    Object.entries(labels).every(([k, want]) => String((x.labels as Record<string, unknown>)[k]) === want),
  )?.value;
}

const tick = () => new Promise((r) => process.nextTick(r));

describe('xDS observer', () => {
  it('counts streams per subscribed type and releases them when the stream closes', async () => {
    const registry = new Registry();
    const o = createXdsObserver(registry);
    const info = { streamId: 7, mode: 'delta' as const, peer: 'p', nodeId: 'n' };
    o.hooks.onRequest!({ ...info, typeUrl: CLUSTER_TYPE, request: {} as never });
    o.hooks.onRequest!({ ...info, typeUrl: CLUSTER_TYPE, request: {} as never });
    o.hooks.onRequest!({ ...info, typeUrl: ENDPOINT_TYPE, request: {} as never });
    await tick();
    assert.equal(await value(registry, 'polaris_xds_subscribed_streams', { type: 'cds', mode: 'delta' }), 1);
    assert.equal(await value(registry, 'polaris_xds_subscribed_streams', { type: 'eds', mode: 'delta' }), 1);
    o.hooks.onStreamClosed!({ ...info, code: 1, details: '' });
    assert.equal(await value(registry, 'polaris_xds_subscribed_streams', { type: 'cds', mode: 'delta' }), 0);
  });

  it('observes convergence for an ACK of a new version after a mesh change, not for the first sync', async () => {
    let now = 1000;
    const registry = new Registry();
    const o = createXdsObserver(registry, () => now);
    const info = { streamId: 1, mode: 'sotw' as const, peer: 'p', nodeId: 'n' };
    o.meshChanged();
    o.built();
    o.hooks.onRequest!({ ...info, typeUrl: CLUSTER_TYPE, request: {} as never });
    now = 1100;
    o.hooks.onAck!({ ...info, typeUrl: CLUSTER_TYPE, nonce: '1', version: 'a', latencyMs: 5 });
    const histogram = async (suffix: 'count' | 'sum') => {
      const m = await registry.getSingleMetric('polaris_xds_convergence_seconds')!.get();
      const values = m.values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>;
      return (
        values.find((v) => v.metricName === `polaris_xds_convergence_seconds_${suffix}` && v.labels.type === 'cds')
          ?.value ?? 0
      );
    };
    const count = () => histogram('count');
    assert.equal(await count(), 0, 'a first sync is not a convergence');
    now = 2000;
    o.meshChanged();
    now = 2100;
    o.built();
    now = 2400;
    o.hooks.onAck!({ ...info, typeUrl: CLUSTER_TYPE, nonce: '2', version: 'b', latencyMs: 100 });
    assert.equal(await count(), 1);
    assert.equal(await histogram('sum'), 0.4);
    assert.equal(await value(registry, 'polaris_xds_mesh_updates_total'), 2);
  });
});

describe('config size', () => {
  const snap = (names: string[]) =>
    makeSnapshot({ [CLUSTER_TYPE]: names.map((n) => encodeResource(CLUSTER_TYPE, n, Buffer.from(n.repeat(10)), {})) });

  it('takes the largest set per type across groups', () => {
    const size = configSize([snap(['a']), snap(['b', 'c'])]);
    assert.equal(size.cds!.resources, 2);
    assert.ok(size.cds!.bytes > 20);
    assert.deepEqual(size.lds, { resources: 0, bytes: 0 });
  });

  it('is read at scrape time', async () => {
    const registry = new Registry();
    let snapshots = [snap(['a'])];
    registerConfigSize(registry, () => snapshots);
    assert.match(await registry.metrics(), /polaris_xds_config_resources\{type="cds"\} 1/);
    snapshots = [snap(['a', 'b', 'c'])];
    const text = await registry.metrics();
    assert.match(text, /polaris_xds_config_resources\{type="cds"\} 3/);
    assert.match(text, /polaris_xds_config_bytes\{type="cds"\} \d+/);
  });
});
