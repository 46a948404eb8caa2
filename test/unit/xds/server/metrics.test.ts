// The xDS server's metrics tally requests, pushes and ACKs in plain arrays and hand them to
// prom-client when it collects: a scrape must show every event, exactly, whichever metric is read
// first, however many events were held, and for every server sharing the registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { XdsMetrics } from '../../../../src/xds/server/metrics.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, ROUTE_TYPE } from '../../../../src/xds/resource.js';
import { Rand } from '../../../support/random.js';

/** value reads one series from the registry's text exposition (0 when absent). */
async function value(registry: Registry, series: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

test('every request, push and ACK shows in the next scrape, exactly, across servers sharing a registry', async () => {
  const registry = new Registry();
  const servers = [new XdsMetrics(registry), new XdsMetrics(registry)];
  const r = new Rand(5);
  const want = { requests: 0, edsPushes: 0, edsBytes: 0, rdsDeltaPushes: 0, acks: 0, smallPushSeconds: 0, nacks: 0 };
  for (let round = 0; round < 3; round++) {
    // More events than are held back before a hand-over, on both servers.
    for (let i = 0; i < 20_000; i++) {
      const m = r.pick(servers);
      const kind = r.int(4);
      if (kind === 0) {
        m.request(CLUSTER_TYPE, 'sotw');
        want.requests++;
      } else if (kind === 1) {
        const bytes = 1 + r.int(5000);
        const seconds = r.chance(0.5) ? 0.0001 : 2;
        m.pushed(ENDPOINT_TYPE, 'sotw', bytes, seconds);
        want.edsPushes++;
        want.edsBytes += bytes;
        if (seconds < 0.0005) want.smallPushSeconds++;
      } else if (kind === 2) {
        m.pushed(ROUTE_TYPE, 'delta', 10, 0.01);
        want.rdsDeltaPushes++;
      } else {
        const nack = r.chance(0.1);
        m.answered(ENDPOINT_TYPE, 'delta', nack, 0.002);
        want.acks++;
        if (nack) want.nacks++;
      }
    }
    // The histograms are printed first, so the counters are read after a flush another metric started.
    assert.equal(
      await value(registry, 'polaris_xds_requests_total{type="cds",mode="sotw"}'),
      want.requests,
      `round ${round}: requests`,
    );
    assert.equal(
      await value(registry, 'polaris_xds_pushes_total{type="eds",mode="sotw"}'),
      want.edsPushes,
      `round ${round}: eds pushes`,
    );
    assert.equal(
      await value(registry, 'polaris_xds_response_bytes_total{type="eds",mode="sotw"}'),
      want.edsBytes,
      `round ${round}: eds bytes`,
    );
    assert.equal(
      await value(registry, 'polaris_xds_pushes_total{type="rds",mode="delta"}'),
      want.rdsDeltaPushes,
      `round ${round}: rds pushes`,
    );
    assert.equal(
      await value(registry, 'polaris_xds_response_size_bytes_count{type="eds"}'),
      want.edsPushes,
      `round ${round}: size observations`,
    );
    assert.equal(
      await value(registry, 'polaris_xds_push_seconds_bucket{le="0.0005",type="eds"}'),
      want.smallPushSeconds,
      `round ${round}: push time buckets`,
    );
    assert.equal(
      await value(registry, 'polaris_xds_ack_latency_seconds_count{type="eds"}'),
      want.acks,
      `round ${round}: ACK observations`,
    );
    assert.equal(
      await value(registry, 'polaris_xds_nacks_total{type="eds",mode="delta"}'),
      want.nacks,
      `round ${round}: NACKs`,
    );
  }
});

test('a released server hands over what it held, and later events of the servers still running show', async () => {
  const registry = new Registry();
  const stopped = new XdsMetrics(registry);
  const running = new XdsMetrics(registry);
  stopped.request(CLUSTER_TYPE, 'delta');
  stopped.pushed(ENDPOINT_TYPE, 'delta', 100, 0.01);
  stopped.release();
  // Counted once after release: a released server is no longer flushed, so nothing twice.
  stopped.request(CLUSTER_TYPE, 'delta');
  running.request(CLUSTER_TYPE, 'delta');
  assert.equal(await value(registry, 'polaris_xds_requests_total{type="cds",mode="delta"}'), 2);
  assert.equal(await value(registry, 'polaris_xds_pushes_total{type="eds",mode="delta"}'), 1);
});
