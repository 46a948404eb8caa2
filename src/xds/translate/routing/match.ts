// One rule source → Envoy RouteMatch(es). Every condition is translated exactly or refused with a
// reason; the caller then skips the whole rule, so a route never matches more than the rule says.
//
// Semantics followed (Polaris SDKs, polaris-go pkg/algorithm/match and servicerouter/rulebase):
// - the conditions of one source are ANDed; a missing header/query/cookie never matches, whatever
//   the match type (NOT_EQUALS and NOT_IN included);
// - a value of `*` or `` matches any value of a present key (for `$path`/`$method`: anything),
//   and so does any value of type PARAMETER (Polaris passes those on the source side);
// - REGEX is a search (the pattern may match anywhere in the value);
// - IN / NOT_IN values are comma-separated literals, RANGE is `lo~hi`, inclusive, base-10 int64.
import type { MatchString, RouteSource } from '../../../model/mesh.js';
import type {
  HeaderMatcher,
  QueryParameterMatcher,
  RouteMatch,
} from '../../../gen/envoy/config/route/v3/route_components.js';
import { envoyRegex, escapeRe2, searchRegex } from './regex.js';

/** Flavor is the kind of client the routes are for: Envoy, or a proxyless gRPC client (grpc-js). */
export type Flavor = 'envoy' | 'grpc';

/** At most this many routes come from one rule (IN values are expanded into one route each). */
export const MAX_ROUTES_PER_RULE = 64;

type PathSpec = NonNullable<RouteMatch['pathSpecifier']>;
type Header = Pick<HeaderMatcher, 'name' | 'headerMatchSpecifier' | 'invertMatch'>;
type Query = Pick<QueryParameterMatcher, 'name' | 'queryParameterMatchSpecifier'>;

/** Conditions is one conjunction of conditions: a path specifier and header/query matchers. */
export interface Conditions {
  readonly path?: PathSpec;
  readonly headers: readonly Header[];
  readonly query: readonly Query[];
}

/** SourceMatch is a source as alternatives (ORed), or why it cannot be translated. */
export type SourceMatch =
  | { readonly ok: true; readonly alternatives: readonly Conditions[] }
  | { readonly ok: false; readonly key: string; readonly reason: string };

type KeyResult = { ok: true; alternatives: Conditions[] } | { ok: false; reason: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NONE: Conditions = { headers: [], query: [] };
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function refuse(reason: string): KeyResult {
  return { ok: false, reason };
}

function one(c: Partial<Conditions>): KeyResult {
  return { ok: true, alternatives: [{ headers: [], query: [], ...c }] };
}

function many(cs: Array<Partial<Conditions>>): KeyResult {
  return { ok: true, alternatives: cs.map((c) => ({ headers: [], query: [], ...c })) };
}

function isAny(m: MatchString): boolean {
  return m.value === '' || m.value === '*' || m.valueType === 'PARAMETER';
}

/** inValues splits an IN / NOT_IN value the way Polaris does (plain commas, no trimming), without duplicates. */
function inValues(value: string): string[] {
  return [...new Set(value.split(','))];
}

function regexOrRefuse(regex: string): { ok: true; regex: string } | { ok: false; reason: string } {
  return envoyRegex(regex);
}

// string_match rather than the deprecated exact_match / safe_regex_match fields.
function exact(name: string, value: string, invert = false): Header {
  return {
    name,
    headerMatchSpecifier: {
      $case: 'stringMatch',
      value: { matchPattern: { $case: 'exact', value }, ignoreCase: false },
    },
    invertMatch: invert,
  };
}

function present(name: string): Header {
  return { name, headerMatchSpecifier: { $case: 'presentMatch', value: true }, invertMatch: false };
}

function regexHeader(name: string, regex: string, invert = false): Header {
  return {
    name,
    headerMatchSpecifier: {
      $case: 'stringMatch',
      value: { matchPattern: { $case: 'safeRegex', value: { regex } }, ignoreCase: false },
    },
    invertMatch: invert,
  };
}

/** parseRange reads Polaris's `lo~hi` into Envoy's half-open [lo, hi+1), or undefined when it is not two int64s. */
export function parseRange(value: string): { start: bigint; end: bigint } | undefined {
  const parts = value.split('~');
  if (parts.length !== 2) return undefined;
  const [lo, hi] = parts.map((p) => (/^[+-]?\d+$/.test(p!) ? BigInt(p!) : undefined));
  if (lo === undefined || hi === undefined || lo < INT64_MIN || lo > INT64_MAX || hi < INT64_MIN || hi > INT64_MAX)
    return undefined;
  return { start: lo, end: hi + 1n };
}

/** headerConditions translates one condition on a request header (already lowercased). */
function headerConditions(name: string, m: MatchString): KeyResult {
  if (isAny(m)) return one({ headers: [present(name)] });
  switch (m.type) {
    case 'EXACT':
      return one({ headers: [exact(name, m.value)] });
    case 'NOT_EQUALS':
      // Absent headers must not match: grpc-js inverts a missing header to "match", Envoy does not.
      return one({ headers: [present(name), exact(name, m.value, true)] });
    case 'IN':
      return many(inValues(m.value).map((v) => ({ headers: [exact(name, v)] })));
    case 'NOT_IN':
      return one({ headers: [present(name), ...inValues(m.value).map((v) => exact(name, v, true))] });
    case 'REGEX': {
      const r = regexOrRefuse(searchRegex(m.value));
      return r.ok ? one({ headers: [regexHeader(name, r.regex)] }) : refuse(r.reason);
    }
    case 'RANGE': {
      const range = parseRange(m.value);
      if (!range) return refuse(`RANGE value ${JSON.stringify(m.value)} is not "lo~hi" with 64-bit integers`);
      if (range.start >= range.end) return refuse(`RANGE ${m.value} is empty and can never match`);
      // Int64 fields travel as JS numbers here; beyond 2^53 they would be rounded.
      if (range.start < -MAX_SAFE || range.end > MAX_SAFE)
        return refuse(`RANGE ${m.value} has bounds beyond ±2^53, which polaris-xds cannot encode exactly`);
      return one({
        headers: [
          {
            name,
            headerMatchSpecifier: {
              $case: 'rangeMatch',
              value: { start: Number(range.start), end: Number(range.end) },
            },
            invertMatch: false,
          },
        ],
      });
    }
  }
}

function pathConditions(m: MatchString): KeyResult {
  if (isAny(m)) return { ok: true, alternatives: [NONE] };
  // A request path always starts with '/': other values can never match.
  switch (m.type) {
    case 'EXACT':
      if (!m.value.startsWith('/'))
        return refuse(`path ${JSON.stringify(m.value)} does not start with '/' and can never match`);
      return one({ path: { $case: 'path', value: m.value } });
    case 'IN': {
      const paths = inValues(m.value).filter((v) => v.startsWith('/'));
      if (paths.length === 0)
        return refuse(`no path in ${JSON.stringify(m.value)} starts with '/'; the rule can never match`);
      return many(paths.map((v) => ({ path: { $case: 'path', value: v } })));
    }
    case 'REGEX': {
      const r = regexOrRefuse(searchRegex(m.value));
      return r.ok ? one({ path: { $case: 'safeRegex', value: { regex: r.regex } } }) : refuse(r.reason);
    }
    default:
      return refuse(`${m.type} on $path cannot be expressed: Envoy's path matcher has no negation or numeric range`);
  }
}

function queryConditions(name: string, m: MatchString, flavor: Flavor): KeyResult {
  if (flavor === 'grpc')
    return refuse(
      'proxyless gRPC clients ignore query parameter matchers, so the route would match more than the rule',
    );
  if (!TOKEN.test(name)) return refuse(`query parameter name ${JSON.stringify(name)} is not a plain token`);
  if (isAny(m)) return one({ query: [{ name, queryParameterMatchSpecifier: { $case: 'presentMatch', value: true } }] });
  const stringMatch = (v: Query['queryParameterMatchSpecifier']): Query => ({ name, queryParameterMatchSpecifier: v });
  switch (m.type) {
    case 'EXACT':
      return one({
        query: [
          stringMatch({
            $case: 'stringMatch',
            value: { matchPattern: { $case: 'exact', value: m.value }, ignoreCase: false },
          }),
        ],
      });
    case 'IN':
      return many(
        inValues(m.value).map((v) => ({
          query: [
            stringMatch({
              $case: 'stringMatch',
              value: { matchPattern: { $case: 'exact', value: v }, ignoreCase: false },
            }),
          ],
        })),
      );
    case 'REGEX': {
      const r = regexOrRefuse(searchRegex(m.value));
      if (!r.ok) return refuse(r.reason);
      return one({
        query: [
          stringMatch({
            $case: 'stringMatch',
            value: { matchPattern: { $case: 'safeRegex', value: { regex: r.regex } }, ignoreCase: false },
          }),
        ],
      });
    }
    default:
      return refuse(
        `${m.type} on a query parameter cannot be expressed: Envoy's query matcher has no negation or numeric range`,
      );
  }
}

/** cookieRegex matches a Cookie header that carries `name` with exactly `value` (or any value). */
function cookieRegex(name: string, value: string | undefined): string {
  const v = value === undefined ? '[^;]*' : escapeRe2(value);
  return `(?:.*;)?[ \\t]*${escapeRe2(name)}=${v}(?:[ \\t]*;.*)?`;
}

function cookieConditions(name: string, m: MatchString): KeyResult {
  if (!TOKEN.test(name)) return refuse(`cookie name ${JSON.stringify(name)} is not a plain token`);
  const header = (
    value: string | undefined,
    invert = false,
  ): { ok: true; h: Header } | { ok: false; reason: string } => {
    if (value !== undefined && /[;\s",\\]/.test(value))
      return {
        ok: false,
        reason: `cookie value ${JSON.stringify(value)} contains characters a cookie value cannot hold`,
      };
    const r = regexOrRefuse(cookieRegex(name, value));
    return r.ok ? { ok: true, h: regexHeader('cookie', r.regex, invert) } : r;
  };
  const all = (hs: Array<ReturnType<typeof header>>): { ok: true; hs: Header[] } | { ok: false; reason: string } => {
    const out: Header[] = [];
    for (const h of hs) {
      if (!h.ok) return h;
      out.push(h.h);
    }
    return { ok: true, hs: out };
  };
  if (isAny(m)) {
    const h = header(undefined);
    return h.ok ? one({ headers: [h.h] }) : refuse(h.reason);
  }
  switch (m.type) {
    case 'EXACT': {
      const h = header(m.value);
      return h.ok ? one({ headers: [h.h] }) : refuse(h.reason);
    }
    case 'IN': {
      const r = all(inValues(m.value).map((v) => header(v)));
      return r.ok ? many(r.hs.map((h) => ({ headers: [h] }))) : refuse(r.reason);
    }
    case 'NOT_EQUALS':
    case 'NOT_IN': {
      const values = m.type === 'NOT_IN' ? inValues(m.value) : [m.value];
      const r = all([header(undefined), ...values.map((v) => header(v, true))]);
      return r.ok ? one({ headers: r.hs }) : refuse(r.reason);
    }
    default:
      return refuse(`${m.type} on a cookie cannot be expressed exactly: only literal cookie values are matched`);
  }
}

function keyConditions(key: string, m: MatchString, flavor: Flavor): KeyResult {
  if (key === '*') return { ok: true, alternatives: [NONE] };
  if (m.valueType === 'VARIABLE')
    return refuse("value type VARIABLE names the caller's environment variable, which the control plane cannot see");
  if (key === '$path') return pathConditions(m);
  if (key === '$method') {
    if (flavor === 'grpc') return refuse('proxyless gRPC clients do not expose :method to route matching');
    return headerConditions(':method', m);
  }
  if (key === '$caller_ip')
    return refuse("$caller_ip cannot be matched: Envoy route matching has no condition on the caller's address");
  if (key.startsWith('$header.')) {
    let name = key.slice('$header.'.length).toLowerCase();
    if (!TOKEN.test(name)) return refuse(`header name ${JSON.stringify(name)} is not a plain token`);
    if (name === 'host') {
      if (flavor === 'grpc') return refuse('proxyless gRPC clients do not expose the host to header matching');
      name = ':authority';
    }
    if (flavor === 'grpc' && name.endsWith('-bin'))
      return refuse('proxyless gRPC clients never match binary (-bin) headers');
    return headerConditions(name, m);
  }
  if (key.startsWith('$query.')) return queryConditions(key.slice('$query.'.length), m, flavor);
  if (key.startsWith('$cookie.')) return cookieConditions(key.slice('$cookie.'.length), m);
  if (key.startsWith('$')) return refuse(`unknown argument ${key}`);
  return refuse(
    'custom arguments match labels the calling application passes to a Polaris SDK, which a proxy never sees',
  );
}

function merge(a: Conditions, b: Conditions): Conditions | undefined {
  if (a.path && b.path) return undefined;
  const path = a.path ?? b.path;
  return { ...(path ? { path } : {}), headers: [...a.headers, ...b.headers], query: [...a.query, ...b.query] };
}

/**
 * sourceMatch translates the request conditions of one source (its caller service/namespace are
 * checked elsewhere) into alternatives: one per combination of IN values. Keys are taken in
 * sorted order so the output is deterministic.
 */
export function sourceMatch(source: RouteSource, flavor: Flavor): SourceMatch {
  let alternatives: Conditions[] = [NONE];
  for (const key of Object.keys(source.match).sort()) {
    const r = keyConditions(key, source.match[key]!, flavor);
    if (!r.ok) return { ok: false, key, reason: r.reason };
    if (alternatives.length * r.alternatives.length > MAX_ROUTES_PER_RULE) {
      return { ok: false, key, reason: `IN values would expand into more than ${MAX_ROUTES_PER_RULE} routes` };
    }
    const next: Conditions[] = [];
    for (const a of alternatives) {
      for (const b of r.alternatives) {
        const m = merge(a, b);
        if (m) next.push(m);
      }
    }
    alternatives = next;
  }
  return { ok: true, alternatives };
}

/** routeMatch turns Conditions into an Envoy RouteMatch; without a path condition it matches every path. */
export function routeMatch(c: Conditions): Partial<RouteMatch> {
  return {
    pathSpecifier: c.path ?? { $case: 'prefix', value: '/' },
    headers: c.headers.map((h) => ({ ...h, treatMissingHeaderAsEmpty: false })),
    queryParameters: c.query.map((q) => ({ ...q })),
  };
}
