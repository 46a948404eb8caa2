// Source conditions → Envoy matchers: each match type gives exactly the matcher it should, or a
// reason why the rule cannot be translated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_ROUTES_PER_RULE,
  parseRange,
  routeMatch,
  sourceMatch,
  type Conditions,
  type Flavor,
} from '../../../../src/xds/translate/routing/match.js';
import type { MatchString } from '../../../../src/model/mesh.js';
import { ms, source } from './support/fixtures.js';

function ok(match: Record<string, MatchString>, flavor: Flavor = 'envoy'): readonly Conditions[] {
  const r = sourceMatch(source(match), flavor);
  assert.ok(r.ok, `expected a translation, got: ${r.ok ? '' : r.reason}`);
  return r.alternatives;
}

function refused(match: Record<string, MatchString>, flavor: Flavor = 'envoy'): { key: string; reason: string } {
  const r = sourceMatch(source(match), flavor);
  assert.ok(!r.ok, `expected a refusal, got ${JSON.stringify(r)}`);
  return { key: r.key, reason: r.reason };
}

const exact = (name: string, value: string, invertMatch = false): Conditions['headers'][number] => ({
  name,
  headerMatchSpecifier: { $case: 'stringMatch', value: { matchPattern: { $case: 'exact', value }, ignoreCase: false } },
  invertMatch,
});
const present = (name: string): Conditions['headers'][number] => ({
  name,
  headerMatchSpecifier: { $case: 'presentMatch', value: true },
  invertMatch: false,
});
function regexOf(h: Conditions['headers'][number]): string {
  const s = h.headerMatchSpecifier;
  assert.equal(s?.$case, 'stringMatch');
  const p = (s as { value: { matchPattern: { $case: string; value: { regex: string } } } }).value.matchPattern;
  assert.equal(p.$case, 'safeRegex');
  return p.value.regex;
}

test('header EXACT is a string_match exact on the lowercased header name', () => {
  const [c] = ok({ '$header.X-User': ms('EXACT', 'Alice') });
  assert.deepEqual(c!.headers, [exact('x-user', 'Alice')]);
  assert.equal(c!.path, undefined);
});

test('header NOT_EQUALS needs the header present and not equal (grpc-js would otherwise match an absent header)', () => {
  const [c] = ok({ '$header.x-user': ms('NOT_EQUALS', 'bob') });
  assert.deepEqual(c!.headers, [present('x-user'), exact('x-user', 'bob', true)]);
});

test('header IN becomes one alternative per value; NOT_IN one inverted matcher per value', () => {
  const alts = ok({ '$header.x-env': ms('IN', 'dev,test,dev') });
  assert.deepEqual(
    alts.map((a) => a.headers),
    [[exact('x-env', 'dev')], [exact('x-env', 'test')]],
  );
  const [c] = ok({ '$header.x-env': ms('NOT_IN', 'dev,test') });
  assert.deepEqual(c!.headers, [present('x-env'), exact('x-env', 'dev', true), exact('x-env', 'test', true)]);
});

test('header REGEX is a search: the pattern may match anywhere, like Polaris', () => {
  const [c] = ok({ '$header.x-user': ms('REGEX', '^a.*z$') });
  const regex = regexOf(c!.headers[0]!);
  assert.equal(regex, '(?s:.*)(?:^a.*z$)(?s:.*)');
  const js = new RegExp(`^(?:${regex.replace(/\(\?s:/g, '(?:')})$`, 's');
  assert.ok(js.test('abcz'));
  const search = ok({ '$header.x-user': ms('REGEX', 'v2') })[0]!;
  assert.ok(new RegExp(`^${regexOf(search.headers[0]!).replace(/\(\?s:/g, '(?:')}$`, 's').test('canary-v2-eu'));
});

test('header RANGE lo~hi becomes range_match [lo, hi+1)', () => {
  const [c] = ok({ '$header.x-age': ms('RANGE', '18~65') });
  assert.deepEqual(c!.headers, [
    { name: 'x-age', headerMatchSpecifier: { $case: 'rangeMatch', value: { start: 18, end: 66 } }, invertMatch: false },
  ]);
  assert.deepEqual(parseRange('-5~-1'), { start: -5n, end: 0n });
  assert.equal(parseRange('1-5'), undefined);
  assert.equal(parseRange('a~5'), undefined);
  assert.match(refused({ '$header.x-age': ms('RANGE', '10~5') }).reason, /empty/);
  assert.match(refused({ '$header.x-age': ms('RANGE', '1~9223372036854775807') }).reason, /2\^53/);
  assert.match(refused({ '$header.x-age': ms('RANGE', 'x') }).reason, /lo~hi/);
});

test('`*`, empty and PARAMETER values mean "present with any value"; VARIABLE is refused', () => {
  for (const m of [ms('EXACT', '*'), ms('EXACT', ''), ms('NOT_EQUALS', '*'), ms('EXACT', 'uid', 'PARAMETER')]) {
    assert.deepEqual(ok({ '$header.x-user': m })[0]!.headers, [present('x-user')]);
  }
  assert.match(refused({ '$header.x-user': ms('EXACT', 'HOME', 'VARIABLE') }).reason, /VARIABLE/);
  assert.deepEqual(ok({ $path: ms('EXACT', '*') }), [{ headers: [], query: [] }]);
});

test('$method matches :method; proxyless clients cannot', () => {
  assert.deepEqual(ok({ $method: ms('EXACT', 'POST') })[0]!.headers, [exact(':method', 'POST')]);
  assert.match(refused({ $method: ms('EXACT', 'POST') }, 'grpc').reason, /:method/);
});

test('$path: EXACT → path, IN → one path per value, REGEX → safe_regex; negations and ranges are refused', () => {
  assert.deepEqual(ok({ $path: ms('EXACT', '/api/v1') })[0]!.path, { $case: 'path', value: '/api/v1' });
  assert.deepEqual(
    ok({ $path: ms('IN', '/a,/b') }).map((c) => c.path),
    [
      { $case: 'path', value: '/a' },
      { $case: 'path', value: '/b' },
    ],
  );
  assert.deepEqual(ok({ $path: ms('REGEX', '^/api/') })[0]!.path, {
    $case: 'safeRegex',
    value: { regex: '(?s:.*)(?:^/api/)(?s:.*)' },
  });
  for (const t of ['NOT_EQUALS', 'NOT_IN', 'RANGE'] as const)
    assert.equal(refused({ $path: ms(t, '/a') }).key, '$path');
});

test('$query: EXACT, IN, REGEX and presence translate; negations and ranges are refused; proxyless refuses all', () => {
  assert.deepEqual(ok({ '$query.uid': ms('EXACT', '7') })[0]!.query, [
    {
      name: 'uid',
      queryParameterMatchSpecifier: {
        $case: 'stringMatch',
        value: { matchPattern: { $case: 'exact', value: '7' }, ignoreCase: false },
      },
    },
  ]);
  assert.equal(ok({ '$query.uid': ms('IN', '1,2,3') }).length, 3);
  assert.deepEqual(ok({ '$query.uid': ms('EXACT', '*') })[0]!.query, [
    { name: 'uid', queryParameterMatchSpecifier: { $case: 'presentMatch', value: true } },
  ]);
  assert.equal(
    ok({ '$query.uid': ms('REGEX', '^7') })[0]!.query[0]!.queryParameterMatchSpecifier?.$case,
    'stringMatch',
  );
  for (const t of ['NOT_EQUALS', 'NOT_IN', 'RANGE'] as const)
    assert.match(refused({ '$query.uid': ms(t, '1') }).reason, /query/);
  assert.match(refused({ '$query.uid': ms('EXACT', '7') }, 'grpc').reason, /ignore query/);
});

test('$cookie EXACT matches exactly that cookie value inside the Cookie header', () => {
  const [c] = ok({ '$cookie.uid': ms('EXACT', 'u1') });
  assert.equal(c!.headers.length, 1);
  assert.equal(c!.headers[0]!.name, 'cookie');
  const re = new RegExp(`^${regexOf(c!.headers[0]!)}$`);
  for (const yes of ['uid=u1', 'a=1; uid=u1', 'uid=u1; b=2', 'a=1;uid=u1;b=2']) assert.ok(re.test(yes), yes);
  for (const no of ['uid=u12', 'xuid=u1', 'a=uid=u1', 'uid=u', 'a=1; uid=u2', '']) assert.ok(!re.test(no), no);
});

test('$cookie NOT_EQUALS requires the cookie present and not that value; REGEX and RANGE are refused', () => {
  const [c] = ok({ '$cookie.uid': ms('NOT_EQUALS', 'u1') });
  assert.equal(c!.headers.length, 2);
  assert.equal(c!.headers[0]!.invertMatch, false);
  assert.equal(c!.headers[1]!.invertMatch, true);
  const presentRe = new RegExp(`^${regexOf(c!.headers[0]!)}$`);
  assert.ok(presentRe.test('a=1; uid=zz'));
  assert.ok(!presentRe.test('a=1'));
  assert.match(refused({ '$cookie.uid': ms('REGEX', 'u.*') }).reason, /literal/);
  assert.match(refused({ '$cookie.uid': ms('RANGE', '1~2') }).reason, /literal/);
  assert.match(refused({ '$cookie.uid': ms('EXACT', 'a;b') }).reason, /cookie value/);
});

test('$caller_ip, custom keys and unknown $-keys are refused; key `*` imposes nothing', () => {
  assert.match(refused({ $caller_ip: ms('EXACT', '10.0.0.1') }).reason, /caller/);
  assert.match(refused({ 'user-tier': ms('EXACT', 'gold') }).reason, /custom/);
  assert.match(refused({ $foo: ms('EXACT', 'x') }).reason, /unknown/);
  assert.deepEqual(ok({ '*': ms('EXACT', 'x') }), [{ headers: [], query: [] }]);
});

test('proxyless refuses what grpc-js would silently ignore', () => {
  assert.match(refused({ '$header.trace-bin': ms('EXACT', 'x') }, 'grpc').reason, /-bin/);
  assert.match(refused({ '$header.host': ms('EXACT', 'x') }, 'grpc').reason, /host/);
  assert.deepEqual(ok({ '$header.host': ms('EXACT', 'x') })[0]!.headers, [exact(':authority', 'x')]);
});

test('conditions of one source are ANDed, IN values multiply, and too many routes are refused', () => {
  const alts = ok({ $path: ms('IN', '/a,/b'), '$header.x': ms('IN', '1,2,3'), '$header.y': ms('EXACT', 'v') });
  assert.equal(alts.length, 6);
  for (const a of alts) {
    assert.equal(a.path?.$case, 'path');
    assert.equal(a.headers.length, 2);
  }
  const big = Array.from({ length: MAX_ROUTES_PER_RULE + 1 }, (_, i) => `v${i}`).join(',');
  assert.match(refused({ '$header.x': ms('IN', big) }).reason, /routes/);
});

test('regexes Envoy might reject are refused, never emitted', () => {
  assert.match(refused({ '$header.x': ms('REGEX', '(?=a)b') }).reason, /lookaround/);
  assert.match(refused({ '$header.x': ms('REGEX', '(a)\\1') }).reason, /escape/);
  assert.match(refused({ '$header.x': ms('REGEX', 'a{0,200}') }).reason, /program size/);
});

test('routeMatch defaults to prefix / and keeps headers and query matchers', () => {
  const m = routeMatch({ headers: [exact('x', 'y')], query: [] });
  assert.deepEqual(m.pathSpecifier, { $case: 'prefix', value: '/' });
  assert.equal(m.headers?.[0]?.name, 'x');
});

test('paths that cannot start a request path never match: refused, or dropped from IN', () => {
  assert.match(refused({ $path: ms('EXACT', 'api') }).reason, /start with/);
  assert.deepEqual(
    ok({ $path: ms('IN', '/a,,b') }).map((c) => c.path),
    [{ $case: 'path', value: '/a' }],
  );
  assert.match(refused({ $path: ms('IN', 'a,b') }).reason, /never match/);
});
