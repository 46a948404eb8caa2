// Circuit breakers → outlier detection and fault detectors → active health checks: each mapping
// exact, or the rule skipped with its reason (docs/governance.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTranslator, type Translation } from '../../../../src/xds/translate/index.js';
import { CLUSTER_TYPE } from '../../../../src/xds/resource.js';
import { outboundCluster } from '../../../../src/xds/translate/names.js';
import { circuitBreaker, faultDetector } from '../../../support/governance.js';
import { grpcVerdict } from '../../../support/grpc-xds-client.js';
import { resource, type Json } from './support/envoy-protos.js';
import { dest, gateway, instance, mesh, ms, proxyless, rule, service, sidecar, source } from './support/fixtures.js';

const rule_ = (id: string) => rule(id, [source({ '$header.x-c': ms('EXACT', '1') })], [dest({ v: ms('EXACT', '2') })]);

const NS = 'prod';
const CLUSTER = outboundCluster(NS, 'api');
const code = (type: 'RANGE' | 'IN' | 'EXACT' | 'REGEX', value: string) => ({
  inputType: 'RET_CODE' as const,
  condition: ms(type, value),
});
const api = (o: Parameters<typeof service>[3] = {}) =>
  service(NS, 'api', [instance('a1', '10.0.0.1'), instance('a2', '10.0.0.2'), instance('a3', '10.0.0.3')], o);

/** w is a UInt32Value as the test decoder shows it (a zero value has no field). */
const w = (v: number) => (v === 0 ? {} : { value: v });

function cluster(t: Translation, name = CLUSTER): Json {
  return resource(t.snapshot, 'cds', name);
}

function translate(...services: ReturnType<typeof service>[]): Translation {
  return createTranslator().translate(mesh(...services, service(NS, 'web', [])), sidecar(NS, { service: 'web' }));
}

test('consecutive errors over every 5xx: consecutive_5xx, sleep window as a fixed ejection time, every other detector off', () => {
  const t = translate(api({ circuitBreakers: [circuitBreaker(NS, 'api')] }));
  assert.deepEqual(cluster(t).outlierDetection, {
    consecutive_5xx: w(5),
    interval: { seconds: '1' },
    baseEjectionTime: { seconds: '60' },
    maxEjectionTime: { seconds: '60' },
    maxEjectionPercent: w(100),
    enforcingConsecutive_5xx: w(100),
    enforcingSuccessRate: w(0),
    enforcingConsecutiveGatewayFailure: w(0),
    enforcingFailurePercentage: w(0),
  });
  assert.deepEqual(t.skipped, []);
});

test('gateway errors count as consecutive gateway failures; a code set Envoy cannot count skips the rule', () => {
  const gw = translate(
    api({ circuitBreakers: [circuitBreaker(NS, 'api', { errorConditions: [code('IN', '502,503,504')] })] }),
  );
  const od = cluster(gw).outlierDetection;
  assert.deepEqual(od.consecutiveGatewayFailure, w(5));
  assert.deepEqual(od.enforcingConsecutiveGatewayFailure, w(100));
  assert.deepEqual(od.enforcingConsecutive_5xx, w(0));
  // The same set written as two conditions (ORed) is the same rule.
  const split = translate(
    api({
      circuitBreakers: [
        circuitBreaker(NS, 'api', { errorConditions: [code('EXACT', '502'), code('RANGE', '503~504')] }),
      ],
    }),
  );
  assert.deepEqual(cluster(split).outlierDetection, od);
  const regex = translate(
    api({ circuitBreakers: [circuitBreaker(NS, 'api', { errorConditions: [code('REGEX', '^5..$')] })] }),
  );
  assert.deepEqual(cluster(regex).outlierDetection.consecutive_5xx, w(5));

  const wide = translate(
    api({ circuitBreakers: [circuitBreaker(NS, 'api', { errorConditions: [code('RANGE', '400~599')] })] }),
  );
  assert.equal(cluster(wide).outlierDetection, undefined);
  assert.deepEqual(wide.skipped, [
    {
      kind: 'circuit-breaker',
      path: `${NS}/api.circuitBreakers[cb-api]`,
      reason:
        "error_conditions: match codes 400~599; Envoy's outlier detection counts either every 5xx (500~599) or the gateway errors 502, 503, 504",
    },
  ]);
});

test('an error rate: failure percentage over the minimum requests, evaluated every stat window, judged per instance', () => {
  const t = translate(
    api({
      circuitBreakers: [
        circuitBreaker(NS, 'api', {
          triggerConditions: [
            { triggerType: 'ERROR_RATE', errorCount: 0, errorPercent: 50, intervalSeconds: 10, minimumRequest: 10 },
            { triggerType: 'CONSECUTIVE_ERROR', errorCount: 7, errorPercent: 0, intervalSeconds: 0, minimumRequest: 0 },
          ],
          maxEjectionPercent: 50,
          recover: { sleepWindowSeconds: 5, consecutiveSuccess: 0 },
        }),
      ],
    }),
  );
  const od = cluster(t).outlierDetection;
  assert.deepEqual(
    [
      od.failurePercentageThreshold,
      od.failurePercentageRequestVolume,
      od.enforcingFailurePercentage,
      od.failurePercentageMinimumHosts,
      od.interval,
      od.consecutive_5xx,
      od.maxEjectionPercent,
      od.baseEjectionTime,
    ],
    [w(50), w(10), w(100), w(1), { seconds: '10' }, w(7), w(50), { seconds: '5' }],
  );
});

test('slow calls, several probes to close, and service or method level are skipped with their reason; the other rules still apply', () => {
  const delay = circuitBreaker(NS, 'api', {
    id: 'slow',
    errorConditions: [{ inputType: 'DELAY', condition: ms('RANGE', '1000~99999') }],
  });
  const t1 = translate(api({ circuitBreakers: [delay], faultDetectors: [faultDetector(NS, 'api')] }));
  assert.equal(cluster(t1).outlierDetection, undefined);
  assert.equal(cluster(t1).healthChecks.length, 1, 'the fault detector on the same service still applies');
  assert.match(t1.skipped[0]!.reason, /slow-call \(DELAY\) condition; Envoy has no latency-based ejection/);

  const probes = translate(
    api({
      circuitBreakers: [circuitBreaker(NS, 'api', { recover: { sleepWindowSeconds: 30, consecutiveSuccess: 3 } })],
    }),
  );
  assert.match(probes.skipped[0]!.reason, /^recoverCondition\.consecutiveSuccess: 3; Envoy has no half-open state/);

  const service = circuitBreaker(NS, 'api', { id: 'svc', level: 'SERVICE' });
  const t2 = translate(api({ circuitBreakers: [service, circuitBreaker(NS, 'api')] }));
  assert.deepEqual(cluster(t2).outlierDetection.consecutive_5xx, w(5), 'the INSTANCE rule applies');
  assert.deepEqual(
    t2.skipped.map((s) => [s.kind, s.path]),
    [['circuit-breaker', `${NS}/api.circuitBreakers[svc]`]],
  );
  assert.match(
    t2.skipped[0]!.reason,
    /^a SERVICE or METHOD level breaker needs Envoy's internal listeners; bootstrap the node with `polaris-xds bootstrap`/,
  );
  const method = translate(
    api({
      circuitBreakers: [
        circuitBreaker(NS, 'api', {
          id: 'm',
          level: 'METHOD',
          destination: { service: 'api', namespace: NS, method: ms('EXACT', '/x') },
        }),
      ],
    }),
  );
  assert.match(method.skipped[0]!.reason, /^a SERVICE or METHOD level breaker needs Envoy's internal listeners/);
});

test("a SERVICE-level breaker: the caller's routes go to an aggregate of the service as one guarded host and the fallback answer, both internal listeners", () => {
  const rule = circuitBreaker(NS, 'api', {
    id: 'svc',
    level: 'SERVICE',
    maxEjectionPercent: 10,
    fallback: { enable: true, code: 429, headers: [{ key: 'x-fallback', value: '1' }], body: 'later' },
  });
  const withRoutes = { circuitBreakers: [rule], inbounds: [rule_('canary')] };
  const m = mesh(
    service(NS, 'api', [instance('a1', '10.0.0.1', { metadata: { v: '2' } }), instance('a2', '10.0.0.2')], withRoutes),
    service(NS, 'web', []),
  );
  const t = createTranslator().translate(
    m,
    sidecar(NS, { service: 'web', metadata: { 'polaris-xds.io/internal-listeners': 'true' } }),
  );
  assert.deepEqual(t.skipped, []);
  const agg = cluster(t, `BREAKER|${NS}|api`);
  assert.equal(agg.clusterType.name, 'envoy.clusters.aggregate');
  const primary = cluster(t, `BREAKER|${NS}|api|upstream`);
  assert.deepEqual(primary.outlierDetection.consecutive_5xx, w(5));
  assert.deepEqual(
    primary.outlierDetection.maxEjectionPercent,
    w(100),
    'the one host standing for the service may always be ejected',
  );
  assert.deepEqual(primary.commonLbConfig.healthyPanicThreshold, {}, 'no panic routing (0 %)');
  assert.equal(
    primary.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.envoyInternalAddress.serverListenerName,
    `breaker-upstream|${NS}|api`,
  );
  const fallbackRc = resource(t.snapshot, 'rds', `breaker-fallback|${NS}|api`);
  const fb = fallbackRc.virtualHosts[0].routes[0];
  assert.deepEqual(
    [fb.directResponse.status, fb.directResponse.body.inlineString, fb.responseHeadersToAdd[0].header],
    [429, 'later', { key: 'x-fallback', value: '1' }],
  );
  const inner = resource(t.snapshot, 'rds', `breaker-upstream|${NS}|api`).virtualHosts[0];
  assert.equal(inner.routes.length, 2, 'the routing rule and the default route move behind the breaker');
  const outbound = resource(t.snapshot, 'rds', 'polaris-outbound-router').virtualHosts.find(
    (v: Json) => v.name === CLUSTER,
  );
  assert.deepEqual(
    outbound.routes.map((r: Json) => r.route.cluster),
    [`BREAKER|${NS}|api`],
  );
  const lds = [...t.snapshot.resources['type.googleapis.com/envoy.config.listener.v3.Listener'].items.keys()];
  assert.ok(lds.includes(`breaker-upstream|${NS}|api`) && lds.includes(`breaker-fallback|${NS}|api`));
  assert.deepEqual(resource(t.snapshot, 'lds', `breaker-upstream|${NS}|api`).internalListener, {});
});

test('a gateway bootstrapped with internal listeners gets the same breakers; one without gets the reason', () => {
  const m = mesh(
    api({ circuitBreakers: [circuitBreaker(NS, 'api', { id: 'svc', level: 'SERVICE' })] }),
    service('edge', 'gw', []),
  );
  const gw = createTranslator().translate(m, gateway('edge', 'gw', { 'polaris-xds.io/internal-listeners': 'true' }));
  assert.deepEqual(gw.skipped, []);
  assert.ok(
    gw.snapshot.resources['type.googleapis.com/envoy.config.listener.v3.Listener'].items.has(
      `breaker-upstream|${NS}|api`,
    ),
  );
  assert.ok(
    gw.snapshot.resources['type.googleapis.com/envoy.config.route.v3.RouteConfiguration'].items.has(
      `breaker-upstream|${NS}|api`,
    ),
  );
  const plain = createTranslator().translate(m, gateway('edge', 'gw'));
  assert.equal(plain.snapshot.resources[CLUSTER_TYPE].items.has(`BREAKER|${NS}|api`), false);
  assert.match(plain.skipped[0]!.reason, /needs Envoy's internal listeners/);
});

test("METHOD-level breakers: the routes of each method (matched like routing's $path) go first to its own breaker, then through the service's", () => {
  const internal = sidecar(NS, { service: 'web', metadata: { 'polaris-xds.io/internal-listeners': 'true' } });
  const method = (id: string, m: ReturnType<typeof ms>) =>
    circuitBreaker(NS, 'api', { id, level: 'METHOD', destination: { service: 'api', namespace: NS, method: m } });
  const svc = circuitBreaker(NS, 'api', { id: 'svc', level: 'SERVICE' });
  const m = mesh(
    api({ circuitBreakers: [method('m1', ms('IN', '/a,/b')), method('m2', ms('REGEX', '^/c/')), svc] }),
    service(NS, 'web', []),
  );
  const t = createTranslator().translate(m, internal);
  assert.deepEqual(t.skipped, []);
  const outbound = resource(t.snapshot, 'rds', 'polaris-outbound-router').virtualHosts.find(
    (v: Json) => v.name === CLUSTER,
  );
  assert.deepEqual(
    outbound.routes.map((r: Json) => [r.match.path ?? r.match.safeRegex?.regex ?? r.match.prefix, r.route.cluster]),
    [
      ['/a', `BREAKER|${NS}|api|method:m1`],
      ['/b', `BREAKER|${NS}|api|method:m1`],
      ['(?s:.*)(?:^/c/)(?s:.*)', `BREAKER|${NS}|api|method:m2`],
      ['/', `BREAKER|${NS}|api`],
    ],
  );
  const behind = resource(t.snapshot, 'rds', `breaker-upstream|${NS}|api|method:m1`).virtualHosts[0];
  assert.deepEqual(
    behind.routes.map((r: Json) => r.route.cluster),
    [`BREAKER|${NS}|api`],
    'a method breaker passes on to the service breaker',
  );
  // Without a service-level rule, a method's breaker serves the service's own routes.
  const alone = createTranslator().translate(
    mesh(api({ circuitBreakers: [method('m1', ms('EXACT', '/a'))] }), service(NS, 'web', [])),
    internal,
  );
  const vh = resource(alone.snapshot, 'rds', 'polaris-outbound-router').virtualHosts.find(
    (v: Json) => v.name === CLUSTER,
  );
  assert.deepEqual(
    vh.routes.map((r: Json) => r.route.cluster),
    [`BREAKER|${NS}|api|method:m1`, CLUSTER],
  );
  assert.deepEqual(
    resource(alone.snapshot, 'rds', `breaker-upstream|${NS}|api|method:m1`).virtualHosts[0].routes.map(
      (r: Json) => r.route.cluster,
    ),
    [CLUSTER],
  );
});

test("the rule in effect is chosen as polaris-go does: disabled rules never, the caller's own rule before one for any caller", () => {
  const anyCaller = circuitBreaker(NS, 'api', { id: 'a-any' });
  const forWeb = circuitBreaker(NS, 'api', {
    id: 'z-web',
    source: { service: 'web', namespace: NS },
    triggerConditions: [
      { triggerType: 'CONSECUTIVE_ERROR', errorCount: 2, errorPercent: 0, intervalSeconds: 0, minimumRequest: 0 },
    ],
  });
  const off = circuitBreaker(NS, 'api', { id: 'off', enable: false, source: { service: 'web', namespace: NS } });
  const m = mesh(api({ circuitBreakers: [anyCaller, forWeb, off] }), service(NS, 'web', []), service(NS, 'other', []));
  const tr = createTranslator();
  assert.deepEqual(cluster(tr.translate(m, sidecar(NS, { service: 'web' }))).outlierDetection.consecutive_5xx, w(2));
  assert.deepEqual(cluster(tr.translate(m, sidecar(NS, { service: 'other' }))).outlierDetection.consecutive_5xx, w(5));
  assert.deepEqual(
    cluster(tr.translate(m, sidecar(NS))).outlierDetection.consecutive_5xx,
    w(5),
    'a node that names no service gets the rule for any caller',
  );
  const onlyWeb = mesh(api({ circuitBreakers: [forWeb] }), service(NS, 'web', []), service(NS, 'other', []));
  assert.equal(cluster(tr.translate(onlyWeb, sidecar(NS, { service: 'other' }))).outlierDetection, undefined);
  const offOnly = mesh(api({ circuitBreakers: [off] }), service(NS, 'web', []));
  assert.equal(cluster(tr.translate(offOnly, sidecar(NS, { service: 'web' }))).outlierDetection, undefined);
});

test("a routing rule's cluster of the service carries the same outlier detection and health checks", () => {
  const t = translate(
    service(NS, 'api', [instance('a1', '10.0.0.1', { metadata: { version: 'v1' } }), instance('a2', '10.0.0.2')], {
      circuitBreakers: [circuitBreaker(NS, 'api')],
      faultDetectors: [faultDetector(NS, 'api')],
      inbounds: [rule('canary', [source({ '$header.x-c': ms('EXACT', '1') })], [dest({ version: ms('EXACT', 'v1') })])],
    }),
  );
  const rc = [...t.snapshot.resources[CLUSTER_TYPE].items.keys()].find((n) => n !== CLUSTER && n.includes('|api|'));
  assert.ok(rc, 'a rule cluster exists');
  assert.deepEqual(cluster(t, rc).outlierDetection, cluster(t).outlierDetection);
  assert.deepEqual(cluster(t, rc).healthChecks, cluster(t).healthChecks);
});

test('fault detectors: HTTP and TCP checks with interval, timeout, port, headers, expected codes; what Envoy cannot run is skipped', () => {
  const http = translate(
    api({
      faultDetectors: [
        faultDetector(NS, 'api', {
          port: 9090,
          http: { method: 'POST', url: '/healthz?deep=1', headers: [{ key: 'x-probe', value: '1' }], body: 'ping' },
        }),
      ],
    }),
  );
  assert.deepEqual(cluster(http).healthChecks, [
    {
      timeout: { nanos: 500_000_000 },
      interval: { seconds: '1' },
      noTrafficInterval: { seconds: '1' },
      unhealthyThreshold: w(1),
      healthyThreshold: w(1),
      altPort: w(9090),
      httpHealthCheck: {
        path: '/healthz?deep=1',
        method: 'POST',
        requestHeadersToAdd: [{ header: { key: 'x-probe', value: '1' } }],
        expectedStatuses: [{ start: '200', end: '400' }],
        send: { text: Buffer.from('ping').toString('hex') },
      },
    },
  ]);
  const tcp = translate(
    service(NS, 'api', [instance('a1', '10.0.0.1', { protocol: '' })], {
      faultDetectors: [
        faultDetector(NS, 'api', {
          protocol: 'TCP',
          intervalSeconds: 0,
          timeoutMs: 0,
          tcp: { send: '0a0b', receive: ['ff'] },
        }),
      ],
    }),
  );
  assert.deepEqual(cluster(tcp).healthChecks[0], {
    timeout: { seconds: '1' },
    interval: { seconds: '10' },
    noTrafficInterval: { seconds: '10' },
    unhealthyThreshold: w(1),
    healthyThreshold: w(1),
    tcpHealthCheck: { send: { text: '0a0b' }, receive: [{ text: 'ff' }] },
  });
  const udp = translate(api({ faultDetectors: [faultDetector(NS, 'api', { protocol: 'UDP' })] }));
  assert.deepEqual(cluster(udp).healthChecks, undefined);
  assert.deepEqual(udp.skipped, [
    {
      kind: 'fault-detector',
      path: `${NS}/api.faultDetectors[fd-api]`,
      reason: 'protocol UDP: Envoy has no UDP health checker',
    },
  ]);
  const mixed = translate(
    service(NS, 'api', [instance('a1', '10.0.0.1', { protocol: 'tcp' })], {
      faultDetectors: [faultDetector(NS, 'api')],
    }),
  );
  assert.match(mixed.skipped[0]!.reason, /instance a1 speaks tcp: polaris-go would not check it with a HTTP rule/);
  const method = translate(
    api({
      faultDetectors: [
        faultDetector(NS, 'api', { target: { service: 'api', namespace: NS, method: ms('EXACT', '/x') } }),
      ],
    }),
  );
  assert.equal(cluster(method).healthChecks, undefined, 'a check of one method is not a check of instances');
});

test('the same mesh gives the same bytes (deterministic), and endpoints are never excluded from active checks', () => {
  const m = () =>
    mesh(
      api({ circuitBreakers: [circuitBreaker(NS, 'api')], faultDetectors: [faultDetector(NS, 'api')] }),
      service(NS, 'web', []),
    );
  const a = createTranslator().translate(m(), sidecar(NS, { service: 'web' }));
  const b = createTranslator().translate(m(), sidecar(NS, { service: 'web' }));
  assert.equal(a.snapshot.resources[CLUSTER_TYPE].version, b.snapshot.resources[CLUSTER_TYPE].version);
  const cla = resource(a.snapshot, 'eds', CLUSTER);
  for (const l of cla.endpoints) for (const e of l.lbEndpoints) assert.equal(e.endpoint.healthCheckConfig, undefined);
});

test('proxyless gRPC: an error rate over every non-OK status becomes failure-percentage ejection, which grpc-js-xds accepts; the rest is skipped', async () => {
  // A loopback address: the gRPC client below connects to it, and nothing there refuses at once.
  const grpcApi = (cb: ReturnType<typeof circuitBreaker>) =>
    service(NS, 'api', [instance('a1', '127.0.0.1', { protocol: 'grpc' })], {
      circuitBreakers: [cb],
      faultDetectors: [faultDetector(NS, 'api')],
    });
  const rate = circuitBreaker(NS, 'api', {
    errorConditions: [code('RANGE', '1~16')],
    triggerConditions: [
      { triggerType: 'ERROR_RATE', errorCount: 0, errorPercent: 60, intervalSeconds: 5, minimumRequest: 20 },
    ],
  });
  const t = createTranslator().translate(mesh(grpcApi(rate)), proxyless(NS));
  // What gRFC A50 reads: failure-percentage ejection with the rule's threshold and volume, and
  // success-rate ejection off (enforcing_success_rate 0).
  const od = cluster(t).outlierDetection;
  assert.deepEqual(
    [
      od.failurePercentageThreshold,
      od.enforcingFailurePercentage,
      od.failurePercentageMinimumHosts,
      od.failurePercentageRequestVolume,
      od.enforcingSuccessRate,
    ],
    [w(60), w(100), w(1), w(20), w(0)],
    JSON.stringify(od),
  );
  // A real grpc-js-xds client, through its public API, takes the cluster (and the rest) without a NACK.
  assert.deepEqual((await grpcVerdict(t.snapshot)).nacks, {});
  assert.deepEqual(
    t.skipped.map((s) => [s.kind, s.reason]),
    [['fault-detector', 'gRPC clients (grpc-js) run no active health checks']],
  );
  const consecutive = createTranslator().translate(
    mesh(grpcApi(circuitBreaker(NS, 'api', { errorConditions: [code('RANGE', '1~16')] }))),
    proxyless(NS),
  );
  assert.ok(
    consecutive.skipped.some(
      (s) => s.reason === 'trigger_condition: grpc-js (gRFC A50) has no consecutive-error ejection',
    ),
  );
  const http = createTranslator().translate(mesh(grpcApi(circuitBreaker(NS, 'api'))), proxyless(NS));
  assert.ok(http.skipped.some((s) => /grpc-js counts every non-OK status/.test(s.reason)));
});
