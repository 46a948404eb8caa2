// LDS: the sidecar's outbound and inbound listeners, the gateway listener, proxyless API listeners.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import {
  GATEWAY_ROUTE_CONFIG,
  inboundRouteConfig,
  OUTBOUND_ROUTE_CONFIG,
  PASSTHROUGH_CLUSTER,
  proxylessRouteConfig,
} from '../../../../src/xds/translate/names.js';
import { decoded, resource, wrapped, type Json } from './support/envoy-protos.js';
import { gateway, instance, mesh, proxyless, service, sidecar } from './support/fixtures.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function assertHcm(filter: Json, routeConfigName: string): void {
  assert.equal(filter.name, 'envoy.filters.network.http_connection_manager');
  const h = filter.typedConfig;
  assert.equal(h['@type'], HCM);
  assert.ok(h.codecType === undefined || h.codecType === 'AUTO');
  assert.ok(h.statPrefix);
  assert.deepEqual(h.rds, { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName });
  assert.deepEqual(h.httpFilters, [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }]);
}

const socket = (l: Json) => `${l.address.socketAddress.address}:${l.address.socketAddress.portValue}`;

test('OUTBOUND_15001 routes direct connections and intercepted HTTP by Host, and proxies other TCP to the original destination', () => {
  const l = resource(createTranslator().translate(mesh(), sidecar('ns')).snapshot, 'lds', 'OUTBOUND_15001');
  assert.equal(socket(l), '0.0.0.0:15001');
  assert.deepEqual(
    l.listenerFilters.map((f: Json) => f.name),
    ['envoy.filters.listener.original_dst', 'envoy.filters.listener.http_inspector'],
  );
  assert.equal(l.continueOnListenerFiltersTimeout, true);
  const [direct, http] = l.filterChains as Json[];
  // Sent straight to the listener (no iptables): matched by its own port, whatever the protocol sniffing says.
  assert.equal(wrapped(direct.filterChainMatch.destinationPort), 15001);
  assertHcm(direct.filters[0], OUTBOUND_ROUTE_CONFIG);
  assert.deepEqual(http.filterChainMatch.applicationProtocols, ['http/1.0', 'http/1.1', 'h2c']);
  assertHcm(http.filters[0], OUTBOUND_ROUTE_CONFIG);
  const tcp = l.defaultFilterChain.filters[0];
  assert.equal(tcp.name, 'envoy.filters.network.tcp_proxy');
  assert.equal(tcp.typedConfig.cluster, PASSTHROUGH_CLUSTER);
});

test('listener ports can be moved with node metadata (and the names follow)', () => {
  const t = createTranslator().translate(
    mesh(service('ns', 'x', [instance('1', '10.0.0.1')])),
    sidecar('ns', {
      service: 'x',
      metadata: { 'polaris-xds.io/outbound-port': '25001', 'polaris-xds.io/inbound-port': '25006' },
    }),
  );
  assert.deepEqual([...decoded(t.snapshot, 'lds').keys()], ['OUTBOUND_25001', 'x.ns_INBOUND_25006']);
  assert.equal(
    wrapped(resource(t.snapshot, 'lds', 'OUTBOUND_25001').filterChains[0].filterChainMatch.destinationPort),
    25001,
  );
});

test('<svc>.<ns>_INBOUND_15006 has one chain per port when the service has several, and a catch-all', () => {
  const single = createTranslator().translate(
    mesh(service('ns', 'x', [instance('1', '10.0.0.1')])),
    sidecar('ns', { service: 'x' }),
  );
  const l1 = resource(single.snapshot, 'lds', 'x.ns_INBOUND_15006');
  assert.equal(socket(l1), '0.0.0.0:15006');
  assert.equal(l1.filterChains.length, 1);
  assert.equal(l1.filterChains[0].filterChainMatch, undefined);
  assertHcm(l1.filterChains[0].filters[0], inboundRouteConfig('ns', 'x'));

  const multi = createTranslator().translate(
    mesh(service('ns', 'x', [instance('1', '10.0.0.1', { port: 80 }), instance('2', '10.0.0.1', { port: 81 })])),
    sidecar('ns', { service: 'x' }),
  );
  const chains = resource(multi.snapshot, 'lds', 'x.ns_INBOUND_15006').filterChains as Json[];
  assert.deepEqual(
    chains.map((c) => [wrapped(c.filterChainMatch?.destinationPort), c.filters[0].typedConfig.rds.routeConfigName]),
    [
      [80, inboundRouteConfig('ns', 'x', 80)],
      [81, inboundRouteConfig('ns', 'x', 81)],
      [undefined, inboundRouteConfig('ns', 'x')],
    ],
  );
});

test('a gateway gets one HTTP listener on its port with the gateway route configuration', () => {
  const t = createTranslator().translate(mesh(), gateway('edge', 'gw', { 'polaris-xds.io/gateway-port': '8080' }));
  const ls = decoded(t.snapshot, 'lds');
  assert.deepEqual([...ls.keys()], ['GATEWAY_8080']);
  const l = ls.get('GATEWAY_8080');
  assert.equal(socket(l), '0.0.0.0:8080');
  assertHcm(l.filterChains[0].filters[0], GATEWAY_ROUTE_CONFIG);
});

test('a gateway listens on outbound-port when gateway-port is absent (what `bootstrap --gateway --outbound-port` sets)', () => {
  const listeners = (md: Record<string, string>) => [
    ...decoded(createTranslator().translate(mesh(), gateway('edge', 'gw', md)).snapshot, 'lds').keys(),
  ];
  assert.deepEqual(listeners({ 'polaris-xds.io/outbound-port': '18001' }), ['GATEWAY_18001']);
  assert.deepEqual(listeners({ 'polaris-xds.io/outbound-port': '18001', 'polaris-xds.io/gateway-port': '8080' }), [
    'GATEWAY_8080',
  ]);
  assert.deepEqual(listeners({}), ['GATEWAY_15001']);
});

test('proxyless clients get an API listener per name they may dial: svc.ns forms, svc in their namespace, with ports', () => {
  const m = mesh(service('ns', 'greeter', [instance('1', '10.0.0.1', { port: 50051 })]), service('other', 'echo', []));
  const t = createTranslator().translate(m, proxyless('ns'));
  const names = [...decoded(t.snapshot, 'lds').keys()];
  for (const n of [
    'greeter.ns',
    'greeter.ns:50051',
    'greeter',
    'greeter:50051',
    'greeter.ns.svc.cluster.local',
    'echo.other',
  ])
    assert.ok(names.includes(n), n);
  assert.ok(!names.includes('echo'));
  const l = resource(t.snapshot, 'lds', 'greeter.ns');
  assert.equal(l.address, undefined);
  assert.equal(l.listenerFilters, undefined);
  const h = l.apiListener.apiListener;
  assert.equal(h['@type'], HCM);
  assert.deepEqual(h.rds, {
    configSource: { ads: {}, resourceApiVersion: 'V3' },
    routeConfigName: proxylessRouteConfig('ns', 'greeter'),
  });
  assert.deepEqual(h.httpFilters, [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }]);
});
