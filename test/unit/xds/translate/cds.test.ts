// CDS: service clusters (EDS over ADS), HTTP/2 for gRPC, PassthroughCluster, the inbound cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { speaksHttp2 } from '../../../../src/xds/translate/cds.js';
import { inboundCluster, outboundCluster, PASSTHROUGH_CLUSTER } from '../../../../src/xds/translate/names.js';
import { decoded, resource, wrapped, type Json } from './support/envoy-protos.js';
import { gateway, instance, mesh, proxyless, service, sidecar } from './support/fixtures.js';

const H2_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

test('every service is an EDS cluster over ADS, named and looked up as OUTBOUND|<ns>|<svc>', () => {
  const t = createTranslator().translate(
    mesh(service('a', 'x', [instance('1', '10.0.0.1')]), service('b', 'y', [])),
    sidecar('a'),
  );
  for (const [ns, svc] of [
    ['a', 'x'],
    ['b', 'y'],
  ] as const) {
    const c = resource(t.snapshot, 'cds', outboundCluster(ns, svc));
    assert.equal(c.type, 'EDS');
    assert.deepEqual(c.edsClusterConfig, {
      edsConfig: { ads: {}, resourceApiVersion: 'V3' },
      serviceName: outboundCluster(ns, svc),
    });
    assert.deepEqual(c.connectTimeout, { seconds: '5' });
    assert.ok(c.lbPolicy === undefined || c.lbPolicy === 'ROUND_ROBIN');
    assert.equal(c.typedExtensionProtocolOptions, undefined);
  }
});

test('every EDS cluster (service and rule) has no panic threshold: unhealthy instances get traffic only when none is healthy', () => {
  const svc = service(
    'a',
    'x',
    [
      instance('1', '10.0.0.1', { metadata: { v: '1' } }),
      instance('2', '10.0.0.2', { metadata: { v: '2' }, healthy: false }),
    ],
    {
      inbounds: [
        {
          id: 'r0',
          name: 'r0',
          priority: 0,
          sources: [{ service: '*', namespace: '*', match: {} }],
          destinations: [
            {
              service: 'x',
              namespace: 'a',
              labels: { v: { type: 'EXACT', value: '1', valueType: 'TEXT' } },
              priority: 0,
              weight: 100,
              isolate: false,
              name: '',
            },
          ],
        },
      ],
    },
  );
  const t = createTranslator().translate(mesh(svc), sidecar('a'));
  const names = [...decoded(t.snapshot, 'cds').keys()].filter(
    (n) => n !== PASSTHROUGH_CLUSTER && !n.startsWith('INBOUND'),
  );
  assert.ok(names.length >= 2, `a service cluster and a rule cluster: ${names.join(', ')}`);
  for (const n of names) assert.deepEqual(resource(t.snapshot, 'cds', n).commonLbConfig?.healthyPanicThreshold, {}, n);
});

test('grpc, http2 and h2c instances get an explicit HTTP/2 upstream', () => {
  for (const protocol of ['grpc', 'GRPC', 'http2', 'h2c']) {
    const t = createTranslator().translate(
      mesh(service('a', 'x', [instance('1', '10.0.0.1', { protocol }), instance('2', '10.0.0.2', { protocol: '' })])),
      sidecar('a'),
    );
    const opts = resource(t.snapshot, 'cds', outboundCluster('a', 'x')).typedExtensionProtocolOptions[H2_KEY];
    assert.equal(opts['@type'], `type.googleapis.com/${H2_KEY}`, protocol);
    assert.deepEqual(opts.explicitHttpConfig, { http2ProtocolOptions: {} });
  }
});

test('speaksHttp2 wants every declared protocol to be HTTP/2', () => {
  assert.equal(
    speaksHttp2([instance('1', 'h', { protocol: 'grpc' }), instance('2', 'h', { protocol: 'http' })]),
    false,
  );
  assert.equal(speaksHttp2([instance('1', 'h', { protocol: '' })]), false);
  assert.equal(speaksHttp2([]), false);
  assert.equal(speaksHttp2([instance('1', 'h', { protocol: 'grpc' }), instance('2', 'h', { protocol: '' })]), true);
});

test('PassthroughCluster (ORIGINAL_DST) is for sidecars only', () => {
  const m = mesh(service('a', 'x', []));
  const p = resource(createTranslator().translate(m, sidecar('a')).snapshot, 'cds', PASSTHROUGH_CLUSTER);
  assert.equal(p.type, 'ORIGINAL_DST');
  assert.equal(p.lbPolicy, 'CLUSTER_PROVIDED');
  assert.equal(wrapped(p.circuitBreakers.thresholds[0].maxConnections), 4294967295);
  for (const view of [gateway('a', 'gw'), proxyless('a')])
    assert.ok(!decoded(createTranslator().translate(m, view).snapshot, 'cds').has(PASSTHROUGH_CLUSTER));
});

function inboundEndpoints(c: Json): string[] {
  return (c.loadAssignment.endpoints as Json[]).flatMap((e) =>
    (e.lbEndpoints as Json[]).map(
      (l) => `${l.endpoint.address.socketAddress.address}:${l.endpoint.address.socketAddress.portValue}`,
    ),
  );
}

test('the inbound cluster is static, at 127.0.0.1 on the own service’s instance ports', () => {
  const own = service('a', 'x', [
    instance('1', '10.0.0.1', { port: 8080, protocol: 'grpc' }),
    instance('2', '10.0.0.2', { port: 8080, protocol: 'grpc' }),
  ]);
  const t = createTranslator().translate(mesh(own), sidecar('a', { service: 'x' }));
  const c = resource(t.snapshot, 'cds', inboundCluster('a', 'x'));
  assert.equal(c.type, 'STATIC');
  assert.deepEqual(inboundEndpoints(c), ['127.0.0.1:8080']);
  assert.ok(c.typedExtensionProtocolOptions[H2_KEY]);
  assert.ok(!decoded(t.snapshot, 'cds').has(inboundCluster('a', 'x', 8080)));
});

test('several ports give one cluster per port plus one for all of them', () => {
  const own = service('a', 'x', [instance('1', '10.0.0.1', { port: 9090 }), instance('2', '10.0.0.1', { port: 8080 })]);
  const t = createTranslator().translate(mesh(own), sidecar('a', { service: 'x' }));
  assert.deepEqual(inboundEndpoints(resource(t.snapshot, 'cds', inboundCluster('a', 'x'))), [
    '127.0.0.1:8080',
    '127.0.0.1:9090',
  ]);
  assert.deepEqual(inboundEndpoints(resource(t.snapshot, 'cds', inboundCluster('a', 'x', 9090))), ['127.0.0.1:9090']);
});

test('without instances the inbound ports come from bindPorts; without either there is no inbound', () => {
  const t = createTranslator().translate(
    mesh(),
    sidecar('a', { service: 'x', metadata: { 'sidecar.polarismesh.cn/bindPorts': '7070' } }),
  );
  assert.deepEqual(inboundEndpoints(resource(t.snapshot, 'cds', inboundCluster('a', 'x'))), ['127.0.0.1:7070']);
  const none = createTranslator().translate(mesh(), sidecar('a', { service: 'x' }));
  assert.deepEqual([...decoded(none.snapshot, 'cds').keys()], [PASSTHROUGH_CLUSTER]);
  assert.equal(decoded(none.snapshot, 'lds').size, 1);
});
