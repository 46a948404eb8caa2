// Rate-limit rules → inbound filters, routes and limits (src/xds/translate/ratelimit.ts): every
// matching rule applies with all its amounts, in polaris-go's order (priority, then id); a rule is
// translated exactly or skipped with its reason, which costs only that rule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RateLimitRule } from '../../../../src/model/ratelimit.js';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { planRateLimits } from '../../../../src/xds/translate/ratelimit.js';
import { NO_LIMITER } from '../../../../src/xds/translate/ratelimit-global.js';
import { rateLimit } from '../../../support/governance.js';
import { LocalRateLimit } from '../../../../src/gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
import { decoded, resource, wrapped, type Json } from './support/envoy-protos.js';
import { gateway, instance, mesh, ms, service, sidecar } from './support/fixtures.js';

const PATH = 'ns/echo.rateLimits';
const second = (n: number) => ({
  maxAmount: n,
  validDuration: { seconds: 1, nanos: 0 },
  precision: 0,
  startAmount: 0,
  minAmount: 0,
});

function plan(rules: RateLimitRule[]) {
  return planRateLimits({ rules, revision: 'x' }, PATH);
}

function reasons(rules: RateLimitRule[]): Record<string, string> {
  return Object.fromEntries(plan(rules).skipped.map((s) => [s.path.slice(PATH.length), s.reason]));
}

describe('rate-limit plan', () => {
  it('orders rules by priority, gives each amount a bucket and each rule its routes', () => {
    const p = plan([
      rateLimit('ns', 'echo', { id: 'late', name: 'late', priority: 2, method: ms('IN', '/a,/b') }),
      rateLimit('ns', 'echo', {
        id: 'first',
        name: 'first',
        priority: 1,
        amounts: [second(10), { ...second(500), validDuration: { seconds: 60, nanos: 0 } }],
      }),
      rateLimit('ns', 'echo', { id: 'off', name: 'off', disable: true }),
    ]);
    assert.deepEqual(p.skipped, []);
    assert.deepEqual(
      p.routes.map((r) => [r.name, r.filters]),
      [
        [
          'ratelimit|first|0',
          ['envoy.filters.http.local_ratelimit.first.0', 'envoy.filters.http.local_ratelimit.first.1'],
        ],
        ['ratelimit|late|0', ['envoy.filters.http.local_ratelimit.late.0']],
        ['ratelimit|late|1', ['envoy.filters.http.local_ratelimit.late.0']],
      ],
    );
    const buckets = p.filters.map((f) =>
      LocalRateLimit.decode((f.configType as { value: { value: Uint8Array } }).value.value),
    );
    assert.deepEqual(
      buckets.map((b) => [
        b.tokenBucket!.maxTokens,
        b.tokenBucket!.tokensPerFill,
        b.tokenBucket!.fillInterval!.seconds,
        b.status!.code,
      ]),
      [
        [10, 10, 1, 429],
        [500, 500, 60, 429],
        [5, 5, 1, 429],
      ],
    );
    // Both conditions of the first rule, exactly: the path and the header.
    assert.deepEqual(p.routes[0]!.match, {
      pathSpecifier: { $case: 'path', value: '/api' },
      headers: [
        {
          name: 'x-user',
          headerMatchSpecifier: {
            $case: 'stringMatch',
            value: { matchPattern: { $case: 'exact', value: 'alice' }, ignoreCase: false },
          },
          invertMatch: false,
          treatMissingHeaderAsEmpty: false,
        },
      ],
      queryParameters: [],
    });
    // Ids that read the same once made safe for names still give distinct filters.
    const twins = plan([
      rateLimit('ns', 'echo', { id: 'ns/a b', name: 'a b', method: ms('EXACT', '/x') }),
      rateLimit('ns', 'echo', { id: 'ns/a_b', name: 'a_b' }),
    ]);
    assert.deepEqual(
      twins.filters.map((f) => f.name),
      ['envoy.filters.http.local_ratelimit.ns_a_b.0', 'envoy.filters.http.local_ratelimit.ns_a_b-1.0'],
    );
    // Same rules, same plan (invariant 1).
    assert.equal(
      plan([
        rateLimit('ns', 'echo', { id: 'late', name: 'late', priority: 2, method: ms('IN', '/a,/b') }),
        rateLimit('ns', 'echo', {
          id: 'first',
          name: 'first',
          priority: 1,
          amounts: [second(10), { ...second(500), validDuration: { seconds: 60, nanos: 0 } }],
        }),
        rateLimit('ns', 'echo', { id: 'off', name: 'off', disable: true }),
      ]).key,
      p.key,
    );
  });

  it('applies every matching rule: one route per combination, most rules first, buckets in polaris-go order', () => {
    const whole = rateLimit('ns', 'echo', { id: 'b-whole', name: 'whole', method: undefined, arguments: [] });
    // Same priority: polaris-go then orders by id, whatever the list order.
    const narrow = rateLimit('ns', 'echo', { id: 'a-narrow', name: 'narrow', customResponseBody: 'narrow says no' });
    const p = plan([whole, narrow]);
    assert.deepEqual(p.skipped, []);
    assert.deepEqual(
      p.routes.map((r) => [r.name, r.filters]),
      [
        [
          'ratelimit|a-narrow+b-whole|0',
          ['envoy.filters.http.local_ratelimit.a-narrow.0', 'envoy.filters.http.local_ratelimit.b-whole.0'],
        ],
        ['ratelimit|a-narrow|0', ['envoy.filters.http.local_ratelimit.a-narrow.0']],
        ['ratelimit|b-whole|0', ['envoy.filters.http.local_ratelimit.b-whole.0']],
      ],
    );
    // The combined route asks for both rules' conditions; the whole-service one matches any request.
    assert.deepEqual(p.routes[0]!.match, p.routes[1]!.match);
    assert.deepEqual(p.routes[2]!.match, {
      pathSpecifier: { $case: 'prefix', value: '/' },
      headers: [],
      queryParameters: [],
    });
    // Filters run in polaris-go's order: the first refusing rule answers, with its body (named in a header).
    assert.deepEqual(
      p.filters.map((f) => f.name),
      ['envoy.filters.http.local_ratelimit.a-narrow.0', 'envoy.filters.http.local_ratelimit.b-whole.0'],
    );
    const bucket = LocalRateLimit.decode((p.filters[0]!.configType as { value: { value: Uint8Array } }).value.value);
    assert.deepEqual(
      bucket.responseHeadersToAdd.map((h) => [h.header?.key, h.header?.value]),
      [['x-polaris-xds-ratelimit-rule', 'a-narrow']],
    );
    const mapper = p.localReply!.mappers[0]!;
    assert.equal(mapper.body?.specifier?.$case === 'inlineString' && mapper.body.specifier.value, 'narrow says no');
    assert.equal(p.localReply!.mappers.length, 1);
    // A lower priority puts the whole-service rule first instead.
    const first = plan([
      { ...whole, priority: 0 },
      { ...narrow, priority: 1 },
    ]);
    assert.equal(first.routes[0]!.name, 'ratelimit|b-whole+a-narrow|0');
    assert.deepEqual(
      first.filters.map((f) => f.name),
      ['envoy.filters.http.local_ratelimit.b-whole.0', 'envoy.filters.http.local_ratelimit.a-narrow.0'],
    );
  });

  it('combines paths exactly: equal or containing, none for disjoint, and skips what it cannot decide', () => {
    const on = (id: string, method: ReturnType<typeof ms> | undefined, priority = 0) =>
      rateLimit('ns', 'echo', { id, name: id, priority, method, arguments: [] });
    // Two literal paths that differ never meet: no combined route; IN values meet their equal.
    const p = plan([on('a', ms('EXACT', '/a')), on('b', ms('EXACT', '/b'), 1), on('ab', ms('IN', '/a,/c'), 2)]);
    assert.deepEqual(
      p.routes.map((r) => [r.name, r.match?.pathSpecifier]),
      [
        ['ratelimit|a+ab|0', { $case: 'path', value: '/a' }],
        ['ratelimit|a|0', { $case: 'path', value: '/a' }],
        ['ratelimit|b|0', { $case: 'path', value: '/b' }],
        ['ratelimit|ab|0', { $case: 'path', value: '/a' }],
        ['ratelimit|ab|1', { $case: 'path', value: '/c' }],
      ],
    );
    // An exact path and polaris-go's REGEX (a search) combine by testing the path against it.
    const r = plan([
      { ...on('re', ms('REGEX', 'pi$')), regexCombine: true },
      on('x', ms('EXACT', '/api'), 1),
      on('y', ms('EXACT', '/apix'), 2),
    ]);
    assert.deepEqual(
      r.skipped.map((s) => s.reason),
      [],
    );
    assert.deepEqual(
      r.routes.map((x) => [x.name, x.match?.pathSpecifier?.$case]),
      [
        ['ratelimit|re+x|0', 'path'],
        ['ratelimit|re|0', 'safeRegex'],
        ['ratelimit|x|0', 'path'],
        ['ratelimit|y|0', 'path'],
      ],
    );
    // Two different regexes cannot share one path matcher: the later rule is skipped, naming the earlier one.
    const two = plan([
      { ...on('re', ms('REGEX', '^/a')), regexCombine: true },
      { ...on('re2', ms('REGEX', 'b$'), 1), regexCombine: true },
    ]);
    assert.deepEqual(
      two.skipped.map((s) => [s.path.slice(PATH.length), s.reason]),
      [['[re2]', 'rule re comes first and their method conditions cannot be combined into one path matcher exactly']],
    );
    assert.deepEqual(
      two.routes.map((x) => x.name),
      ['ratelimit|re|0'],
    );
    // Two values of one header never meet either.
    const users = plan([
      rateLimit('ns', 'echo', { id: 'alice', name: 'alice' }),
      rateLimit('ns', 'echo', {
        id: 'bob',
        name: 'bob',
        arguments: [{ type: 'HEADER', key: 'x-user', value: ms('EXACT', 'bob') }],
      }),
    ]);
    assert.deepEqual(
      users.routes.map((x) => x.name),
      ['ratelimit|alice|0', 'ratelimit|bob|0'],
    );
  });

  it('bounds the combinations: a rule that would take more routes is skipped with its reason', () => {
    const rules = Array.from({ length: 7 }, (_, i) =>
      rateLimit('ns', 'echo', {
        id: `r${i}`,
        name: `r${i}`,
        priority: i,
        method: undefined,
        arguments: [{ type: 'HEADER', key: `x-h${i}`, value: ms('EXACT', 'v') }],
      }),
    );
    const p = plan(rules);
    // Six independent rules make 2^6 - 1 = 63 combinations; the seventh would double them.
    assert.equal(p.routes.length, 63);
    assert.deepEqual(
      p.skipped.map((s) => [s.path.slice(PATH.length), s.reason]),
      [['[r6]', 'with the rules before it, it would take more than 64 routes (one per combination)']],
    );
    assert.equal(p.routes[0]!.filters.length, 6);
  });

  it('skips what it cannot enforce exactly, and only that rule', () => {
    const noArgs = { arguments: [] };
    assert.deepEqual(
      reasons([
        rateLimit('ns', 'echo', { id: 'ok', name: 'ok', priority: 0 }),
        rateLimit('ns', 'echo', { id: 'u', name: 'u', priority: 1, action: 'UNIRATE' }),
        rateLimit('ns', 'echo', { id: 'after', name: 'after', priority: 2 }),
      ]),
      {
        '[u]': 'action UNIRATE (queueing to a uniform rate) has no exact equivalent in Envoy; only REJECT is enforced',
      },
    );
    // Later rules, whether or not they share requests with a skipped one, still apply.
    assert.deepEqual(
      reasons([
        rateLimit('ns', 'echo', { id: 'g', name: 'g', type: 'GLOBAL', method: ms('IN', '/global,/g2') }),
        rateLimit('ns', 'echo', { id: 'api', name: 'api', priority: 1 }),
        rateLimit('ns', 'echo', {
          id: 'bob',
          name: 'bob',
          priority: 1,
          type: 'GLOBAL',
          arguments: [{ type: 'HEADER', key: 'x-user', value: ms('EXACT', 'bob') }],
        }),
        rateLimit('ns', 'echo', { id: 'alice', name: 'alice', priority: 2, method: ms('EXACT', '/other') }),
        rateLimit('ns', 'echo', { id: 'any', name: 'any', priority: 3, method: undefined, arguments: [] }),
      ]),
      {
        '[g]': NO_LIMITER,
        '[bob]': NO_LIMITER,
      },
    );
    const one = (o: Partial<RateLimitRule>) => Object.values(reasons([rateLimit('ns', 'echo', o)]))[0];
    assert.equal(one({ type: 'GLOBAL' }), NO_LIMITER);
    assert.match(
      one({ arguments: [{ type: 'CALLER_METADATA', key: 'env', value: ms('EXACT', 'prod') }] })!,
      /CALLER_METADATA/,
    );
    // polaris-go takes a CALLER_SERVICE key as the caller's namespace, literally: `*` is no namespace.
    for (const key of ['*', ''])
      assert.match(
        one({ arguments: [{ type: 'CALLER_SERVICE', key, value: ms('EXACT', 'web') }] })!,
        /CALLER_SERVICE key .*no caller matches/,
      );
    // polaris-go's rate limiter has no RANGE match type: such a condition never matches there.
    assert.match(
      one({ arguments: [{ type: 'HEADER', key: 'x-n', value: ms('RANGE', '1~5') }] })!,
      /RANGE, which polaris-go's rate limiter does not have/,
    );
    assert.match(
      one({
        arguments: [
          { type: 'CALLER_SERVICE', key: 'ns', value: ms('EXACT', 'web') },
          { type: 'CALLER_SERVICE', key: 'other', value: ms('EXACT', 'web') },
        ],
      })!,
      /two conditions on \$header.x-polaris-xds-caller-namespace/,
    );
    assert.match(one({ arguments: [{ type: 'HEADER', key: 'x-user', value: ms('REGEX', 'a.*') }] })!, /regex_combine/);
    assert.match(one({ method: ms('NOT_EQUALS', '/api') })!, /NOT_EQUALS on \$path/);
    assert.match(one({ amounts: [{ ...second(1), validDuration: { seconds: 0, nanos: 10_000_000 } }] })!, /50 ms/);
    assert.match(one({ amounts: [] })!, /no amounts/);
    assert.match(one({ ...noArgs, labels: { 'x-user': ms('EXACT', 'a') } })!, /labels/);
    assert.match(one({ resource: 'CONCURRENCY', concurrencyMaxAmount: 0 })!, /concurrencyAmount.maxAmount is 0/);
    // polaris-go counts each value of a REGEX condition without regex_combine apart: one counter per value.
    assert.match(
      one({
        resource: 'CONCURRENCY',
        concurrencyMaxAmount: 2,
        arguments: [{ type: 'HEADER', key: 'x-user', value: ms('REGEX', 'a.*') }],
      })!,
      /regex_combine/,
    );
    assert.match(
      one({ resource: 'CONCURRENCY', ...noArgs, method: undefined, concurrencyMaxAmount: 0 })!,
      /concurrencyAmount.maxAmount is 0/,
    );
    // A REGEX condition with regex_combine is one bucket for all values: translated.
    assert.deepEqual(
      reasons([
        rateLimit('ns', 'echo', {
          regexCombine: true,
          arguments: [{ type: 'HEADER', key: 'x-user', value: ms('REGEX', 'a.*') }],
        }),
      ]),
      {},
    );
  });

  it("matches CALLER_SERVICE and CALLER_IP on the headers the caller's and the callee's proxies write", () => {
    const headers = (o: Partial<RateLimitRule>) =>
      plan([rateLimit('ns', 'echo', { method: undefined, ...o })]).routes.map((r) =>
        (r.match?.headers ?? []).map((h) => [
          h.name,
          h.headerMatchSpecifier?.$case === 'stringMatch'
            ? h.headerMatchSpecifier.value?.matchPattern?.value
            : h.headerMatchSpecifier?.$case,
          h.invertMatch,
        ]),
      );
    // The key is the caller's namespace, the value matches its service name.
    assert.deepEqual(headers({ arguments: [{ type: 'CALLER_SERVICE', key: 'prod', value: ms('EXACT', 'web') }] }), [
      [
        ['x-polaris-xds-caller-namespace', 'prod', false],
        ['x-polaris-xds-caller-service', 'web', false],
      ],
    ]);
    // NOT_EQUALS needs a caller: a request no proxy named (no header) matches no caller condition, as in polaris-go.
    assert.deepEqual(
      headers({ arguments: [{ type: 'CALLER_SERVICE', key: 'prod', value: ms('NOT_EQUALS', 'web') }] }),
      [
        [
          ['x-polaris-xds-caller-namespace', 'prod', false],
          ['x-polaris-xds-caller-service', 'presentMatch', false],
          ['x-polaris-xds-caller-service', 'web', true],
        ],
      ],
    );
    assert.deepEqual(headers({ arguments: [{ type: 'CALLER_IP', key: '', value: ms('IN', '127.0.0.2,10.0.0.1') }] }), [
      [['x-polaris-xds-caller-ip', '127.0.0.2', false]],
      [['x-polaris-xds-caller-ip', '10.0.0.1', false]],
    ]);
    assert.deepEqual(headers({ arguments: [{ type: 'CALLER_IP', key: '', value: ms('NOT_IN', '10.0.0.1') }] }), [
      [
        ['x-polaris-xds-caller-ip', 'presentMatch', false],
        ['x-polaris-xds-caller-ip', '10.0.0.1', true],
      ],
    ]);
    // A REGEX on the caller without regex_combine is a bucket per caller: not for LOCAL rules.
    assert.match(
      Object.values(
        reasons([
          rateLimit('ns', 'echo', { arguments: [{ type: 'CALLER_SERVICE', key: 'ns', value: ms('REGEX', 'w') }] }),
        ]),
      )[0]!,
      /x-polaris-xds-caller-service matches by REGEX without regex_combine/,
    );
  });

  it('a sidecar names its own service on what it sends and the peer address on what it receives, overwriting', () => {
    const echo = service('ns', 'echo', [instance('e1', '10.0.0.1', { port: 8080 })]);
    const t = createTranslator();
    const early = (view: ReturnType<typeof sidecar>, inbound: boolean) => {
      const l = [...decoded(t.translate(mesh(echo), view).snapshot, 'lds').values()].find(
        (x) => String(x.name).includes('INBOUND') === inbound,
      )!;
      return l.filterChains.map((c: Json) =>
        c.filters[0].typedConfig.earlyHeaderMutationExtensions.map((e: Json) => [
          e.name,
          e.typedConfig.mutations.map((m: Json) =>
            m.remove !== undefined
              ? ['remove', m.remove]
              : [m.append.header.key, m.append.header.value, m.append.appendAction],
          ),
        ]),
      );
    };
    const E = 'envoy.http.early_header_mutation.header_mutation';
    const O = 'OVERWRITE_IF_EXISTS_OR_ADD';
    // Both outbound chains (direct and intercepted); whatever the application sent is replaced.
    assert.deepEqual(
      early(sidecar('ns', { service: 'web' }), false),
      Array(2).fill([
        [
          E,
          [
            ['x-polaris-xds-caller-namespace', 'ns', O],
            ['x-polaris-xds-caller-service', 'web', O],
          ],
        ],
      ]),
    );
    // A sidecar that names no service is no known caller: it removes the headers.
    assert.deepEqual(
      early(sidecar('ns'), false),
      Array(2).fill([
        [
          E,
          [
            ['remove', 'x-polaris-xds-caller-namespace'],
            ['remove', 'x-polaris-xds-caller-service'],
          ],
        ],
      ]),
    );
    assert.deepEqual(early(sidecar('ns', { service: 'echo' }), true), [
      [[E, [['x-polaris-xds-caller-ip', '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', O]]]],
    ]);
  });

  it("a gateway registered as a service enforces that service's rules on what it takes in, then routes as usual", () => {
    const echo = service('ns', 'echo', [instance('e1', '10.0.0.1', { port: 8080 })]);
    const gwRules = (rules: RateLimitRule[]) =>
      service('ns', 'gw', [instance('g1', '10.0.0.9')], { rateLimits: rules });
    const t = createTranslator();
    const INTERNAL = { 'polaris-xds.io/internal-listeners': 'true' };
    const view = (gw: ReturnType<typeof service>, metadata: Record<string, string> = INTERNAL) =>
      t.translate(mesh(echo, gw), gateway('ns', 'gw', { 'polaris-xds.io/gateway-port': '18080', ...metadata }));
    const hcmOf = (l: Json) => l.filterChains[0].filters[0].typedConfig;
    const earlyOf = (l: Json) =>
      hcmOf(l).earlyHeaderMutationExtensions[0].typedConfig.mutations.map((m: Json) =>
        m.remove !== undefined ? m.remove : `${m.append.header.key}=${m.append.header.value}`,
      );
    // Without rules: one listener, naming the gateway as the caller of what it sends.
    const plain = view(gwRules([]));
    const [only] = [...decoded(plain.snapshot, 'lds').values()];
    assert.deepEqual(
      [only.name, hcmOf(only).rds.routeConfigName, earlyOf(only)],
      [
        'GATEWAY_18080',
        'polaris-outbound-router-gateway',
        ['x-polaris-xds-caller-namespace=ns', 'x-polaris-xds-caller-service=gw'],
      ],
    );
    // With a rule: the entry listener runs the rule's routes and buckets, all going to the inner listener.
    const limited = view(gwRules([rateLimit('ns', 'gw', { id: 'gw-api', name: 'gw-api' })]));
    assert.deepEqual(limited.skipped, []);
    const lds = decoded(limited.snapshot, 'lds');
    const entry = lds.get('GATEWAY_18080')!;
    const inner = lds.get('polaris-gateway-inner')!;
    assert.deepEqual(
      [hcmOf(entry).rds.routeConfigName, hcmOf(entry).httpFilters.map((f: Json) => f.name), earlyOf(entry)],
      [
        'polaris-gateway-entry',
        ['envoy.filters.http.local_ratelimit.gw-api.0', 'envoy.filters.http.router'],
        ['x-polaris-xds-caller-ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'],
      ],
    );
    assert.deepEqual(
      [Object.keys(inner.internalListener), hcmOf(inner).rds.routeConfigName, earlyOf(inner)],
      [[], 'polaris-outbound-router-gateway', ['x-polaris-xds-caller-namespace=ns', 'x-polaris-xds-caller-service=gw']],
    );
    const routes = resource(limited.snapshot, 'rds', 'polaris-gateway-entry').virtualHosts[0].routes;
    assert.deepEqual(
      routes.map((r: Json) => [r.name, r.route.cluster, Object.keys(r.typedPerFilterConfig ?? {})]),
      [
        ['ratelimit|gw-api|0', 'polaris-gateway-inner', []],
        ['default', 'polaris-gateway-inner', ['envoy.filters.http.local_ratelimit.gw-api.0']],
      ],
    );
    // The gateway's own routing is untouched: the inner listener serves the usual route configuration.
    assert.ok(
      limited.snapshot.resources['type.googleapis.com/envoy.config.route.v3.RouteConfiguration'].items.has(
        'polaris-outbound-router-gateway',
      ),
    );
    // CONCURRENCY: the requests in flight through the gateway, on the cluster to the inner listener.
    const busy = view(
      gwRules([
        rateLimit('ns', 'gw', { resource: 'CONCURRENCY', method: undefined, arguments: [], concurrencyMaxAmount: 3 }),
      ]),
    );
    const innerCluster = resource(busy.snapshot, 'cds', 'polaris-gateway-inner');
    assert.equal(wrapped(innerCluster.circuitBreakers.thresholds[0].maxRequests), 3);
    // Without Envoy's internal listeners the rules are skipped with the fix, and the gateway routes as before.
    const old = view(gwRules([rateLimit('ns', 'gw', { id: 'gw-api', name: 'gw-api' })]), {});
    assert.match(
      old.skipped.find((x) => x.path === 'ns/gw.rateLimits')?.reason ?? '',
      /internal listeners; bootstrap the gateway with `polaris-xds bootstrap --gateway`/,
    );
    assert.deepEqual([...decoded(old.snapshot, 'lds').keys()], ['GATEWAY_18080']);
  });

  it('CONCURRENCY on the whole service limits requests in flight, after the rules before it', () => {
    const whole = rateLimit('ns', 'echo', {
      id: 'c',
      name: 'c',
      resource: 'CONCURRENCY',
      method: undefined,
      arguments: [],
      concurrencyMaxAmount: 2,
      customResponseBody: 'busy',
    });
    // A rule after it would spend its tokens on requests polaris-go turns away at the concurrency limit.
    const p = plan([whole, rateLimit('ns', 'echo', { priority: 3 })]);
    assert.equal(p.maxRequests, 2);
    assert.deepEqual([p.routes, p.filters], [[], []]);
    assert.match(p.skipped[0]!.reason, /CONCURRENCY rule c comes first .* after every rate-limit filter/);
    assert.equal(p.localReply?.mappers[0]?.statusCode, 429);
    // Before it, a rule's buckets run first in Envoy as in polaris-go: both apply.
    const both = plan([rateLimit('ns', 'echo'), { ...whole, priority: 1 }]);
    assert.deepEqual([both.maxRequests, both.routes.length, both.skipped], [2, 1, []]);
  });

  it('puts the buckets on the callee inbound only: filters disabled by default routes, the limit on the inbound cluster', () => {
    const echo = service('ns', 'echo', [instance('e1', '10.0.0.1', { port: 8080 })], {
      rateLimits: [rateLimit('ns', 'echo', { customResponseBody: 'slow down' })],
    });
    const slow = service('ns', 'slow', [instance('s1', '10.0.0.2', { port: 8080 })], {
      rateLimits: [
        rateLimit('ns', 'slow', { resource: 'CONCURRENCY', method: undefined, arguments: [], concurrencyMaxAmount: 2 }),
      ],
    });
    const world = mesh(echo, slow);
    const t = createTranslator();
    const callee = t.translate(world, sidecar('ns', { service: 'echo' }));
    const lds = [...decoded(callee.snapshot, 'lds').values()].find((l) => String(l.name).includes('INBOUND'))!;
    const hcm = lds.filterChains[0].filters[0].typedConfig;
    assert.deepEqual(
      hcm.httpFilters.map((f: Json) => f.name),
      ['envoy.filters.http.local_ratelimit.rl-echo.0', 'envoy.filters.http.router'],
    );
    assert.equal(hcm.localReplyConfig.mappers[0].body.inlineString, 'slow down');
    const rds = [...decoded(callee.snapshot, 'rds').values()].find((r) =>
      String(r.name).startsWith('polaris-inbound'),
    )!;
    const routes = rds.virtualHosts[0].routes;
    assert.deepEqual(
      routes.map((r: Json) => [r.name, Object.keys(r.typedPerFilterConfig ?? {})]),
      [
        ['ratelimit|rl-echo|0', []],
        ['default', ['envoy.filters.http.local_ratelimit.rl-echo.0']],
      ],
    );
    assert.deepEqual(callee.skipped, []);
    // A caller of echo gets no rate-limit filter on its outbound.
    const caller = t.translate(world, sidecar('ns', { service: 'web' }));
    for (const l of decoded(caller.snapshot, 'lds').values())
      if (!String(l.name).includes('INBOUND'))
        assert.ok(!JSON.stringify(l).includes('local_ratelimit'), String(l.name));
    const cds = [...decoded(t.translate(world, sidecar('ns', { service: 'slow' })).snapshot, 'cds').values()].find(
      (c) => String(c.name).startsWith('INBOUND|'),
    )!;
    assert.equal(wrapped(cds.circuitBreakers.thresholds[0].maxRequests), 2);
    // Several ports: every chain (one per port, each a Polaris instance, and the catch-all) gets its own buckets.
    const two = service(
      'ns',
      'echo',
      [instance('e1', '10.0.0.1', { port: 8080 }), instance('e2', '10.0.0.1', { port: 9090 })],
      { rateLimits: [rateLimit('ns', 'echo')] },
    );
    const multi = t.translate(mesh(two), sidecar('ns', { service: 'echo' }));
    const chains = [...decoded(multi.snapshot, 'lds').values()].find((l) =>
      String(l.name).includes('INBOUND'),
    )!.filterChains;
    assert.deepEqual(
      chains.map((c: Json) => c.filters[0].typedConfig.httpFilters.map((f: Json) => f.name)),
      Array(3).fill(['envoy.filters.http.local_ratelimit.rl-echo.0', 'envoy.filters.http.router']),
    );
    const inboundRcs = [...decoded(multi.snapshot, 'rds').values()].filter((r) =>
      String(r.name).startsWith('polaris-inbound'),
    );
    assert.deepEqual(
      inboundRcs.map((r) => r.virtualHosts[0].routes.map((x: Json) => x.route.cluster)),
      [
        ['INBOUND|ns|echo', 'INBOUND|ns|echo'],
        ['INBOUND|ns|echo|8080', 'INBOUND|ns|echo|8080'],
        ['INBOUND|ns|echo|9090', 'INBOUND|ns|echo|9090'],
      ],
    );
    assert.deepEqual(multi.skipped, []);
  });
});
