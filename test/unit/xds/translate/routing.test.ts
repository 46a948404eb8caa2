// Routing rules end to end through translate(): which routes a caller gets, in which order, and
// where they send traffic (rule clusters: priorities, group weights, isolation, label matching).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { OUTBOUND_ROUTE_CONFIG, outboundCluster, proxylessRouteConfig } from '../../../../src/xds/translate/names.js';
import { STRICT_OVERPROVISIONING } from '../../../../src/xds/translate/eds.js';
import type { Instance, RouteRule, Service } from '../../../../src/model/mesh.js';
import { resource, vhostOf, wrapped, type Json } from './support/envoy-protos.js';
import { dest, instance, mesh, ms, proxyless, rule, service, sidecar, source } from './support/fixtures.js';

const NS = 'prod';
const v = (id: string, host: string, version: string, o: Partial<Instance> = {}) =>
  instance(id, host, { metadata: { version }, ...o });
const INSTANCES = [
  v('i1', '10.0.0.1', 'v1'),
  v('i2', '10.0.0.2', 'v1'),
  v('i3', '10.0.0.3', 'v2'),
  v('i4', '10.0.0.4', 'v3'),
];

function backend(inbounds: RouteRule[], instances: Instance[] = INSTANCES): Service {
  return service(NS, 'backend', instances, { inbounds });
}

function routesFor(svc: Service, caller = sidecar(NS, { service: 'frontend' }), others: Service[] = []) {
  const t = createTranslator().translate(
    mesh(svc, service(NS, 'frontend', [instance('f1', '10.1.0.1')]), ...others),
    caller,
  );
  const vh = vhostOf(t.snapshot, OUTBOUND_ROUTE_CONFIG, outboundCluster(NS, 'backend'));
  return { t, routes: vh.routes as Json[] };
}

function endpointsOf(
  t: ReturnType<typeof routesFor>['t'],
  cluster: string,
): Array<{ priority: number; weight: unknown; subZone: string; hosts: string[]; health: string[] }> {
  const cla = resource(t.snapshot, 'eds', cluster);
  return (cla.endpoints as Json[]).map((e) => ({
    priority: e.priority ?? 0,
    weight: wrapped(e.loadBalancingWeight),
    subZone: e.locality?.subZone ?? '',
    hosts: (e.lbEndpoints as Json[]).map((l) => l.endpoint.address.socketAddress.address),
    health: (e.lbEndpoints as Json[]).map((l) => l.healthStatus),
  }));
}

const V = (value: string) => ({ version: ms('EXACT', value) });

test('rule routes come first, in rule priority order, and the default route to the whole service last', () => {
  const { routes } = routesFor(
    backend([
      rule('late', [source({ '$header.x-b': ms('EXACT', '1') })], [dest(V('v2'))], 5),
      rule('early', [source({ '$header.x-a': ms('EXACT', '1') })], [dest(V('v1'))], 1),
    ]),
  );
  assert.deepEqual(
    routes.map((r) => r.name),
    ['early', 'late', 'default'],
  );
  assert.equal(routes[0].match.headers[0].name, 'x-a');
  assert.equal(routes.at(-1).route.cluster, outboundCluster(NS, 'backend'));
  assert.deepEqual(routes.at(-1).match, { prefix: '/' });
  assert.notEqual(routes[0].route.cluster, routes[1].route.cluster);
  assert.match(routes[0].route.cluster, /^OUTBOUND\|prod\|backend\|[0-9a-f]{12}$/);
});

test('a rule applies only to the callers its sources name (`*` or empty = any)', () => {
  const rules = [
    rule('for-frontend', [source({}, { service: 'frontend', namespace: NS })], [dest(V('v2'))]),
    rule('for-other-ns', [source({}, { service: '*', namespace: 'staging' })], [dest(V('v3'))]),
    rule('for-anyone', [source({}, { service: '', namespace: '*' })], [dest(V('v1'))]),
  ];
  assert.deepEqual(
    routesFor(backend(rules)).routes.map((r) => r.name),
    ['for-frontend', 'for-anyone', 'default'],
  );
  assert.deepEqual(
    routesFor(backend(rules), sidecar(NS, { service: 'other' })).routes.map((r) => r.name),
    ['for-anyone', 'default'],
  );
  assert.deepEqual(
    routesFor(backend(rules), sidecar('staging', { service: 'x' })).routes.map((r) => r.name),
    ['for-other-ns', 'for-anyone', 'default'],
  );
  // A node that does not say which service it is only gets rules open to every caller.
  assert.deepEqual(
    routesFor(backend(rules), sidecar(NS)).routes.map((r) => r.name),
    ['for-anyone', 'default'],
  );
});

test('sources are ORed (one route each, adjacent), conditions within a source ANDed', () => {
  const { routes } = routesFor(
    backend([
      rule(
        'r',
        [
          source({ '$header.x-a': ms('EXACT', '1'), $path: ms('EXACT', '/p') }),
          source({ '$header.x-b': ms('EXACT', '2') }, { service: 'nobody' }),
          source({ '$query.q': ms('EXACT', '3') }),
        ],
        [dest(V('v2'))],
      ),
    ]),
  );
  assert.deepEqual(
    routes.map((r) => r.name),
    ['r#0', 'r#1', 'default'],
  );
  assert.deepEqual(routes[0].match.path, '/p');
  assert.equal(routes[0].match.headers.length, 1);
  assert.equal(routes[1].match.queryParameters[0].name, 'q');
  assert.equal(routes[0].route.cluster, routes[1].route.cluster);
});

test('a rule with one untranslatable condition is skipped whole, with a reason naming it', () => {
  const { routes, t } = routesFor(
    backend([
      rule(
        'ip',
        [source({ '$header.x-a': ms('EXACT', '1') }), source({ $caller_ip: ms('EXACT', '10.1.0.1') })],
        [dest(V('v2'))],
      ),
      rule('ok', [], [dest(V('v1'))]),
    ]),
  );
  assert.deepEqual(
    routes.map((r) => r.name),
    ['ok', 'default'],
  );
  const reason = t.skipped.find((s) => s.kind === 'rule' && s.path.includes('[ip]'));
  assert.ok(reason, JSON.stringify(t.skipped));
  assert.equal(reason.path, 'prod/backend.routing.inbounds[ip].sources[1].match["$caller_ip"]');
});

test('groups of one priority split by weight (locality weights); lower priorities are failover levels', () => {
  const { t, routes } = routesFor(
    backend([
      rule(
        'split',
        [],
        [
          dest(V('v1'), { weight: 80, name: 'stable' }),
          dest(V('v2'), { weight: 20, name: 'canary' }),
          dest(V('v3'), { priority: 1, weight: 100 }),
        ],
      ),
    ]),
  );
  const cluster = routes[0].route.cluster;
  const c = resource(t.snapshot, 'cds', cluster);
  assert.equal(c.type, 'EDS');
  assert.equal(c.edsClusterConfig.serviceName, cluster);
  assert.deepEqual(c.commonLbConfig, { healthyPanicThreshold: {}, localityWeightedLbConfig: {} });
  assert.deepEqual(endpointsOf(t, cluster), [
    {
      priority: 0,
      weight: 80,
      subZone: 'destination-0:stable',
      hosts: ['10.0.0.1', '10.0.0.2'],
      health: ['HEALTHY', 'HEALTHY'],
    },
    { priority: 0, weight: 20, subZone: 'destination-1:canary', hosts: ['10.0.0.3'], health: ['HEALTHY'] },
    { priority: 1, weight: 100, subZone: 'destination-2', hosts: ['10.0.0.4'], health: ['HEALTHY'] },
  ]);
  assert.equal(wrapped(resource(t.snapshot, 'eds', cluster).policy.overprovisioningFactor), STRICT_OVERPROVISIONING);
});

test('Polaris priorities are compacted: 3 and 7 become EDS priorities 0 and 1', () => {
  const { t, routes } = routesFor(
    backend([rule('r', [], [dest(V('v1'), { priority: 7 }), dest(V('v2'), { priority: 3 })])]),
  );
  assert.deepEqual(
    endpointsOf(t, routes[0].route.cluster).map((e) => [e.priority, e.hosts]),
    [
      [0, ['10.0.0.3']],
      [1, ['10.0.0.1', '10.0.0.2']],
    ],
  );
});

test('isolated and weight-0 groups get nothing; a rule left with no group is skipped, never an invalid route', () => {
  const { t, routes } = routesFor(
    backend([
      rule('r', [], [dest(V('v1'), { isolate: true }), dest(V('v2'), { weight: 0 }), dest(V('v3'), { weight: 10 })]),
    ]),
  );
  assert.deepEqual(
    endpointsOf(t, routes[0].route.cluster).map((e) => e.hosts),
    [['10.0.0.4']],
  );
  const none = routesFor(backend([rule('dead', [], [dest(V('v1'), { isolate: true }), dest(V('v2'), { weight: 0 })])]));
  assert.deepEqual(
    none.routes.map((r) => r.name),
    ['default'],
  );
  assert.ok(
    none.t.skipped.some(
      (s) => s.path === 'prod/backend.routing.inbounds[dead].destinations' && /no destination/.test(s.reason),
    ),
  );
});

test('a group of all instances of the service routes to the service cluster itself', () => {
  const { t, routes } = routesFor(backend([rule('all', [source({ '$header.x': ms('EXACT', '1') })], [dest({})])]));
  assert.equal(routes[0].route.cluster, outboundCluster(NS, 'backend'));
  assert.equal(
    [...t.snapshot.resources['type.googleapis.com/envoy.config.cluster.v3.Cluster'].items.keys()].filter((n) =>
      n.includes('backend|'),
    ).length,
    0,
  );
});

test('label conditions use every match type, evaluated on instance metadata', () => {
  const inst = [
    instance('a', '10.0.0.1', { metadata: { version: 'v1.2', tier: '3' } }),
    instance('b', '10.0.0.2', { metadata: { version: 'v2.0', tier: '7' } }),
    instance('c', '10.0.0.3', { metadata: { version: 'v3.1' } }),
  ];
  const hostsFor = (labels: Parameters<typeof dest>[0]) => {
    const { t, routes } = routesFor(
      backend(
        [rule('r', [], [dest(labels, { weight: 1 }), dest({ version: ms('EXACT', 'none') }, { weight: 1 })])],
        inst,
      ),
    );
    return endpointsOf(t, routes[0].route.cluster).flatMap((e) => e.hosts);
  };
  assert.deepEqual(hostsFor({ version: ms('REGEX', '^v[12]\\.') }), ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(hostsFor({ version: ms('NOT_EQUALS', 'v1.2') }), ['10.0.0.2', '10.0.0.3']);
  assert.deepEqual(hostsFor({ version: ms('IN', 'v1.2,v3.1') }), ['10.0.0.1', '10.0.0.3']);
  assert.deepEqual(hostsFor({ version: ms('NOT_IN', 'v1.2,v3.1') }), ['10.0.0.2']);
  assert.deepEqual(hostsFor({ tier: ms('RANGE', '1~5') }), ['10.0.0.1']);
  // A missing label never matches, not even NOT_EQUALS.
  assert.deepEqual(hostsFor({ tier: ms('NOT_EQUALS', '3') }), ['10.0.0.2']);
});

test('label values that depend on the request are refused; bad label regexes too', () => {
  for (const labels of [
    { version: ms('EXACT', 'x-version', 'PARAMETER') },
    { version: ms('EXACT', 'VERSION', 'VARIABLE') },
    { version: ms('REGEX', '(') },
  ]) {
    const { routes, t } = routesFor(backend([rule('r', [], [dest(labels), dest(V('v1'))])]));
    assert.deepEqual(
      routes.map((r) => r.name),
      ['default'],
    );
    assert.ok(
      t.skipped.some(
        (s) => s.kind === 'rule' && s.path.startsWith('prod/backend.routing.inbounds[r].destinations[0].labels'),
      ),
      JSON.stringify(t.skipped),
    );
  }
});

test('overlapping groups of one priority skip the rule; an instance in two priorities stays in the better one', () => {
  const overlap = routesFor(
    backend([rule('r', [], [dest(V('v1'), { weight: 1 }), dest({ version: ms('REGEX', 'v') }, { weight: 1 })])]),
  );
  assert.deepEqual(
    overlap.routes.map((r) => r.name),
    ['default'],
  );
  assert.ok(overlap.t.skipped.some((s) => /overlapping/.test(s.reason)));
  const { t, routes } = routesFor(
    backend([rule('r', [], [dest(V('v2')), dest({ version: ms('REGEX', 'v') }, { priority: 1 })])]),
  );
  assert.deepEqual(
    endpointsOf(t, routes[0].route.cluster).map((e) => [e.priority, e.hosts]),
    [
      [0, ['10.0.0.3']],
      [1, ['10.0.0.1', '10.0.0.2', '10.0.0.4']],
    ],
  );
});

test('a rule whose groups select no instance falls through to the next rule, as Polaris SDKs do', () => {
  const { routes, t } = routesFor(
    backend([rule('empty', [], [dest(V('v9')), dest(V('v8'))]), rule('next', [], [dest(V('v1')), dest(V('v2'))])]),
  );
  assert.deepEqual(
    routes.map((r) => r.name),
    ['next', 'default'],
  );
  assert.ok(t.skipped.some((s) => s.path.includes('[empty]') && /fall through/.test(s.reason)));
});

test('unhealthy instances stay in their group as UNHEALTHY; isolated and weight-0 instances are left out', () => {
  const inst = [
    v('a', '10.0.0.1', 'v1', { healthy: false }),
    v('b', '10.0.0.2', 'v1', { isolate: true }),
    v('c', '10.0.0.3', 'v1', { weight: 0 }),
    v('d', '10.0.0.4', 'v2'),
  ];
  const { t, routes } = routesFor(backend([rule('r', [], [dest(V('v1')), dest(V('v2'), { priority: 1 })])], inst));
  assert.deepEqual(
    endpointsOf(t, routes[0].route.cluster).map((e) => [e.priority, e.hosts, e.health]),
    [
      [0, ['10.0.0.1'], ['UNHEALTHY']],
      [1, ['10.0.0.4'], ['HEALTHY']],
    ],
  );
});

test('a destination naming another service is ignored with a reason', () => {
  const { routes, t } = routesFor(
    backend([
      rule(
        'r',
        [],
        [dest(V('v1'), { service: 'elsewhere', namespace: NS }), dest(V('v2'), { service: 'backend', namespace: NS })],
      ),
    ]),
  );
  assert.equal(routes.length, 2);
  assert.deepEqual(
    endpointsOf(t, routes[0].route.cluster).map((e) => e.hosts),
    [['10.0.0.3']],
  );
  assert.ok(
    t.skipped.some((s) => s.kind === 'destination' && s.path === 'prod/backend.routing.inbounds[r].destinations[0]'),
  );
});

test('the rule cluster name depends on the rule, not on instances', () => {
  const rules = [rule('r', [], [dest(V('v1'), { weight: 3 }), dest(V('v2'), { weight: 1 })])];
  const a = routesFor(backend(rules)).routes[0].route.cluster;
  const b = routesFor(backend(rules, [...INSTANCES, v('i5', '10.0.0.5', 'v1', { healthy: false })])).routes[0].route
    .cluster;
  const c = routesFor(backend([rule('r', [], [dest(V('v1'), { weight: 4 }), dest(V('v2'), { weight: 1 })])])).routes[0]
    .route.cluster;
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('proxyless clients get the same rules, minus the conditions grpc-js cannot honour', () => {
  const rules = [
    rule('by-query', [source({ '$query.q': ms('EXACT', '1') })], [dest(V('v2'))]),
    rule('by-header', [source({ '$header.x-user': ms('EXACT', 'u') })], [dest(V('v2'))]),
  ];
  const t = createTranslator().translate(mesh(backend(rules)), proxyless(NS, { service: 'frontend' }));
  const rc = resource(t.snapshot, 'rds', proxylessRouteConfig(NS, 'backend'));
  assert.equal(rc.virtualHosts.length, 1);
  assert.deepEqual(rc.virtualHosts[0].domains, ['*']);
  assert.deepEqual(
    rc.virtualHosts[0].routes.map((r: Json) => r.name),
    ['by-header', 'default'],
  );
  assert.ok(t.skipped.some((s) => s.path.includes('[by-query]') && /proxyless/.test(s.reason)));
});
