// RDS: virtual hosts and their domains, passthrough, inbound and gateway route configurations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import {
  GATEWAY_ROUTE_CONFIG,
  inboundCluster,
  inboundRouteConfig,
  OUTBOUND_ROUTE_CONFIG,
  outboundCluster,
  PASSTHROUGH_CLUSTER,
} from '../../../../src/xds/translate/names.js';
import { PASSTHROUGH_GUARD } from '../../../../src/xds/translate/rds.js';
import { decoded, resource, vhostOf, type Json } from './support/envoy-protos.js';
import { dest, gateway, instance, mesh, ms, rule, service, sidecar, source } from './support/fixtures.js';

test('a service is reachable by svc.ns, the .svc.cluster.local forms and, in its own namespace, svc; each also with :port', () => {
  const m = mesh(
    service('shop', 'Cart', [instance('1', '10.0.0.1', { port: 8080 }), instance('2', '10.0.0.2', { port: 9090 })]),
  );
  const own = vhostOf(
    createTranslator().translate(m, sidecar('shop')).snapshot,
    OUTBOUND_ROUTE_CONFIG,
    outboundCluster('shop', 'Cart'),
  );
  const base = ['cart.shop', 'cart.shop.svc', 'cart.shop.svc.cluster', 'cart.shop.svc.cluster.local', 'cart'];
  assert.deepEqual(
    own.domains,
    base.flatMap((d) => [d, `${d}:8080`, `${d}:9090`]),
  );
  const other = vhostOf(
    createTranslator().translate(m, sidecar('elsewhere')).snapshot,
    OUTBOUND_ROUTE_CONFIG,
    outboundCluster('shop', 'Cart'),
  );
  assert.ok(!other.domains.includes('cart'));
  assert.ok(other.domains.includes('cart.shop:9090'));
});

test('no domain is claimed twice: the namespaced form beats the short one, then the lower service key, with a reason', () => {
  // `a.b` in namespace `own` is `a.b` for callers in `own`; so is service `a` in namespace `b`.
  const m = mesh(service('own', 'a.b', []), service('b', 'a', []), service('b.c', 'a', []), service('c', 'a.b', []));
  const t = createTranslator().translate(m, sidecar('own'));
  const rc = resource(t.snapshot, 'rds', OUTBOUND_ROUTE_CONFIG);
  const all = (rc.virtualHosts as Json[]).flatMap((v) => v.domains as string[]);
  assert.equal(new Set(all).size, all.length, 'duplicate domains');
  assert.ok(vhostOf(t.snapshot, OUTBOUND_ROUTE_CONFIG, outboundCluster('b', 'a')).domains.includes('a.b'));
  assert.ok(!vhostOf(t.snapshot, OUTBOUND_ROUTE_CONFIG, outboundCluster('own', 'a.b')).domains.includes('a.b'));
  // Service `a` of namespace `b.c` and service `a.b` of namespace `c` share every name; `b.c/a`
  // sorts first, so `c/a.b` keeps none and has no virtual host (its cluster stays).
  assert.ok(vhostOf(t.snapshot, OUTBOUND_ROUTE_CONFIG, outboundCluster('b.c', 'a')).domains.includes('a.b.c'));
  assert.ok(!(rc.virtualHosts as Json[]).some((v) => v.name === outboundCluster('c', 'a.b')));
  assert.ok(decoded(t.snapshot, 'cds').has(outboundCluster('c', 'a.b')));
  const reasons = t.skipped.filter((s) => s.kind === 'domain');
  assert.ok(
    reasons.some((s) => s.path === 'own/a.b' && /a\.b also names b\/a/.test(s.reason)),
    JSON.stringify(reasons),
  );
  assert.ok(reasons.some((s) => s.path === 'c/a.b' && /b\.c\/a/.test(s.reason)));
});

test('services whose names cannot be host names get a cluster but no virtual host', () => {
  const t = createTranslator().translate(
    mesh(service('ns', 'providers:com.example.Api:1.0', [instance('1', '10.0.0.1')])),
    sidecar('ns'),
  );
  assert.ok(decoded(t.snapshot, 'cds').has(outboundCluster('ns', 'providers:com.example.Api:1.0')));
  assert.deepEqual(
    resource(t.snapshot, 'rds', OUTBOUND_ROUTE_CONFIG).virtualHosts.map((v: Json) => v.name),
    ['allow_any'],
  );
  assert.ok(t.skipped.some((s) => s.kind === 'domain' && s.path === 'ns/providers:com.example.Api:1.0'));
});

test('unknown hosts go to PassthroughCluster once: the forwarded request carries a guard and is not passed through again', () => {
  const vh = vhostOf(createTranslator().translate(mesh(), sidecar('ns')).snapshot, OUTBOUND_ROUTE_CONFIG, 'allow_any');
  assert.deepEqual(vh.domains, ['*']);
  const [r] = vh.routes;
  assert.equal(r.route.cluster, PASSTHROUGH_CLUSTER);
  assert.deepEqual(r.match.headers, [{ name: PASSTHROUGH_GUARD, presentMatch: true, invertMatch: true }]);
  assert.equal(r.requestHeadersToAdd[0].header.key, PASSTHROUGH_GUARD);
  // The caller headers the sidecar writes are for mesh services: external hosts do not get them.
  assert.deepEqual(vh.requestHeadersToRemove, [
    'x-polaris-xds-caller-namespace',
    'x-polaris-xds-caller-service',
    'x-polaris-xds-caller-ip',
  ]);
});

test('routes carry no timeout (0s disables Envoy’s 15 s default, so streams live)', () => {
  const vh = vhostOf(
    createTranslator().translate(mesh(service('ns', 'a', [])), sidecar('ns')).snapshot,
    OUTBOUND_ROUTE_CONFIG,
    outboundCluster('ns', 'a'),
  );
  assert.deepEqual(vh.routes[0].route.timeout, {});
});

test('the inbound route configuration sends everything to the inbound cluster', () => {
  const own = service('ns', 'x', [
    instance('1', '10.0.0.1', { port: 8080 }),
    instance('2', '10.0.0.1', { port: 9090 }),
  ]);
  const t = createTranslator().translate(mesh(own), sidecar('ns', { service: 'x' }));
  const rc = resource(t.snapshot, 'rds', inboundRouteConfig('ns', 'x'));
  assert.equal(rc.name, 'polaris-inbound-cluster|x.ns');
  assert.deepEqual(
    rc.virtualHosts.map((v: Json) => [v.name, v.domains, v.routes.map((r: Json) => r.route.cluster)]),
    [[inboundCluster('ns', 'x'), ['*'], [inboundCluster('ns', 'x')]]],
  );
  assert.equal(
    resource(t.snapshot, 'rds', inboundRouteConfig('ns', 'x', 9090)).virtualHosts[0].routes[0].route.cluster,
    inboundCluster('ns', 'x', 9090),
  );
});

test('a gateway routes hosts like a sidecar, plus its own rules on any host, and never passes through', () => {
  const backend = service('shop', 'backend', [
    instance('b1', '10.0.0.1', { metadata: { version: 'v2' } }),
    instance('b2', '10.0.0.2', { metadata: { version: 'v1' } }),
  ]);
  const orders = service('shop', 'orders', [instance('o1', '10.0.1.1')]);
  const gwCaller = { service: 'gw', namespace: 'edge' };
  const gw = service('edge', 'gw', [], {
    outbounds: [
      rule(
        'to-orders',
        [source({ $path: ms('EXACT', '/orders') }, gwCaller)],
        [dest({}, { service: 'orders', namespace: 'shop' })],
      ),
      rule(
        'to-backend-v2',
        [source({ $path: ms('REGEX', '^/api/') }, { service: 'gw', namespace: '*' })],
        [dest({ version: ms('EXACT', 'v2') }, { service: 'backend', namespace: 'shop' })],
      ),
      rule('wildcard-dest', [source({ $path: ms('EXACT', '/x') }, gwCaller)], [dest({})]),
    ],
  });
  const t = createTranslator().translate(mesh(backend, orders, gw), gateway('edge', 'gw'));
  const rc = resource(t.snapshot, 'rds', GATEWAY_ROUTE_CONFIG);
  assert.ok(!(rc.virtualHosts as Json[]).some((v) => v.name === 'allow_any'));
  const star = vhostOf(t.snapshot, GATEWAY_ROUTE_CONFIG, 'gateway');
  assert.deepEqual(star.domains, ['*']);
  assert.deepEqual(
    star.routes.map((r: Json) => r.name),
    ['to-orders', 'to-backend-v2'],
  );
  assert.equal(star.routes[0].route.cluster, outboundCluster('shop', 'orders'));
  const v2 = resource(t.snapshot, 'eds', star.routes[1].route.cluster);
  assert.deepEqual(
    v2.endpoints[0].lbEndpoints.map((l: Json) => l.endpoint.address.socketAddress.address),
    ['10.0.0.1'],
  );
  assert.ok(t.skipped.some((s) => s.path === 'edge/gw.routing.outbounds[wildcard-dest].destinations[0]'));
  assert.ok(
    vhostOf(t.snapshot, GATEWAY_ROUTE_CONFIG, outboundCluster('shop', 'orders')).domains.includes('orders.shop'),
  );
  assert.ok(!decoded(t.snapshot, 'cds').has(PASSTHROUGH_CLUSTER));
});

test("a gateway's any-host routes come only from rules that name it as caller; rules for any caller stay on their service's host", () => {
  const backend = service('shop', 'backend', [
    instance('b1', '10.0.0.1', { metadata: { version: 'v2' } }),
    instance('b2', '10.0.0.2', { metadata: { version: 'v1' } }),
  ]);
  const toV2 = dest({ version: ms('EXACT', 'v2') }, { service: 'backend', namespace: 'shop' });
  const anyCaller = rule('any-caller', [source({ $path: ms('EXACT', '/beta') })], [toV2]);
  const noSources = rule('no-sources', [], [toV2]);
  const otherCaller = rule(
    'other-caller',
    [source({ $path: ms('EXACT', '/other') }, { service: 'web', namespace: 'edge' })],
    [toV2],
  );
  const own = rule('own', [source({ $path: ms('EXACT', '/own') }, { service: 'gw', namespace: 'edge' })], [toV2]);
  const gw = service('edge', 'gw', [], { outbounds: [anyCaller, noSources, otherCaller, own] });
  const backendWithRules = { ...backend, routing: { inbounds: [anyCaller], outbounds: [], revision: 'x' } };
  const t = createTranslator().translate(mesh(backendWithRules, gw), gateway('edge', 'gw'));
  assert.deepEqual(
    vhostOf(t.snapshot, GATEWAY_ROUTE_CONFIG, 'gateway').routes.map((r: Json) => r.name),
    ['own'],
  );
  // The rule for any caller still shapes calls to backend's own host names.
  assert.deepEqual(
    vhostOf(t.snapshot, GATEWAY_ROUTE_CONFIG, outboundCluster('shop', 'backend')).routes.map((r: Json) => r.name),
    ['any-caller', 'default'],
  );
  // Without an own rule there is no any-host virtual host at all: unknown hosts get a 404.
  const none = createTranslator().translate(
    mesh(backendWithRules, service('edge', 'gw', [], { outbounds: [anyCaller, noSources] })),
    gateway('edge', 'gw'),
  );
  assert.ok(
    !(resource(none.snapshot, 'rds', GATEWAY_ROUTE_CONFIG).virtualHosts as Json[]).some((v) => v.name === 'gateway'),
  );
});
