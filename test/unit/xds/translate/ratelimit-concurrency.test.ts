// A CONCURRENCY rule narrowed by method or arguments: a cluster of its own to the same application,
// with the rule's max_requests, which every route of the rule's combinations goes to; a later rule
// sharing requests with it is skipped, naming it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpressionFilter } from '../../../../src/gen/envoy/extensions/access_loggers/filters/cel/v3/cel.js';
import type { RateLimitRule } from '../../../../src/model/ratelimit.js';
import { ConsistencyCheck } from '../../../../src/xds/snapshot.js';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { planRateLimits, type RateLimitPlan } from '../../../../src/xds/translate/ratelimit.js';
import { rateLimit } from '../../../support/governance.js';
import { decoded, resource, wrapped, type Json } from './support/envoy-protos.js';
import { gateway, instance, mesh, ms, service, sidecar } from './support/fixtures.js';

const PATH = 'ns/slow.rateLimits';

function plan(rules: RateLimitRule[]): RateLimitPlan {
  return planRateLimits({ rules, revision: 'x' }, PATH);
}

function reasons(p: RateLimitPlan): Record<string, string> {
  return Object.fromEntries(p.skipped.map((s) => [s.path.slice(PATH.length), s.reason]));
}

/** concurrency is a CONCURRENCY rule of `n` in flight on `method` (none: the whole service). */
function concurrency(id: string, priority: number, n: number, o: Partial<RateLimitRule> = {}): RateLimitRule {
  return rateLimit('ns', 'slow', {
    id,
    name: id,
    priority,
    resource: 'CONCURRENCY',
    concurrencyMaxAmount: n,
    method: ms('EXACT', '/slow'),
    arguments: [],
    ...o,
  });
}

/** overflow reads a mapper answering a cluster's overflow (flag UO): its routes' CEL expression, status and body. */
function overflow(m: NonNullable<RateLimitPlan['localReply']>['mappers'][number]): [string[], string, number, string] {
  const f = m.filter?.filterSpecifier;
  const parts = f?.$case === 'andFilter' ? f.value.filters.map((x) => x.filterSpecifier) : [f];
  const flags = parts.flatMap((x) => (x?.$case === 'responseFlagFilter' ? x.value.flags : []));
  const cel = parts.find((x) => x?.$case === 'extensionFilter');
  const expression =
    cel?.$case === 'extensionFilter' && cel.value.configType?.$case === 'typedConfig'
      ? ExpressionFilter.decode(cel.value.configType.value.value).expression
      : '';
  const body = m.body?.specifier?.$case === 'inlineString' ? m.body.specifier.value : '';
  return [flags, expression, m.statusCode?.valueOf() ?? 0, body];
}

describe('narrowed CONCURRENCY rules', () => {
  it('get a cluster of their own that their routes go to; a later rule sharing requests with one is skipped', () => {
    const p = plan([
      rateLimit('ns', 'slow', { id: 'alice', name: 'alice', priority: 0, method: ms('EXACT', '/slow') }),
      concurrency('slow', 1, 2, { customResponseBody: 'slow busy' }),
      rateLimit('ns', 'slow', { id: 'other', name: 'other', priority: 2, method: ms('EXACT', '/other') }),
      rateLimit('ns', 'slow', { id: 'all', name: 'all', priority: 3, method: undefined, arguments: [] }),
      concurrency('slow-bob', 4, 1, { arguments: [{ type: 'HEADER', key: 'x-user', value: ms('EXACT', 'bob') }] }),
      concurrency('whole', 5, 9, { method: undefined }),
      concurrency('batch', 6, 1, { method: ms('EXACT', '/batch') }),
    ]);
    assert.deepEqual(reasons(p), {
      '[all]':
        "CONCURRENCY rule slow comes first in polaris-go's order, but Envoy counts requests in flight at the " +
        'cluster, after every rate-limit filter: this rule would count requests polaris-go turns away there',
      '[slow-bob]':
        'CONCURRENCY rule slow comes first and shares requests with it: polaris-go counts such a request against ' +
        'both limits, but Envoy sends it to one cluster, whose max_requests holds one of them',
      '[whole]':
        'CONCURRENCY rule slow comes first and shares requests with it: polaris-go counts such a request against ' +
        'both limits, but Envoy sends it to one cluster, whose max_requests holds one of them',
    });
    assert.equal(p.maxRequests, undefined);
    assert.deepEqual(p.narrowedConcurrency, [
      { id: 'slow', maxRequests: 2 },
      { id: 'batch', maxRequests: 1 },
    ]);
    // The rule before it on the same requests runs its bucket on the way to the rule's cluster (polaris-go's order).
    assert.deepEqual(
      p.routes.map((r) => [r.name, r.filters, r.concurrency]),
      [
        ['ratelimit|alice+slow|0', ['envoy.filters.http.local_ratelimit.alice.0'], 'slow'],
        ['ratelimit|alice|0', ['envoy.filters.http.local_ratelimit.alice.0'], undefined],
        ['ratelimit|slow|0', [], 'slow'],
        ['ratelimit|other|0', ['envoy.filters.http.local_ratelimit.other.0'], undefined],
        ['ratelimit|batch|0', [], 'batch'],
      ],
    );
    // An overflow on a rule's routes is that rule's refusal: 429 and its body, as on the whole service.
    assert.deepEqual(p.localReply?.mappers.map(overflow), [
      [['UO'], 'xds.route_name in ["ratelimit|alice+slow|0", "ratelimit|slow|0"]', 429, 'slow busy'],
      [['UO'], 'xds.route_name in ["ratelimit|batch|0"]', 429, ''],
    ]);
    // On the whole service first, it takes every request: a narrowed one after it is skipped, naming it.
    const whole = plan([concurrency('whole', 0, 3, { method: undefined }), concurrency('slow', 1, 2)]);
    assert.deepEqual([whole.maxRequests, whole.narrowedConcurrency], [3, []]);
    assert.match(reasons(whole)['[slow]']!, /^CONCURRENCY rule whole comes first and shares requests with it/);
    // A GLOBAL rule before it: Envoy asks the rate-limit service first, then counts the request at the rule's cluster.
    const global = planRateLimits(
      {
        rules: [
          rateLimit('ns', 'slow', { id: 'g', name: 'g', type: 'GLOBAL', method: ms('EXACT', '/slow'), arguments: [] }),
          concurrency('slow', 1, 2),
        ],
        revision: 'x',
      },
      PATH,
      { limiter: true, instances: 1, domain: 'polaris' },
    );
    assert.deepEqual(global.skipped, []);
    assert.deepEqual(
      global.routes.map((r) => [r.name, r.rateLimits !== undefined, r.concurrency]),
      [
        ['ratelimit|g+slow|0', true, 'slow'],
        ['ratelimit|g|0', true, undefined],
        ['ratelimit|slow|0', false, 'slow'],
      ],
    );
    // A narrowed rule alone still makes a plan (the gateway and the caches key on it).
    assert.notEqual(plan([concurrency('slow', 0, 2)]).key, '');
    assert.notEqual(plan([concurrency('slow', 0, 2)]).key, plan([concurrency('slow', 0, 3)]).key);
  });

  it("a sidecar sends the rule's requests to the cluster of its own, per port, until the rule goes", () => {
    const slow = (rules: RateLimitRule[]) =>
      service('ns', 'slow', [instance('s1', '10.0.0.2', { port: 8080 }), instance('s2', '10.0.0.2', { port: 9090 })], {
        rateLimits: rules,
      });
    const t = createTranslator();
    const check = new ConsistencyCheck();
    const view = sidecar('ns', { service: 'slow' });
    const limited = t.translate(mesh(slow([concurrency('slow', 0, 2)])), view);
    assert.deepEqual(limited.skipped, []);
    assert.deepEqual(check.check(limited.snapshot), []);
    const cds = decoded(limited.snapshot, 'cds');
    const inbound = [...cds.values()]
      .filter((c) => String(c.name).startsWith('INBOUND|'))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const endpoint = (c: Json) =>
      c.loadAssignment.endpoints[0].lbEndpoints.map((e: Json) => e.endpoint.address.socketAddress.portValue);
    assert.deepEqual(
      inbound.map((c) => [c.name, endpoint(c), wrapped(c.circuitBreakers?.thresholds?.[0]?.maxRequests)]),
      [
        ['INBOUND|ns|slow', [8080, 9090], undefined],
        ['INBOUND|ns|slow|8080', [8080], undefined],
        ['INBOUND|ns|slow|8080|concurrency|slow', [8080], 2],
        ['INBOUND|ns|slow|9090', [9090], undefined],
        ['INBOUND|ns|slow|9090|concurrency|slow', [9090], 2],
        ['INBOUND|ns|slow|concurrency|slow', [8080, 9090], 2],
      ],
    );
    const routes = (rc: string) =>
      resource(limited.snapshot, 'rds', rc).virtualHosts[0].routes.map((r: Json) => [r.name, r.route.cluster]);
    assert.deepEqual(routes('polaris-inbound-cluster|slow.ns|8080'), [
      ['ratelimit|slow|0', 'INBOUND|ns|slow|8080|concurrency|slow'],
      ['default', 'INBOUND|ns|slow|8080'],
    ]);
    assert.deepEqual(routes('polaris-inbound-cluster|slow.ns'), [
      ['ratelimit|slow|0', 'INBOUND|ns|slow|concurrency|slow'],
      ['default', 'INBOUND|ns|slow'],
    ]);
    // A new amount reaches the cluster; disabled or removed, the rule's clusters go with it.
    const three = t.translate(mesh(slow([concurrency('slow', 0, 3)])), view);
    const threshold = resource(three.snapshot, 'cds', 'INBOUND|ns|slow|concurrency|slow').circuitBreakers.thresholds[0];
    assert.equal(wrapped(threshold.maxRequests), 3);
    for (const rules of [[{ ...concurrency('slow', 0, 3), disable: true }], []]) {
      const gone = t.translate(mesh(slow(rules)), view);
      assert.deepEqual(check.check(gone.snapshot), []);
      assert.deepEqual(
        [...decoded(gone.snapshot, 'cds').keys()].filter((n) => n.includes('concurrency')),
        [],
        JSON.stringify(rules),
      );
    }
  });

  it("a gateway sends the rule's requests to a cluster of its own to the inner listener", () => {
    const echo = service('ns', 'echo', [instance('e1', '10.0.0.1', { port: 8080 })]);
    const gw = service('ns', 'gw', [instance('g1', '10.0.0.9')], {
      rateLimits: [
        rateLimit('ns', 'gw', {
          id: 'gw-slow',
          name: 'gw-slow',
          resource: 'CONCURRENCY',
          concurrencyMaxAmount: 2,
          arguments: [],
          method: ms('EXACT', '/slow'),
        }),
      ],
    });
    const t = createTranslator();
    const view = gateway('ns', 'gw', {
      'polaris-xds.io/gateway-port': '18080',
      'polaris-xds.io/internal-listeners': 'true',
    });
    const out = t.translate(mesh(echo, gw), view);
    assert.deepEqual(out.skipped, []);
    assert.deepEqual(new ConsistencyCheck().check(out.snapshot), []);
    const inner = (name: string) => {
      const c = resource(out.snapshot, 'cds', name);
      const address = c.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address;
      return [
        address.envoyInternalAddress.serverListenerName,
        wrapped(c.circuitBreakers?.thresholds?.[0]?.maxRequests),
      ];
    };
    assert.deepEqual(inner('polaris-gateway-inner'), ['polaris-gateway-inner', undefined]);
    assert.deepEqual(inner('polaris-gateway-inner|concurrency|gw-slow'), ['polaris-gateway-inner', 2]);
    assert.deepEqual(
      resource(out.snapshot, 'rds', 'polaris-gateway-entry').virtualHosts[0].routes.map((r: Json) => [
        r.name,
        r.route.cluster,
      ]),
      [
        ['ratelimit|gw-slow|0', 'polaris-gateway-inner|concurrency|gw-slow'],
        ['default', 'polaris-gateway-inner'],
      ],
    );
  });
});
