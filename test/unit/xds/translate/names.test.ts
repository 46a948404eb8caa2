// Resource names: Polaris's own, kept exactly for drop-in compatibility.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as names from '../../../../src/xds/translate/names.js';

test('names match Polaris’s xds-v3 server', () => {
  assert.equal(names.outboundCluster('ns', 'svc'), 'OUTBOUND|ns|svc');
  assert.equal(names.inboundCluster('ns', 'svc'), 'INBOUND|ns|svc');
  assert.equal(names.PASSTHROUGH_CLUSTER, 'PassthroughCluster');
  assert.equal(names.OUTBOUND_ROUTE_CONFIG, 'polaris-outbound-router');
  assert.equal(names.GATEWAY_ROUTE_CONFIG, 'polaris-outbound-router-gateway');
  assert.equal(names.inboundRouteConfig('ns', 'svc'), 'polaris-inbound-cluster|svc.ns');
  assert.equal(names.outboundListener(15001), 'OUTBOUND_15001');
  assert.equal(names.inboundListener('ns', 'svc', 15006), 'svc.ns_INBOUND_15006');
});

test('our own names extend Polaris’s without clashing with them', () => {
  assert.equal(names.ruleCluster('ns', 'svc', 'abc123'), 'OUTBOUND|ns|svc|abc123');
  assert.equal(names.inboundCluster('ns', 'svc', 8080), 'INBOUND|ns|svc|8080');
  assert.equal(names.inboundRouteConfig('ns', 'svc', 8080), 'polaris-inbound-cluster|svc.ns|8080');
  assert.equal(names.gatewayListener(8080), 'GATEWAY_8080');
  assert.equal(names.proxylessRouteConfig('ns', 'svc'), 'polaris-outbound-router/svc.ns');
  // Dotted names would be ambiguous in that form: prod/api.dev and dev.prod/api must not share one.
  assert.notEqual(names.proxylessRouteConfig('prod', 'api.dev'), names.proxylessRouteConfig('dev.prod', 'api'));
});

test('hostNames lists the namespaced forms, then the short form for the same namespace, each with ports', () => {
  assert.deepEqual(
    names.hostNames('ns', 'svc', [80], true).map((h) => `${h.rank}:${h.name}`),
    [
      '0:svc.ns',
      '0:svc.ns:80',
      '0:svc.ns.svc',
      '0:svc.ns.svc:80',
      '0:svc.ns.svc.cluster',
      '0:svc.ns.svc.cluster:80',
      '0:svc.ns.svc.cluster.local',
      '0:svc.ns.svc.cluster.local:80',
      '1:svc',
      '1:svc:80',
    ],
  );
  assert.equal(names.hostNames('ns', 'svc', [], false).length, 4);
});
