// EDS: which instances become endpoints, with which health, weight, locality and metadata; and
// nearby routing's per-caller priorities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { outboundCluster } from '../../../../src/xds/translate/names.js';
import type { Instance, Service } from '../../../../src/model/mesh.js';
import type { NodeView } from '../../../../src/xds/translate/view.js';
import { resource, structOf, wrapped, type Json } from './support/envoy-protos.js';
import { instance, mesh, proxyless, service, sidecar } from './support/fixtures.js';

function cla(svc: Service, view: NodeView = sidecar('ns')) {
  const t = createTranslator().translate(mesh(svc), view);
  return { t, cla: resource(t.snapshot, 'eds', outboundCluster(svc.namespace, svc.name)) };
}

const loc = (region: string, zone: string, campus = '') => ({ locality: { region, zone, campus } });

function summary(c: Json): Array<[number, string, string[]]> {
  return (c.endpoints as Json[]).map((e) => [
    e.priority ?? 0,
    [e.locality.region ?? '', e.locality.zone ?? '', e.locality.subZone ?? ''].join('/'),
    (e.lbEndpoints as Json[]).map(
      (l) => `${l.endpoint.address.socketAddress.address}:${l.endpoint.address.socketAddress.portValue}`,
    ),
  ]);
}

test('instances are grouped by locality (region/zone/campus → region/zone/sub_zone), sorted, each group weighted', () => {
  const { cla: c } = cla(
    service('ns', 'svc', [
      instance('a', '10.0.0.3', { ...loc('r1', 'z2'), weight: 50 }),
      instance('b', '10.0.0.1', { ...loc('r1', 'z1', 'c1') }),
      instance('c', '10.0.0.2', { ...loc('r1', 'z2'), port: 9090 }),
      instance('d', '10.0.0.2', { ...loc('r1', 'z2'), port: 80 }),
      instance('e', '10.0.0.9'),
    ]),
  );
  assert.equal(c.clusterName, outboundCluster('ns', 'svc'));
  assert.deepEqual(summary(c), [
    [0, '//', ['10.0.0.9:8080']],
    [0, 'r1/z1/c1', ['10.0.0.1:8080']],
    [0, 'r1/z2/', ['10.0.0.2:80', '10.0.0.2:9090', '10.0.0.3:8080']],
  ]);
  // Every group carries a locality (grpc-js requires one) and a weight: the sum of its endpoints' weights.
  for (const e of c.endpoints) assert.ok(e.locality !== undefined);
  assert.deepEqual(
    c.endpoints.map((e: Json) => wrapped(e.loadBalancingWeight)),
    [100, 100, 250],
  );
  assert.equal(c.policy, undefined);
});

test('weight is load_balancing_weight, health is HEALTHY/UNHEALTHY; isolated and weight-0 instances are left out', () => {
  const { cla: c } = cla(
    service('ns', 'svc', [
      instance('a', '10.0.0.1', { weight: 7 }),
      instance('b', '10.0.0.2', { healthy: false }),
      instance('c', '10.0.0.3', { isolate: true }),
      instance('d', '10.0.0.4', { weight: 0 }),
    ]),
  );
  const eps = c.endpoints[0].lbEndpoints as Json[];
  assert.deepEqual(
    eps.map((l) => [l.endpoint.address.socketAddress.address, wrapped(l.loadBalancingWeight), l.healthStatus]),
    [
      ['10.0.0.1', 7, 'HEALTHY'],
      ['10.0.0.2', 100, 'UNHEALTHY'],
    ],
  );
});

test('no healthy instance: every endpoint is sent UNKNOWN, so traffic goes to all of them (polaris-go recovers all)', () => {
  // UNKNOWN is the enum's zero value: on the wire it is the field left out.
  const status = (l: Json) => l.healthStatus ?? 'UNKNOWN';
  const health = (svc: Service) => (cla(svc).cla.endpoints[0].lbEndpoints as Json[]).map(status);
  const one = (healthy: boolean[]) =>
    service(
      'ns',
      'svc',
      healthy.map((h, i) => instance(String(i), `10.0.0.${i + 1}`, { healthy: h })),
    );
  assert.deepEqual(health(one([true, false, false])), ['HEALTHY', 'UNHEALTHY', 'UNHEALTHY']);
  assert.deepEqual(health(one([false, false, false])), ['UNKNOWN', 'UNKNOWN', 'UNKNOWN']);
  // Nearby: with none healthy anywhere, the nearest level keeps priority 0 and gets the traffic.
  const svc = service(
    'ns',
    'svc',
    NEARBY.map((i) => ({ ...i, healthy: false })),
    { metadata: { 'internal-enable-nearby': 'true' } },
  );
  const c = cla(svc, sidecar('ns', { locality: { region: 'r1', zone: 'z1' } })).cla;
  assert.deepEqual(
    (c.endpoints as Json[]).map((e) => [e.priority ?? 0, (e.lbEndpoints as Json[]).map(status)]),
    [
      [0, ['UNKNOWN']],
      [0, ['UNKNOWN']],
      [1, ['UNKNOWN']],
      [2, ['UNKNOWN']],
      [2, ['UNKNOWN']],
    ],
  );
});

test('envoy.lb metadata is the instance metadata without internal-* keys', () => {
  const { cla: c } = cla(
    service('ns', 'svc', [
      instance('a', '10.0.0.1', { metadata: { version: 'v1', 'internal-register-from': 'xdsv3', env: 'prod' } }),
      instance('b', '10.0.0.2', { metadata: { 'internal-lastheartbeat': '1' } }),
    ]),
  );
  const [a, b] = c.endpoints[0].lbEndpoints as Json[];
  assert.deepEqual(structOf(a.metadata.filterMetadata['envoy.lb']), { env: 'prod', version: 'v1' });
  assert.equal(b.metadata, undefined);
});

test('host names, bad ports and duplicate addresses are left out with a reason', () => {
  const { t, cla: c } = cla(
    service('ns', 'svc', [
      instance('a', 'backend.example.com'),
      instance('b', '10.0.0.1', { port: 0 }),
      instance('c', '10.0.0.2'),
      instance('d', '10.0.0.2'),
      instance('e', 'fd00::1'),
    ]),
  );
  assert.deepEqual(summary(c)[0]![2], ['10.0.0.2:8080', 'fd00::1:8080']);
  const paths = t.skipped.filter((s) => s.kind === 'endpoint').map((s) => s.path);
  assert.deepEqual(paths, ['ns/svc.instances[a]', 'ns/svc.instances[b]', 'ns/svc.instances[d]']);
  assert.match(t.skipped.find((s) => s.path.endsWith('[a]'))!.reason, /IP/);
  assert.match(t.skipped.find((s) => s.path.endsWith('[d]'))!.reason, /already used by instance c/);
});

test('a service with no routable instance still gets an (empty) assignment', () => {
  const { cla: c } = cla(service('ns', 'svc', [instance('a', '10.0.0.1', { isolate: true })]));
  assert.deepEqual(c.endpoints ?? [], []);
});

const NEARBY = [
  instance('same-zone', '10.0.0.1', loc('r1', 'z1', 'c1')),
  instance('same-campus', '10.0.0.2', loc('r1', 'z1', 'c2')),
  instance('same-region', '10.0.0.3', loc('r1', 'z2')),
  instance('far', '10.0.0.4', loc('r2', 'z9')),
  instance('nowhere', '10.0.0.5'),
];

test('nearby routing: same zone is priority 0, same region 1, the rest 2', () => {
  const svc = service('ns', 'svc', NEARBY, { metadata: { 'polaris-xds.io/nearby': 'zone' } });
  const { cla: c } = cla(svc, sidecar('ns', { locality: { region: 'r1', zone: 'z1', subZone: 'c1' } }));
  assert.deepEqual(
    summary(c).map(([p, , eps]) => [p, eps]),
    [
      [0, ['10.0.0.1:8080']],
      [0, ['10.0.0.2:8080']],
      [1, ['10.0.0.3:8080']],
      [2, ['10.0.0.5:8080']],
      [2, ['10.0.0.4:8080']],
    ],
  );
});

test('nearby levels: campus and region, and priorities without gaps when a level is empty', () => {
  const campus = cla(
    service('ns', 'svc', NEARBY, { metadata: { 'polaris-xds.io/nearby': 'campus' } }),
    sidecar('ns', { locality: { region: 'r1', zone: 'z1', subZone: 'c1' } }),
  );
  assert.deepEqual(
    summary(campus.cla).map(([p, l]) => [p, l]),
    [
      [0, 'r1/z1/c1'],
      [1, 'r1/z1/c2'],
      [2, 'r1/z2/'],
      [3, '//'],
      [3, 'r2/z9/'],
    ],
  );
  const region = cla(
    service('ns', 'svc', NEARBY, { metadata: { 'polaris-xds.io/nearby': 'region' } }),
    sidecar('ns', { locality: { region: 'r2' } }),
  );
  assert.deepEqual(
    summary(region.cla).map(([p, l]) => [p, l]),
    [
      [0, 'r2/z9/'],
      [1, '//'],
      [1, 'r1/z1/c1'],
      [1, 'r1/z1/c2'],
      [1, 'r1/z2/'],
    ],
  );
  // No instance in the caller's zone: the region becomes priority 0.
  const gap = cla(
    service('ns', 'svc', NEARBY, { metadata: { 'polaris-xds.io/nearby': 'true' } }),
    proxyless('ns', { locality: { region: 'r1', zone: 'z7' } }),
  );
  assert.deepEqual([...new Set(summary(gap.cla).map(([p]) => p))], [0, 1]);
});

test("Polaris's switch internal-enable-nearby turns on the SDKs' default (zone, widening to all); the project key chooses another level and wins", () => {
  const caller = sidecar('ns', { locality: { region: 'r1', zone: 'z1', subZone: 'c1' } });
  const priorities = (metadata: Record<string, string>) =>
    summary(cla(service('ns', 'svc', NEARBY, { metadata }), caller).cla).map(([p, l]) => [p, l]);
  const zone = [
    [0, 'r1/z1/c1'],
    [0, 'r1/z1/c2'],
    [1, 'r1/z2/'],
    [2, '//'],
    [2, 'r2/z9/'],
  ];
  assert.deepEqual(priorities({ 'internal-enable-nearby': 'true' }), zone);
  // polaris-go reads the value with Go's strconv.ParseBool.
  assert.deepEqual(priorities({ 'internal-enable-nearby': 'True' }), zone);
  assert.deepEqual(priorities({ 'internal-enable-nearby': '1' }), zone);
  assert.deepEqual([...new Set(priorities({ 'internal-enable-nearby': 'false' }).map(([p]) => p))], [0]);
  assert.deepEqual([...new Set(priorities({ 'internal-enable-nearby': 'yes' }).map(([p]) => p))], [0]);
  // The project key wins: another level, or off.
  assert.deepEqual(
    [...new Set(priorities({ 'internal-enable-nearby': 'true', 'polaris-xds.io/nearby': 'region' }).map(([p]) => p))],
    [0, 1],
  );
  assert.deepEqual(
    [...new Set(priorities({ 'internal-enable-nearby': 'true', 'polaris-xds.io/nearby': 'off' }).map(([p]) => p))],
    [0],
  );
  assert.deepEqual(priorities({ 'internal-enable-nearby': 'true', 'polaris-xds.io/nearby': 'campus' })[1], [
    1,
    'r1/z1/c2',
  ]);
});

test('nearby routing needs both the service opt-in and a caller locality', () => {
  const off = cla(service('ns', 'svc', NEARBY), sidecar('ns', { locality: { region: 'r1', zone: 'z1' } }));
  assert.deepEqual([...new Set(summary(off.cla).map(([p]) => p))], [0]);
  const noLocality = cla(
    service('ns', 'svc', NEARBY, { metadata: { 'polaris-xds.io/nearby': 'zone' } }),
    sidecar('ns'),
  );
  assert.deepEqual([...new Set(summary(noLocality.cla).map(([p]) => p))], [0]);
});

test('the instance order in the model does not change the assignment bytes', () => {
  const insts: Instance[] = [
    instance('a', '10.0.0.2'),
    instance('b', '10.0.0.1'),
    instance('c', '10.0.0.3', loc('r', 'z')),
  ];
  const one = cla(service('ns', 'svc', insts)).t;
  const two = cla(service('ns', 'svc', [...insts].reverse())).t;
  const name = outboundCluster('ns', 'svc');
  const key = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
  assert.deepEqual(one.snapshot.resources[key].items.get(name)!.any, two.snapshot.resources[key].items.get(name)!.any);
});
