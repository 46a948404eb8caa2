// The real Envoy accepts what the translator produces. The translated resources are decoded
// (protobufjs), assembled into a binary bootstrap — EDS clusters become static clusters carrying
// their ClusterLoadAssignment, each RouteConfiguration is inlined into a listener of its own —
// and `envoy --mode validate` must say OK. A broken configuration must make it fail, so the
// check itself is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTranslator, type Translation } from '../../../../src/xds/translate/index.js';
import { envoyBinary } from '../../../support/components.js';
import { circuitBreaker, faultDetector, rateLimit } from '../../../support/governance.js';
import { RATELIMIT_SERVICE_CLUSTER } from '../../../../src/xds/translate/ratelimit-global.js';
import { decoded, typeOf, type Json } from './support/envoy-protos.js';
import { dest, gateway, instance, mesh, ms, proxyless, rule, service, sidecar, source } from './support/fixtures.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

const second = (n: number) => ({
  maxAmount: n,
  validDuration: { seconds: 1, nanos: 0 },
  precision: 0,
  startAmount: 0,
  minAmount: 0,
});

function world() {
  const loc = (zone: string) => ({ locality: { region: 'r1', zone, campus: 'c1' } });
  const api = service(
    'prod',
    'api',
    [
      instance('a1', '10.0.0.1', {
        metadata: { version: 'v1', tier: '3', 'internal-x': 'y' },
        protocol: 'grpc',
        ...loc('z1'),
      }),
      instance('a2', '10.0.0.2', {
        metadata: { version: 'v2', tier: '8' },
        protocol: 'grpc',
        healthy: false,
        ...loc('z2'),
      }),
      instance('a3', 'fd00::3', { metadata: { version: 'v3' }, protocol: 'grpc', weight: 5 }),
      instance('a4', 'api-4.example', { metadata: { version: 'v3' } }),
    ],
    {
      metadata: { 'polaris-xds.io/nearby': 'zone' },
      inbounds: [
        rule(
          'headers',
          [
            source({
              '$header.x-user': ms('EXACT', 'alice'),
              '$header.x-env': ms('NOT_IN', 'dev,test'),
              '$header.x-age': ms('RANGE', '18~65'),
            }),
          ],
          [
            dest({ version: ms('EXACT', 'v2') }, { weight: 70, name: 'canary' }),
            dest({ version: ms('REGEX', '^v1') }, { weight: 30 }),
            dest({ version: ms('IN', 'v3') }, { priority: 1 }),
          ],
        ),
        rule(
          'paths',
          [
            source({ $path: ms('IN', '/a,/b') }),
            source({ $path: ms('REGEX', '^/api/v[0-9]+/') }),
            source({ $method: ms('NOT_EQUALS', 'GET') }),
          ],
          [dest({ tier: ms('RANGE', '1~5') })],
        ),
        rule(
          'query-cookie',
          [
            source({
              '$query.debug': ms('EXACT', '*'),
              '$cookie.session': ms('NOT_EQUALS', 'x'),
              '$header.x-re': ms('REGEX', 'a|b'),
            }),
          ],
          [dest({ version: ms('NOT_EQUALS', 'v1') })],
        ),
        rule('skipped', [source({ $caller_ip: ms('EXACT', '1.2.3.4') })], [dest({})]),
      ],
      // Rate limits of every kind on its inbound: LOCAL, and GLOBAL with both failovers and amount modes.
      rateLimits: [
        rateLimit('prod', 'api', { id: 'local', name: 'local', priority: 0 }),
        rateLimit('prod', 'api', {
          id: 'global',
          name: 'global',
          priority: 1,
          type: 'GLOBAL',
          method: ms('EXACT', '/g'),
          amounts: [second(10), { ...second(500), validDuration: { seconds: 60, nanos: 0 } }],
        }),
        rateLimit('prod', 'api', {
          id: 'share',
          name: 'share',
          priority: 2,
          type: 'GLOBAL',
          method: ms('IN', '/s,/t'),
          amountMode: 'SHARE_EQUALLY',
          failover: 'FAILOVER_PASS',
          customResponseBody: 'busy',
        }),
        rateLimit('prod', 'api', {
          id: 'per-user',
          name: 'per-user',
          priority: 3,
          type: 'GLOBAL',
          method: ms('EXACT', '/u'),
          failover: 'FAILOVER_PASS',
          arguments: [
            { type: 'HEADER', key: 'x-user', value: ms('REGEX', '^a') },
            { type: 'METHOD', key: '', value: ms('EXACT', '*') },
          ],
        }),
        // Caller conditions: headers the proxies write.
        rateLimit('prod', 'api', {
          id: 'callers',
          name: 'callers',
          priority: 4,
          method: ms('EXACT', '/c'),
          arguments: [
            { type: 'CALLER_SERVICE', key: 'prod', value: ms('NOT_IN', 'web,gw') },
            { type: 'CALLER_IP', key: '', value: ms('REGEX', '^10\\.') },
          ],
          regexCombine: true,
        }),
      ],
    },
  );
  // Governance: outlier detection with every trigger, an HTTP check with everything set, a TCP check.
  const rate = {
    triggerType: 'ERROR_RATE' as const,
    errorCount: 0,
    errorPercent: 50,
    intervalSeconds: 10,
    minimumRequest: 10,
  };
  const web = service(
    'prod',
    'web',
    [instance('w1', '10.0.1.1', { port: 80 }), instance('w2', '10.0.1.1', { port: 8443, protocol: 'http' })],
    {
      circuitBreakers: [
        circuitBreaker('prod', 'web', {
          triggerConditions: [...circuitBreaker('prod', 'web').triggerConditions, rate],
        }),
        circuitBreaker('prod', 'web', {
          id: 'svc',
          level: 'SERVICE',
          fallback: { enable: true, code: 503, headers: [{ key: 'x-fallback', value: '1' }], body: 'later' },
        }),
        circuitBreaker('prod', 'web', {
          id: 'method',
          level: 'METHOD',
          destination: { service: 'web', namespace: 'prod', method: ms('REGEX', '^/admin/') },
        }),
      ],
      faultDetectors: [
        faultDetector('prod', 'web', {
          port: 8081,
          http: { method: 'PUT', url: '/health?x=1', headers: [{ key: 'x-probe', value: 'y' }], body: 'ping' },
        }),
      ],
    },
  );
  const tcp = { protocol: 'TCP' as const, tcp: { send: '0102', receive: ['ff', '00'] } };
  const weird = [
    service('prod', 'a.b', []),
    service('b', 'a', [instance('x', '10.0.2.1', { protocol: '' })], {
      faultDetectors: [faultDetector('b', 'a', tcp)],
      circuitBreakers: [
        circuitBreaker('b', 'a', { errorConditions: [{ inputType: 'RET_CODE', condition: ms('IN', '502,503,504') }] }),
      ],
    }),
    service('prod', 'svc:with:colons', [instance('c', '10.0.3.1')]),
  ];
  // A gateway registered as a service enforces its service's rate limits, LOCAL and GLOBAL.
  const gw = service('edge', 'gw', [instance('g1', '10.0.9.1')], {
    rateLimits: [
      rateLimit('edge', 'gw', {
        id: 'gw-local',
        name: 'gw-local',
        arguments: [{ type: 'CALLER_IP', key: '', value: ms('IN', '10.0.0.1,10.0.0.2') }],
        customResponseBody: 'gateway busy',
      }),
      rateLimit('edge', 'gw', {
        id: 'gw-global',
        name: 'gw-global',
        priority: 1,
        type: 'GLOBAL',
        method: ms('EXACT', '/g'),
      }),
    ],
    outbounds: [
      rule(
        'to-api',
        [source({ $path: ms('EXACT', '/api') })],
        [
          dest({ version: ms('EXACT', 'v1') }, { service: 'api', namespace: 'prod' }),
          dest({}, { service: 'web', namespace: 'prod', priority: 1 }),
        ],
      ),
    ],
  });
  return mesh(api, web, gw, ...weird);
}

let port = 20000;

function inlineListener(rc: Json): Json {
  return {
    name: `rds:${rc.name}`,
    address: { socketAddress: { address: '127.0.0.1', portValue: port++ } },
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: {
              '@type': HCM,
              statPrefix: 'validate',
              routeConfig: rc,
              httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }],
            },
          },
        ],
      },
    ],
  };
}

/** bootstrap turns translations into one static Envoy bootstrap (binary), RDS/EDS inlined. */
function bootstrap(translations: readonly Translation[], extraRouteConfigs: Json[] = []): Uint8Array {
  const clusters = new Map<string, Json>();
  clusters.set('xds', {
    name: 'xds',
    type: 'STATIC',
    loadAssignment: {
      clusterName: 'xds',
      endpoints: [
        { lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 1 } } } }] },
      ],
    },
    typedExtensionProtocolOptions: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicitHttpConfig: { http2ProtocolOptions: {} },
      },
    },
  });
  // As `polaris-xds bootstrap --ratelimit-address` does: the rate-limit service GLOBAL rules call.
  clusters.set(RATELIMIT_SERVICE_CLUSTER, {
    ...clusters.get('xds'),
    name: RATELIMIT_SERVICE_CLUSTER,
    loadAssignment: { ...clusters.get('xds')!.loadAssignment, clusterName: RATELIMIT_SERVICE_CLUSTER },
  });
  const listeners = new Map<string, Json>();
  for (const t of translations) {
    const eds = decoded(t.snapshot, 'eds');
    for (const [name, c] of decoded(t.snapshot, 'cds')) {
      if (c.type === 'EDS') {
        const cla = eds.get(c.edsClusterConfig.serviceName);
        assert.ok(cla, `no assignment for ${name}`);
        delete c.edsClusterConfig;
        c.type = 'STATIC';
        c.loadAssignment = cla;
      }
      clusters.set(name, c);
    }
    // API listeners are for gRPC clients; Envoy takes at most one, from its bootstrap.
    for (const [name, l] of decoded(t.snapshot, 'lds')) if (!l.apiListener) listeners.set(name, l);
    for (const rc of decoded(t.snapshot, 'rds').values()) listeners.set(`rds:${rc.name}`, inlineListener(rc));
  }
  for (const rc of extraRouteConfigs) listeners.set(`rds:${rc.name}`, inlineListener(rc));
  const B = typeOf('envoy.config.bootstrap.v3.Bootstrap');
  const msg = B.fromObject({
    node: { id: 'validate', cluster: 'validate' },
    staticResources: { clusters: [...clusters.values()], listeners: [...listeners.values()] },
    // Listeners take routes over ADS; validation never connects.
    dynamicResources: {
      adsConfig: { apiType: 'GRPC', transportApiVersion: 'V3', grpcServices: [{ envoyGrpc: { clusterName: 'xds' } }] },
    },
    // As `polaris-xds bootstrap` does: internal listeners carry service- and method-level breakers.
    bootstrapExtensions: [
      {
        name: 'envoy.bootstrap.internal_listener',
        typedConfig: {
          type_url: 'type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener',
          value: Buffer.alloc(0),
        },
      },
    ],
  });
  return B.encode(msg).finish();
}

async function validate(config: Uint8Array): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pxds-envoy-validate-'));
  try {
    const file = join(dir, 'bootstrap.pb');
    writeFileSync(file, config);
    return await promisify(execFile)(envoyBinary(), ['--mode', 'validate', '-c', file, '-l', 'warning'], {
      timeout: 60_000,
    }).then(
      (r) => ({ ok: true, output: r.stdout + r.stderr }),
      (err: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function translations(): Translation[] {
  const m = world();
  const tr = createTranslator();
  return [
    tr.translate(
      m,
      sidecar('prod', {
        service: 'api',
        locality: { region: 'r1', zone: 'z1' },
        metadata: { 'polaris-xds.io/internal-listeners': 'true', 'polaris-xds.io/ratelimit-service': 'true' },
      }),
    ),
    tr.translate(
      m,
      gateway('edge', 'gw', {
        'polaris-xds.io/gateway-port': '18080',
        'polaris-xds.io/internal-listeners': 'true',
        'polaris-xds.io/ratelimit-service': 'true',
      }),
    ),
    tr.translate(m, proxyless('prod', { service: 'web' })),
  ];
}

test('Envoy accepts the clusters, assignments, listeners and routes of sidecar, gateway and proxyless views', {
  timeout: 120_000,
}, async () => {
  const ts = translations();
  // The fixture exercises rule clusters, skipped rules and nearby priorities; make sure it still does.
  assert.ok(ts[0]!.snapshot.resources['type.googleapis.com/envoy.config.cluster.v3.Cluster'].items.size > 8);
  assert.ok(ts[0]!.skipped.some((s) => s.path.includes('[skipped]')));
  assert.ok(
    ts[0]!.snapshot.resources['type.googleapis.com/envoy.config.cluster.v3.Cluster'].items.has(
      'BREAKER|prod|web|method:method',
    ),
    'and breakers',
  );
  assert.ok(!ts[0]!.skipped.some((s) => s.path.includes('rateLimits')), 'and every rate limit');
  assert.ok(!ts[1]!.skipped.some((s) => s.path.includes('rateLimits')), "and the gateway's own");
  assert.ok(
    ts[1]!.snapshot.resources['type.googleapis.com/envoy.config.listener.v3.Listener'].items.has(
      'polaris-gateway-inner',
    ),
  );
  const r = await validate(bootstrap(ts));
  assert.ok(r.ok, r.output);
  assert.match(r.output, /OK/);
  assert.doesNotMatch(r.output, /deprecated/i, 'the translator must not use deprecated fields');
});

test('the check fails on a configuration Envoy rejects (duplicate domains)', { timeout: 120_000 }, async () => {
  const bad = {
    name: 'bad',
    virtualHosts: [
      { name: 'a', domains: ['x'], routes: [] },
      { name: 'b', domains: ['x'], routes: [] },
    ],
  };
  const r = await validate(bootstrap(translations(), [bad]));
  assert.ok(!r.ok);
  assert.match(r.output, /duplicate/i);
});
