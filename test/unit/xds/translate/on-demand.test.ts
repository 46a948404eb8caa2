// On-demand sidecars in the translator: what their snapshot offers to the wildcard and by name,
// and how VHDS names resolve (the owning service's virtual host for that caller, passthrough for
// a host no service owns, an inert host for anything else).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { OUTBOUND_ROUTE_CONFIG, outboundCluster } from '../../../../src/xds/translate/names.js';
import { CLUSTER_TYPE, VHOST_TYPE } from '../../../../src/xds/resource.js';
import { consistent, lookup } from '../../../../src/xds/snapshot.js';
import { decodeResource, resource, vhostOf, type Json } from './support/envoy-protos.js';
import { dest, instance, mesh, ms, rule, service, sidecar, source } from './support/fixtures.js';

const NS = 'prod';
const ON_DEMAND = { 'sidecar.polarismesh.cn/openOnDemand': 'true' };
const v = (id: string, host: string, version: string) => instance(id, host, { metadata: { version } });

function world() {
  const forWeb = rule(
    'web-only',
    [source({ '$header.x-a': ms('EXACT', '1') }, { service: 'web', namespace: NS })],
    [dest({ version: ms('EXACT', 'v2') }, { service: 'backend', namespace: NS })],
  );
  return mesh(
    service(NS, 'backend', [v('b1', '10.0.0.1', 'v1'), v('b2', '10.0.0.2', 'v2')], { inbounds: [forWeb] }),
    service(NS, 'web', [instance('w1', '10.0.1.1')]),
    service(NS, 'api', [instance('a1', '10.0.2.1')]),
  );
}

test('an on-demand sidecar holds its own clusters and offers every outbound cluster by name only', () => {
  const t = createTranslator().translate(world(), sidecar(NS, { service: 'web', metadata: ON_DEMAND }));
  const cds = t.snapshot.resources[CLUSTER_TYPE];
  assert.deepEqual([...cds.items.keys()].sort(), ['INBOUND|prod|web', 'PassthroughCluster']);
  assert.ok(lookup(cds, outboundCluster(NS, 'backend')));
  assert.equal(lookup(cds, outboundCluster(NS, 'nope')), undefined);
  const rc = resource(t.snapshot, 'rds', OUTBOUND_ROUTE_CONFIG);
  assert.deepEqual(rc.virtualHosts ?? [], []);
  assert.ok(rc.vhds?.configSource?.ads, 'VHDS over ADS');
  const hcm = resource(t.snapshot, 'lds', 'OUTBOUND_15001').filterChains[0].filters[0].typedConfig;
  assert.deepEqual(
    hcm.httpFilters.map((f: Json) => f.name),
    ['envoy.filters.http.on_demand', 'envoy.filters.http.router'],
  );
  // Consistent both ways: every assignment is named by a cluster the client may hold.
  assert.deepEqual(consistent(t.snapshot), []);
});

test("VHDS names resolve to the caller's virtual host of the service owning the host, with that one domain", () => {
  const m = world();
  const tr = createTranslator();
  const web = tr.translate(m, sidecar(NS, { service: 'web', metadata: ON_DEMAND })).snapshot.resources[VHOST_TYPE];
  const api = tr.translate(m, sidecar(NS, { service: 'api', metadata: ON_DEMAND })).snapshot.resources[VHOST_TYPE];
  const full = tr.translate(m, sidecar(NS, { service: 'web' })).snapshot;
  const name = `${OUTBOUND_ROUTE_CONFIG}/Backend.prod`;
  const got = decodeResource(lookup(web, name)!);
  assert.equal(got.name, name);
  assert.deepEqual(got.domains, ['backend.prod']);
  // Routes exactly as the full-state sidecar of the same caller has them, the caller's rule first.
  assert.deepEqual(got.routes, vhostOf(full, OUTBOUND_ROUTE_CONFIG, outboundCluster(NS, 'backend')).routes);
  assert.equal(got.routes.length, 2);
  // Another caller does not get web's rule.
  assert.equal(decodeResource(lookup(api, name)!).routes.length, 1);
  assert.equal(lookup(web, name)!.version === lookup(api, name)!.version, false);
});

test('a host no service owns passes through; a name that is not a host resolves to a host that matches nothing', () => {
  const vh = createTranslator().translate(world(), sidecar(NS, { service: 'web', metadata: ON_DEMAND })).snapshot
    .resources[VHOST_TYPE];
  const ext = decodeResource(lookup(vh, `${OUTBOUND_ROUTE_CONFIG}/example.com:443`)!);
  assert.deepEqual(ext.domains, ['example.com:443']);
  assert.equal(ext.routes[0].route.cluster, 'PassthroughCluster');
  for (const bad of [`${OUTBOUND_ROUTE_CONFIG}/a b`, `${OUTBOUND_ROUTE_CONFIG}/`, 'other/backend.prod']) {
    const r = decodeResource(lookup(vh, bad)!);
    assert.equal(r.name, bad);
    assert.equal(r.routes ?? undefined, undefined);
    assert.match(r.domains[0], /\.not-found\.polaris-xds\.invalid$/);
  }
});

test('a sidecar without the key, and one on SotW, are full-state', () => {
  const t = createTranslator().translate(world(), sidecar(NS, { service: 'web' }));
  assert.ok(t.snapshot.resources[CLUSTER_TYPE].items.has(outboundCluster(NS, 'backend')));
  assert.equal(t.snapshot.resources[CLUSTER_TYPE].named, undefined);
  assert.equal(resource(t.snapshot, 'rds', OUTBOUND_ROUTE_CONFIG).vhds, undefined);
});
