// GLOBAL rate-limit rules → the callee's rate-limit filter, route descriptors and fallback buckets,
// and the rate-limit service's RateLimitConfig (src/xds/translate/ratelimit-global.ts and
// ratelimit-service.ts): every amount a limit under the rule's descriptor, SHARE_EQUALLY multiplied
// by the instances, FAILOVER_LOCAL's bucket the instance's share; anything inexact skipped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RateLimitRule } from '../../../../src/model/ratelimit.js';
import { ExpressionFilter } from '../../../../src/gen/envoy/extensions/access_loggers/filters/cel/v3/cel.js';
import { LocalRateLimit } from '../../../../src/gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
import { RateLimit as RateLimitFilter } from '../../../../src/gen/envoy/extensions/filters/http/ratelimit/v3/rate_limit.js';
import { RateLimitConfig, RateLimitUnit } from '../../../../src/gen/ratelimit/config/ratelimit/v3/rls_conf.js';
import { parseNode } from '../../../../src/xds/node.js';
import { RATELIMIT_CONFIG_TYPE } from '../../../../src/xds/resource.js';
import { configDump, createTranslator, nodeView } from '../../../../src/xds/translate/index.js';
import { planRateLimits, type RateLimitContext } from '../../../../src/xds/translate/ratelimit.js';
import {
  countInstances,
  NO_LIMITER,
  RATELIMIT_SERVICE_CLUSTER,
  rateLimitConfig,
} from '../../../../src/xds/translate/ratelimit-global.js';
import { rateLimit } from '../../../support/governance.js';
import { decoded, type Json } from './support/envoy-protos.js';
import { instance, mesh, ms, service, sidecar } from './support/fixtures.js';

const PATH = 'ns/echo.rateLimits';
const DOMAIN = 'polaris|ns|echo';
const amount = (n: number, seconds = 1) => ({
  maxAmount: n,
  validDuration: { seconds, nanos: 0 },
  precision: 0,
  startAmount: 0,
  minAmount: 0,
});
const global = (o: Partial<RateLimitRule>) => rateLimit('ns', 'echo', { type: 'GLOBAL', ...o });
const ctx = (instances: number): RateLimitContext => ({ limiter: true, instances, domain: DOMAIN });

function plan(rules: RateLimitRule[], instances = 2) {
  return planRateLimits({ rules, revision: 'x' }, PATH, ctx(instances));
}

function configOf(f: { configType?: { $case: string; value: unknown } }): Uint8Array {
  return (f.configType as { value: { value: Uint8Array } }).value.value;
}

describe('GLOBAL rate-limit plan', () => {
  it('sends one descriptor per amount to the limiter, and with FAILOVER_LOCAL buckets of the instance share', () => {
    const p = plan(
      [
        global({ id: 'g', name: 'g', amounts: [amount(20), amount(500, 60)], failover: 'FAILOVER_LOCAL' }),
        global({
          id: 's',
          name: 's',
          priority: 1,
          method: ms('EXACT', '/s'),
          arguments: [],
          amounts: [amount(10)],
          amountMode: 'SHARE_EQUALLY',
          failover: 'FAILOVER_PASS',
        }),
      ],
      3,
    );
    assert.deepEqual(p.skipped, []);
    // GLOBAL_TOTAL: the amounts as they are; SHARE_EQUALLY: the amount × 3 instances.
    assert.deepEqual(
      p.global.map((l) => [l.rule, l.amounts.map((a) => [a.unit, a.total, a.share])]),
      [
        [
          'g',
          [
            [RateLimitUnit.SECOND, 20, 7],
            [RateLimitUnit.MINUTE, 500, 167],
          ],
        ],
        ['s', [[RateLimitUnit.SECOND, 30, 10]]],
      ],
    );
    // The rate-limit filter first (its answer is what the fallback buckets look at), then g's fallbacks.
    assert.deepEqual(
      p.filters.map((f) => f.name),
      [
        'envoy.filters.http.ratelimit',
        'envoy.filters.http.local_ratelimit.g.fallback.0',
        'envoy.filters.http.local_ratelimit.g.fallback.1',
      ],
    );
    const rl = RateLimitFilter.decode(configOf(p.filters[0]!));
    assert.equal(rl.domain, DOMAIN);
    assert.equal(rl.failureModeDeny, false);
    assert.equal(
      rl.rateLimitService?.grpcService?.targetSpecifier?.$case === 'envoyGrpc' &&
        rl.rateLimitService.grpcService.targetSpecifier.value.clusterName,
      RATELIMIT_SERVICE_CLUSTER,
    );
    const fallback = LocalRateLimit.decode(configOf(p.filters[2]!));
    assert.equal(fallback.tokenBucket, undefined, 'no default bucket: only unanswered requests are limited');
    assert.equal(fallback.stage, 1);
    assert.deepEqual(
      fallback.descriptors.map((d) => [
        d.entries.map((e) => [e.key, e.value]),
        d.tokenBucket?.maxTokens,
        d.tokenBucket?.tokensPerFill,
        d.tokenBucket?.fillInterval?.seconds,
      ]),
      [[[['polaris_limiter', 'unanswered']], 167, 167, 60]],
    );
    // Routes: each runs the rate-limit filter and its own fallbacks, and sends its descriptors.
    assert.deepEqual(
      p.routes.map((r) => [r.name, r.filters]),
      [
        [
          'ratelimit|g|0',
          [
            'envoy.filters.http.ratelimit',
            'envoy.filters.http.local_ratelimit.g.fallback.0',
            'envoy.filters.http.local_ratelimit.g.fallback.1',
          ],
        ],
        ['ratelimit|s|0', ['envoy.filters.http.ratelimit']],
      ],
    );
    const actions = (r: (typeof p.routes)[number]) =>
      r.rateLimits!.map((l) => [
        l.stage,
        l.actions!.map((a) =>
          a.actionSpecifier?.$case === 'genericKey'
            ? `${a.actionSpecifier.value.descriptorKey}=${a.actionSpecifier.value.descriptorValue}`
            : a.actionSpecifier?.$case === 'metadata'
              ? `${a.actionSpecifier.value.descriptorKey}<-${a.actionSpecifier.value.metadataKey?.key}.domain|${a.actionSpecifier.value.defaultValue}`
              : '?',
        ),
      ]);
    assert.deepEqual(actions(p.routes[0]!), [
      [0, ['polaris_rule=g', 'amount=0']],
      [0, ['polaris_rule=g', 'amount=1']],
      [1, ['polaris_limiter<-envoy.filters.http.ratelimit.domain|unanswered']],
    ]);
    assert.deepEqual(actions(p.routes[1]!), [[0, ['polaris_rule=s', 'amount=0']]]);
  });

  it('gives the limiter a tree: rule, then amount, each amount its unit and total', () => {
    const p = plan([global({ id: 'g', amounts: [amount(20), amount(500, 3600)] })]);
    const c = RateLimitConfig.toJSON(rateLimitConfig(DOMAIN, p.global));
    assert.deepEqual(c, {
      name: DOMAIN,
      domain: DOMAIN,
      descriptors: [
        {
          key: 'polaris_rule',
          value: 'g',
          descriptors: [
            { key: 'amount', value: '0', rateLimit: { unit: 'SECOND', requestsPerUnit: 20 } },
            { key: 'amount', value: '1', rateLimit: { unit: 'HOUR', requestsPerUnit: 500 } },
          ],
        },
      ],
    });
  });

  it("answers the limiter's 429 on a rule's routes with the rule's body, as for LOCAL rules", () => {
    const p = plan([
      global({ id: 'g', name: 'g', method: ms('IN', '/a,/b'), arguments: [], customResponseBody: 'too many orders' }),
    ]);
    // Each mapper: its CEL expression and its body.
    const mappers = (q: typeof p) =>
      q.localReply!.mappers.map((m) => {
        const f =
          m.filter?.filterSpecifier?.$case === 'andFilter'
            ? m.filter.filterSpecifier.value.filters[1]!.filterSpecifier
            : undefined;
        const e =
          f?.$case === 'extensionFilter' && f.value.configType?.$case === 'typedConfig'
            ? ExpressionFilter.decode(f.value.configType.value.value).expression
            : '';
        return [e, m.body?.specifier?.$case === 'inlineString' ? m.body.specifier.value : undefined];
      });
    assert.deepEqual(mappers(p), [['xds.route_name in ["ratelimit|g|0", "ratelimit|g|1"]', 'too many orders']]);
    // A LOCAL rule after it on the same requests claims its own refusals first (they name it), body or not.
    const mixed = plan([
      global({ id: 'g', name: 'g', method: ms('EXACT', '/a'), arguments: [], customResponseBody: 'too many orders' }),
      rateLimit('ns', 'echo', { id: 'l', name: 'l', priority: 1, method: ms('EXACT', '/a'), arguments: [] }),
    ]);
    const expressions = mappers(mixed);
    assert.deepEqual(expressions, [
      ['response.headers["x-polaris-xds-ratelimit-rule"] == "l"', undefined],
      ['xds.route_name in ["ratelimit|g+l|0", "ratelimit|g|0"]', 'too many orders'],
    ]);
  });

  it('counts each value of a header (or the method) apart, as polaris-go does without regex_combine', () => {
    const perUser = global({
      id: 'u',
      name: 'u',
      failover: 'FAILOVER_PASS',
      method: undefined,
      arguments: [
        { type: 'HEADER', key: 'X-User', value: ms('REGEX', '^a') },
        { type: 'METHOD', key: '', value: ms('EXACT', '*') },
      ],
    });
    const p = plan([perUser]);
    assert.deepEqual(p.skipped, []);
    assert.deepEqual(p.global[0]!.perValue, ['x-user', ':method']);
    assert.deepEqual(
      p.routes[0]!.rateLimits![0]!.actions!.map((a) =>
        a.actionSpecifier?.$case === 'requestHeaders'
          ? [a.actionSpecifier.value.headerName, a.actionSpecifier.value.descriptorKey]
          : a.actionSpecifier?.$case,
      ),
      ['genericKey', 'genericKey', ['x-user', 'header.x-user'], [':method', 'method']],
    );
    // The limit sits under one empty-valued key per header: a counter per distinct combination.
    assert.deepEqual(
      (RateLimitConfig.toJSON(rateLimitConfig(DOMAIN, p.global)) as { descriptors: unknown }).descriptors,
      [
        {
          key: 'polaris_rule',
          value: 'u',
          descriptors: [
            {
              key: 'amount',
              value: '0',
              descriptors: [
                {
                  key: 'header.x-user',
                  descriptors: [{ key: 'method', rateLimit: { unit: 'SECOND', requestsPerUnit: 5 } }],
                },
              ],
            },
          ],
        },
      ],
    );
    // The fallback would need a bucket per value; the query and the path have no header to count by.
    const reason = (o: Partial<RateLimitRule>) => plan([{ ...perUser, ...o }]).skipped[0]?.reason ?? '';
    assert.match(reason({ failover: 'FAILOVER_LOCAL' }), /FAILOVER_LOCAL with values counted apart \(x-user, :method/);
    assert.match(
      reason({ arguments: [{ type: 'QUERY', key: 'q', value: ms('REGEX', 'a') }] }),
      /\$query\.q matches by REGEX without regex_combine: .*only a header's or the method's/,
    );
    assert.match(reason({ arguments: [], method: ms('REGEX', '^/a') }), /\$path matches by REGEX/);
  });

  it('applies with the LOCAL rules after it on the same requests; one GLOBAL rule per request', () => {
    const p = plan([
      rateLimit('ns', 'echo', { id: 'local', name: 'local', priority: 1, method: ms('EXACT', '/a') }),
      global({ id: 'g', name: 'g', priority: 0, method: ms('EXACT', '/a'), arguments: [] }),
    ]);
    assert.deepEqual(p.skipped, []);
    // The limiter is asked first, then the LOCAL rule's bucket: polaris-go's order (priority 0 before 1).
    assert.deepEqual(
      p.routes.map((r) => [r.name, r.filters, r.rateLimits?.length]),
      [
        [
          'ratelimit|g+local|0',
          [
            'envoy.filters.http.ratelimit',
            'envoy.filters.http.local_ratelimit.g.fallback.0',
            'envoy.filters.http.local_ratelimit.local.0',
          ],
          2,
        ],
        ['ratelimit|g|0', ['envoy.filters.http.ratelimit', 'envoy.filters.http.local_ratelimit.g.fallback.0'], 2],
        ['ratelimit|local|0', ['envoy.filters.http.local_ratelimit.local.0'], undefined],
      ],
    );
    assert.deepEqual(
      p.global.map((l) => l.rule),
      ['g'],
    );
    // A LOCAL rule first would have Envoy ask the limiter out of polaris-go's order; two GLOBAL rules on the same
    // requests would both be counted when the first refuses: the later rule is skipped, the first applies.
    const later = plan([
      rateLimit('ns', 'echo', { id: 'local', name: 'local', priority: 0, method: ms('EXACT', '/a') }),
      global({ id: 'g', name: 'g', priority: 1, method: ms('EXACT', '/a'), arguments: [] }),
      global({ id: 'h', name: 'h', priority: 2, method: ms('IN', '/b,/c'), arguments: [] }),
      global({ id: 'k', name: 'k', priority: 3, method: ms('EXACT', '/c'), arguments: [] }),
    ]);
    assert.deepEqual(
      later.skipped.map((s) => [s.path.slice(PATH.length), s.reason.slice(0, 40)]),
      [
        ['[g]', 'rule local comes first and shares reques'],
        ['[k]', 'GLOBAL rule h comes first and shares req'],
      ],
    );
    assert.deepEqual(
      later.routes.map((r) => r.name),
      ['ratelimit|local|0', 'ratelimit|h|0', 'ratelimit|h|1'],
    );
  });

  it('skips what the limiter cannot count exactly, and only that rule', () => {
    const reasons = (rules: RateLimitRule[], c: RateLimitContext = ctx(2)) =>
      Object.fromEntries(
        planRateLimits({ rules, revision: 'x' }, PATH, c).skipped.map((s) => [s.path.slice(PATH.length), s.reason]),
      );
    const one = (o: Partial<RateLimitRule>) => Object.values(reasons([global({ id: 'x', name: 'x', ...o })]))[0];
    assert.equal(one({}), undefined);
    assert.match(
      one({ amounts: [amount(10, 5)] })!,
      /validDuration is 5s; the rate-limit service counts per second, minute, hour, day/,
    );
    assert.match(
      one({ amounts: [{ ...amount(10), validDuration: { seconds: 1, nanos: 500_000_000 } }] })!,
      /validDuration/,
    );
    assert.match(one({ resource: 'CONCURRENCY', concurrencyMaxAmount: 3 })!, /GLOBAL CONCURRENCY/);
    assert.match(one({ action: 'UNIRATE' })!, /UNIRATE/);
    assert.match(one({ amounts: [amount(0)] })!, /maxAmount is 0/);
    assert.match(one({ amountMode: 'SHARE_EQUALLY', amounts: [amount(3_000_000_000)] })!, /largest limit/);
    // A caller condition is a header the proxies write: counted per caller like any header.
    assert.equal(
      one({
        failover: 'FAILOVER_PASS',
        arguments: [{ type: 'CALLER_SERVICE', key: 'ns', value: ms('REGEX', '^web') }],
      }),
      undefined,
    );
    assert.match(
      one({ arguments: [{ type: 'CALLER_SERVICE', key: '*', value: ms('EXACT', 'web') }] })!,
      /CALLER_SERVICE key "\*"/,
    );
    // Without the rate-limit service's cluster: skipped; a later LOCAL rule on the same requests still applies.
    assert.deepEqual(
      reasons([global({ id: 'g', name: 'g' }), rateLimit('ns', 'echo', { id: 'l', name: 'l', priority: 1 })], {
        limiter: false,
        instances: 1,
        domain: '',
      }),
      {
        '[g]': NO_LIMITER,
      },
    );
  });

  it('counts the instances that take traffic, the unhealthy ones only when none is healthy', () => {
    const i = (id: string, o: Parameters<typeof instance>[2] = {}) => instance(id, '10.0.0.1', o);
    assert.equal(
      countInstances([i('a'), i('b'), i('c', { healthy: false }), i('d', { isolate: true }), i('e', { weight: 0 })]),
      2,
    );
    assert.equal(countInstances([i('a', { healthy: false }), i('b', { healthy: false })]), 2);
    assert.equal(countInstances([]), 1);
  });
});

describe('the rate-limit service and its sidecars', () => {
  const rules = [
    global({ id: 'g', name: 'g', amountMode: 'SHARE_EQUALLY', amounts: [amount(10)] }),
    rateLimit('ns', 'echo', { id: 'l', name: 'l', priority: 1, method: ms('EXACT', '/l'), arguments: [] }),
  ];
  const echo = (n: number) =>
    service(
      'ns',
      'echo',
      Array.from({ length: n }, (_, k) => instance(`e${k}`, `10.0.0.${k + 1}`, { port: 8080 })),
      { rateLimits: rules },
    );
  const limiterView = nodeView(parseNode({ id: 'ratelimit~rl-0', userAgentName: '', clientFeatures: [] }));

  it('serves the limiter one configuration per service with GLOBAL rules, following the instance count', () => {
    const t = createTranslator();
    const other = service('ns', 'plain', [instance('p', '10.0.1.1')], { rateLimits: [rateLimit('ns', 'plain')] });
    assert.equal(limiterView.runType, 'ratelimit');
    const first = t.translate(mesh(echo(2), other), limiterView);
    const set = first.snapshot.resources[RATELIMIT_CONFIG_TYPE];
    assert.deepEqual([...set.items.keys()], [DOMAIN]);
    const total = () =>
      (
        t.translate(mesh(echo(3), other), limiterView).snapshot.resources[RATELIMIT_CONFIG_TYPE].items.get(DOMAIN)!
          .message as RateLimitConfig
      ).descriptors[0]!.descriptors[0]!.rateLimit!.requestsPerUnit;
    assert.equal(
      (set.items.get(DOMAIN)!.message as RateLimitConfig).descriptors[0]!.descriptors[0]!.rateLimit!.requestsPerUnit,
      20,
    );
    assert.equal(total(), 30, 'a third instance raises the SHARE_EQUALLY total');
    // Only the limiter is served the type; it is served nothing else.
    assert.equal(first.snapshot.resources['type.googleapis.com/envoy.config.listener.v3.Listener'].items.size, 0);
    assert.equal(
      t.translate(mesh(echo(2), other), sidecar('ns', { service: 'echo' })).snapshot.resources[RATELIMIT_CONFIG_TYPE]
        .items.size,
      0,
    );
    // The same mesh again: the same set (invariant 1, and nothing re-sent).
    assert.equal(
      t.translate(mesh(echo(2), other), limiterView).snapshot.resources[RATELIMIT_CONFIG_TYPE].version,
      set.version,
    );
    assert.deepEqual(Object.keys(configDump(first.snapshot)), ['cds', 'eds', 'lds', 'rds', 'vhds', 'rls']);
  });

  it('puts the rate-limit filter on the inbound of sidecars bootstrapped with the limiter, and skips GLOBAL rules on the others', () => {
    const t = createTranslator();
    const world = mesh(echo(2));
    const withLimiter = t.translate(
      world,
      sidecar('ns', { service: 'echo', metadata: { 'polaris-xds.io/ratelimit-service': 'true' } }),
    );
    const without = t.translate(world, sidecar('ns', { service: 'echo' }));
    const inbound = (tr: typeof withLimiter) =>
      [...decoded(tr.snapshot, 'lds').values()].find((l) => String(l.name).includes('INBOUND'))!.filterChains[0]
        .filters[0].typedConfig;
    assert.deepEqual(
      inbound(withLimiter).httpFilters.map((f: Json) => f.name),
      [
        'envoy.filters.http.ratelimit',
        'envoy.filters.http.local_ratelimit.g.fallback.0',
        'envoy.filters.http.local_ratelimit.l.0',
        'envoy.filters.http.router',
      ],
    );
    assert.equal(inbound(withLimiter).httpFilters[0].typedConfig.domain, DOMAIN);
    assert.deepEqual(withLimiter.skipped, []);
    // Without: g is skipped; l (another literal path, so no request of g's) still applies.
    assert.deepEqual(
      inbound(without).httpFilters.map((f: Json) => f.name),
      ['envoy.filters.http.local_ratelimit.l.0', 'envoy.filters.http.router'],
    );
    assert.deepEqual(
      without.skipped.map((s) => [s.path, s.reason]),
      [[`${PATH}[g]`, NO_LIMITER]],
    );
  });
});
