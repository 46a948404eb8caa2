// Rate-limit rules (Polaris RATE_LIMIT) → the callee's inbound configuration. Pure: the plan
// depends only on the service's rules.
//
// Semantics followed (polaris-go's quota flow, pkg/flow/quota/assist.go): every enabled rule whose
// method and arguments all match the request applies, each with all its amounts, checked in
// polaris-go's order (priority ascending, then id: pkg/model/pb/assist.go SetDefault, the last
// sort); the first rule that refuses answers, and the tokens taken by the rules before it stay
// taken. So each amount of a LOCAL rule is one `local_ratelimit` filter in the inbound HTTP
// connection manager, in that order, its token bucket shared by every request of the rule; and
// each satisfiable combination of rules is one route (most rules first, ahead of the default
// route) that requires all their conditions and runs all their filters, disabling the others. A
// request thus takes the route of exactly the rules it matches. A rule that cannot be expressed
// exactly, alone or combined with the rules before it, is skipped; that costs only that rule.
// GLOBAL rules take part in the same combinations; what they add (the rate-limit filter, route
// descriptors, fallback buckets, the limiter's limits) comes from ratelimit-global.ts.
// A CONCURRENCY rule counts requests in flight per instance (polaris-go's reject_concurrency
// bucket: one counter per rule, taken when the request is let in, given back when the call ends),
// which is a cluster's circuit_breakers.max_requests: on the whole service the inbound cluster's;
// narrowed by method or arguments, a cluster of its own to the same application, which every route
// of the rule's combinations goes to. A route goes to one cluster, so two CONCURRENCY rules that
// can share a request cannot both hold: the later one is skipped.
import {
  HttpFilter,
  LocalReplyConfig,
} from '../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { LocalRateLimit } from '../../gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
import { ExpressionFilter } from '../../gen/envoy/extensions/access_loggers/filters/cel/v3/cel.js';
import {
  FilterConfig,
  type DeepPartial,
  type RateLimit,
  type Route,
} from '../../gen/envoy/config/route/v3/route_components.js';
import { ComparisonFilter_Op } from '../../gen/envoy/config/accesslog/v3/accesslog.js';
import { FractionalPercent_DenominatorType } from '../../gen/envoy/type/v3/percent.js';
import { StatusCode } from '../../gen/envoy/type/v3/http_status.js';
import type { Any } from '../../gen/google/protobuf/any.js';
import { HeaderValueOption_HeaderAppendAction } from '../../gen/envoy/config/core/v3/base.js';
import type { MatchString, RouteSource, RuleSet } from '../../model/mesh.js';
import type { RateLimitAmount, RateLimitArgument, RateLimitRule } from '../../model/ratelimit.js';
import { typedAny } from './encode.js';
import { concurrencyCluster } from './names.js';
import { clusterRoute, serviceRoutes } from './rds.js';
import { CALLER_IP_HEADER, CALLER_NAMESPACE_HEADER, CALLER_SERVICE_HEADER } from './caller.js';
import { routeMatch, sourceMatch, type Conditions } from './routing/match.js';
import { skip, type SkipReason } from './skip.js';
import {
  fallbackFilter,
  globalLimit,
  globalRefusal,
  limiterFilter,
  RATELIMIT_FILTER,
  routeRateLimits,
  type GlobalContext,
  type GlobalLimit,
} from './ratelimit-global.js';

export const LOCAL_RATELIMIT_FILTER = 'envoy.filters.http.local_ratelimit';
const TYPED_LOCAL_RATELIMIT = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const TYPED_FILTER_CONFIG = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';
const TYPED_CEL_FILTER = 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter';
/** The response header a LOCAL rule's buckets name the rule in when they refuse a request. */
export const RULE_HEADER = 'x-polaris-xds-ratelimit-rule';

/** Envoy's local rate limiter refuses fill intervals under 50 ms. */
const MIN_FILL_INTERVAL_MS = 50;

/** RateLimitRoute is one route of a rule, before its cluster is known. */
export interface RateLimitRoute {
  readonly name: string;
  readonly match: DeepPartial<Route>['match'];
  /** Filter names this route runs (the others are disabled on it). */
  readonly filters: readonly string[];
  /** A GLOBAL rule's descriptors: for the rate-limit filter, and for its fallback buckets. */
  readonly rateLimits?: ReadonlyArray<Partial<RateLimit>>;
  /** The narrowed CONCURRENCY rule (its id in names) whose cluster the route goes to. */
  readonly concurrency?: string;
}

/** NarrowedConcurrency is a CONCURRENCY rule narrowed by method or arguments: a cluster of its own. */
export interface NarrowedConcurrency {
  /** The rule's id as names take it: the cluster is concurrencyCluster(<the cluster it stands in for>, id). */
  readonly id: string;
  /** The most requests of the rule in flight to the instance. */
  readonly maxRequests: number;
}

/** RateLimitPlan is what a service's rate-limit rules add to its inbound configuration. */
export interface RateLimitPlan {
  /** Filters for the inbound HTTP connection manager, ahead of the router. */
  readonly filters: readonly HttpFilter[];
  readonly routes: readonly RateLimitRoute[];
  /** Rejection bodies (custom responses) of the rules that have one. */
  readonly localReply?: LocalReplyConfig;
  /** A CONCURRENCY rule on the whole service: the most requests in flight to the instance. */
  readonly maxRequests?: number;
  /** Narrowed CONCURRENCY rules, each the cluster its routes go to, in rule order. */
  readonly narrowedConcurrency: readonly NarrowedConcurrency[];
  /** What the rate-limit service counts for the GLOBAL rules applied, in rule order. */
  readonly global: readonly GlobalLimit[];
  readonly skipped: readonly SkipReason[];
  /** Identifies the plan's content, for caches of the resources built from it. */
  readonly key: string;
}

export const EMPTY_RATE_LIMIT_PLAN: RateLimitPlan = Object.freeze({
  filters: [],
  routes: [],
  skipped: [],
  global: [],
  narrowedConcurrency: [],
  key: '',
});

/** RateLimitContext is what a plan depends on besides the rules: GLOBAL rules' context and the service's domain. */
export interface RateLimitContext extends GlobalContext {
  readonly domain: string;
}

/** NO_LIMITER_CONTEXT plans for a node without the rate-limit service: GLOBAL rules are skipped. */
export const NO_LIMITER_CONTEXT: RateLimitContext = Object.freeze({ limiter: false, instances: 1, domain: '' });

type Refusal = { ok: false; reason: string };
/** Matched: a rule's route matches, and (GLOBAL rules) the request headers whose every value is counted on its own. */
type Matched = {
  ok: true;
  alternatives: readonly Conditions[];
  wholeService: boolean;
  perValue: readonly string[];
};

function isAny(m: MatchString): boolean {
  return m.value === '' || m.value === '*' || m.valueType === 'PARAMETER';
}

type Condition = readonly [key: string, value: MatchString];

/**
 * argumentConditions maps a rule argument to routing's match keys and values, or says why the callee's proxy cannot
 * match it. The caller's service and address are headers the proxies write (caller.ts).
 */
function argumentConditions(a: RateLimitArgument): { ok: true; conditions: Condition[] } | Refusal {
  switch (a.type) {
    case 'METHOD':
      return { ok: true, conditions: [['$method', a.value]] };
    case 'HEADER':
      return { ok: true, conditions: [[`$header.${a.key}`, a.value]] };
    case 'QUERY':
      return { ok: true, conditions: [[`$query.${a.key}`, a.value]] };
    case 'CALLER_IP':
      // polaris-go compares the caller's IP, whatever the argument's key.
      return { ok: true, conditions: [[`$header.${CALLER_IP_HEADER}`, a.value]] };
    case 'CALLER_SERVICE':
      // polaris-go looks the key up as the caller's namespace, literally: `*` or an empty key is no namespace.
      if (a.key === '' || a.key === '*')
        return {
          ok: false,
          reason:
            `CALLER_SERVICE key ${JSON.stringify(a.key)}: polaris-go takes the key as the caller's namespace, ` +
            'literally, so no caller matches; name the namespace',
        };
      return {
        ok: true,
        conditions: [
          [`$header.${CALLER_NAMESPACE_HEADER}`, { type: 'EXACT', value: a.key, valueType: 'TEXT' }],
          [`$header.${CALLER_SERVICE_HEADER}`, a.value],
        ],
      };
    case 'CALLER_METADATA':
      return {
        ok: false,
        reason: "CALLER_METADATA names the calling instance's metadata, which the callee's proxy never sees",
      };
    default:
      return {
        ok: false,
        reason: 'CUSTOM arguments are labels the calling application passes to a Polaris SDK, which a proxy never sees',
      };
  }
}

/**
 * perValueHeader is the request header whose value a per-value condition on `key` counts by, if Envoy can send it as a
 * descriptor.
 */
function perValueHeader(key: string): string | undefined {
  if (key === '$method') return ':method';
  // The path has no such header: `:path` carries the query string too.
  return key.startsWith('$header.') ? key.slice('$header.'.length).toLowerCase() : undefined;
}

/**
 * ruleMatches translates a rule's method and arguments into route matches (ORed). `perValue`:
 * the rule is counted by the rate-limit service, which can keep a counter per distinct value.
 */
function ruleMatches(rule: RateLimitRule, perValue: boolean): Matched | Refusal {
  const match: Record<string, MatchString> = {};
  const conditions: Condition[] = [];
  const counted: string[] = [];
  if (rule.method) conditions.push(['$path', rule.method]);
  for (const a of rule.arguments) {
    const c = argumentConditions(a);
    if (!c.ok) return c;
    conditions.push(...c.conditions);
  }
  for (const [key, value] of conditions) {
    if (Object.hasOwn(match, key))
      return { ok: false, reason: `two conditions on ${key}; polaris-xds cannot combine them exactly` };
    if (value.type === 'RANGE' && !isAny(value))
      return {
        ok: false,
        reason: `${key} matches by RANGE, which polaris-go's rate limiter does not have: the rule never matches there`,
      };
    // polaris-go counts each distinct value of a REGEX (or any-value) condition on its own unless the rule combines
    // them.
    if (!rule.regexCombine && (value.type === 'REGEX' || (isAny(value) && key !== '$path'))) {
      const how = value.type === 'REGEX' ? 'REGEX' : 'any value';
      const header = perValueHeader(key);
      if (!perValue)
        return {
          ok: false,
          reason:
            `${key} matches by ${how} without regex_combine: polaris-go keeps a bucket per distinct value, ` +
            `which local_ratelimit cannot`,
        };
      if (header === undefined)
        return {
          ok: false,
          reason:
            `${key} matches by ${how} without regex_combine: polaris-go counts each distinct value on its own, ` +
            `and Envoy cannot send the rate-limit service that value (only a header's or the method's)`,
        };
      counted.push(header);
    }
    match[key] = value;
  }
  const source: RouteSource = { service: '*', namespace: '*', match };
  const r = sourceMatch(source, 'envoy');
  if (!r.ok) return { ok: false, reason: `${r.key}: ${r.reason}` };
  // Any path (and nothing else) is every request; a condition on a header needs the header at least.
  const wholeService = conditions.every(([k, v]) => k === '$path' && isAny(v));
  return { ok: true, alternatives: r.alternatives, wholeService, perValue: counted };
}

function millis(a: RateLimitAmount): number {
  return a.validDuration.seconds * 1000 + a.validDuration.nanos / 1e6;
}

/** amountsRefusal says why a QPS rule's amounts cannot be token buckets, or undefined when they can. */
function amountsRefusal(amounts: readonly RateLimitAmount[]): string | undefined {
  if (amounts.length === 0) return 'the rule has no amounts';
  for (const [i, a] of amounts.entries()) {
    if (!Number.isInteger(a.maxAmount) || a.maxAmount <= 0)
      return `amounts[${i}].maxAmount is ${a.maxAmount}; a bucket needs at least one request`;
    if (millis(a) < MIN_FILL_INTERVAL_MS)
      return (
        `amounts[${i}].validDuration is under ${MIN_FILL_INTERVAL_MS} ms, the shortest interval Envoy's local ` +
        `rate limiter refills at`
      );
  }
  return undefined;
}

function hundredPercent(runtimeKey: string): {
  defaultValue: { numerator: number; denominator: FractionalPercent_DenominatorType };
  runtimeKey: string;
} {
  return { defaultValue: { numerator: 100, denominator: FractionalPercent_DenominatorType.HUNDRED }, runtimeKey };
}

/**
 * bucketFilter is one amount of a rule: a local_ratelimit filter with its own token bucket, rejecting with 429 and the
 * rule's id in RULE_HEADER (which tells the local reply mappers whose refusal it is).
 */
function bucketFilter(name: string, statPrefix: string, a: RateLimitAmount, rule: string): HttpFilter {
  const config = LocalRateLimit.fromPartial({
    statPrefix,
    status: { code: StatusCode.TooManyRequests },
    responseHeadersToAdd: [
      {
        header: { key: RULE_HEADER, value: rule },
        appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
      },
    ],
    tokenBucket: {
      maxTokens: a.maxAmount,
      tokensPerFill: a.maxAmount,
      fillInterval: { seconds: a.validDuration.seconds, nanos: a.validDuration.nanos },
    },
    filterEnabled: hundredPercent(`${statPrefix}.enabled`),
    filterEnforced: hundredPercent(`${statPrefix}.enforced`),
  });
  return HttpFilter.fromPartial({
    name,
    configType: { $case: 'typedConfig', value: typedAny(TYPED_LOCAL_RATELIMIT, LocalRateLimit, config) },
  });
}

const DISABLED: Any = typedAny(TYPED_FILTER_CONFIG, FilterConfig, FilterConfig.fromPartial({ disabled: true }));

/** disabledExcept is a route's typed_per_filter_config: every rate-limit filter but `own` is off on it. */
function disabledExcept(all: readonly HttpFilter[], own: readonly string[]): Record<string, Any> {
  const out: Record<string, Any> = {};
  for (const f of all) if (!own.includes(f.name)) out[f.name] = DISABLED;
  return out;
}

function celString(s: string): string {
  // A JSON string literal is a valid CEL string literal (the same escapes).
  return JSON.stringify(s);
}

/** localRejection maps a local 429 from a LOCAL rule's buckets (they name it in RULE_HEADER) to the rule's body. */
function localRejection(rule: string, body: string): LocalReplyConfig['mappers'][number] {
  return rejectionBody(`response.headers[${celString(RULE_HEADER)}] == ${celString(rule)}`, body);
}

/**
 * routeRejection maps a local 429 on one of a GLOBAL rule's routes (the limiter's or its fallback buckets' refusal,
 * once no LOCAL rule claimed it) to the rule's body.
 */
function routeRejection(routeNames: readonly string[], body: string): LocalReplyConfig['mappers'][number] {
  return rejectionBody(onRoutes(routeNames), body);
}

type AccessLogFilter = NonNullable<LocalReplyConfig['mappers'][number]['filter']>;

/** celFilter holds for the replies for which `expression` (CEL) holds. */
function celFilter(expression: string): AccessLogFilter {
  return {
    filterSpecifier: {
      $case: 'extensionFilter',
      value: {
        name: 'envoy.access_loggers.extension_filters.cel',
        configType: {
          $case: 'typedConfig',
          value: typedAny(TYPED_CEL_FILTER, ExpressionFilter, ExpressionFilter.fromPartial({ expression })),
        },
      },
    },
  } as AccessLogFilter;
}

/** onRoutes is a CEL expression holding on the routes named. */
function onRoutes(routeNames: readonly string[]): string {
  return `xds.route_name in [${routeNames.map(celString).join(', ')}]`;
}

/** rejectionBody maps a local 429 for which `expression` (CEL) holds to `body` (none: the reply stays as it is). */
function rejectionBody(expression: string, body: string): LocalReplyConfig['mappers'][number] {
  return {
    filter: {
      filterSpecifier: {
        $case: 'andFilter',
        value: {
          filters: [
            // Local replies only (mappers never see upstream answers); local_ratelimit sets no response flag on them.
            {
              filterSpecifier: {
                $case: 'statusCodeFilter',
                value: {
                  comparison: {
                    op: ComparisonFilter_Op.EQ,
                    value: { defaultValue: StatusCode.TooManyRequests, runtimeKey: 'polaris_ratelimit.status' },
                  },
                },
              },
            },
            celFilter(expression),
          ],
        },
      },
    },
    ...(body !== '' ? { body: { specifier: { $case: 'inlineString', value: body } } } : {}),
    headersToAdd: [],
  } as LocalReplyConfig['mappers'][number];
}

/** check says whether a rule can be enforced exactly on its own (and how it matches), or why not. */
function check(rule: RateLimitRule, ctx: GlobalContext): { ok: true; matched: Matched } | Refusal {
  const no = (reason: string): Refusal => ({ ok: false, reason });
  if (rule.type === 'GLOBAL' && !ctx.limiter) return no(globalRefusal(rule, ctx)!);
  const action = rule.action.trim().toUpperCase();
  if (action !== '' && action !== 'REJECT')
    return no(
      `action ${rule.action} (queueing to a uniform rate) has no exact equivalent in Envoy; only REJECT is enforced`,
    );
  if (Object.keys(rule.subset).length > 0)
    return no('subset (instance conditions) is not supported; use a rule per service');
  // Polaris mirrors arguments into labels for old SDKs; labels alone are a rule of the old form.
  if (rule.arguments.length === 0 && Object.keys(rule.labels).length > 0)
    return no('labels (the legacy form of arguments) are not supported; use arguments');
  if (rule.climbEnabled)
    return no('the climb adjuster changes amounts at run time, which a fixed token bucket cannot follow');
  const m = ruleMatches(rule, rule.type === 'GLOBAL');
  if (!m.ok) return m;
  if (rule.type === 'GLOBAL') {
    const bad = globalRefusal(rule, ctx, m.perValue);
    return bad === undefined ? { ok: true, matched: m } : no(bad);
  }
  if (rule.resource === 'CONCURRENCY') {
    const n = rule.concurrencyMaxAmount;
    if (!Number.isInteger(n) || n <= 0)
      return no(
        `concurrencyAmount.maxAmount is ${n}; at least one request in flight is needed (Polaris v1.18.1 does not ` +
          `store the field: such rules come from newer servers or the mesh file)`,
      );
    return { ok: true, matched: m };
  }
  const bad = amountsRefusal(rule.amounts);
  return bad === undefined ? { ok: true, matched: m } : no(bad);
}

/**
 * overflowBody answers a request a CONCURRENCY rule's cluster turned away (max_requests, flag UO) as a rate-limit
 * rejection: 429 with the body. `routeNames`: the routes of a narrowed rule, whose overflows only are its own.
 */
function overflowBody(body: string, routeNames?: readonly string[]): LocalReplyConfig['mappers'][number] {
  const overflow = { filterSpecifier: { $case: 'responseFlagFilter', value: { flags: ['UO'] } } } as AccessLogFilter;
  const filter =
    routeNames === undefined
      ? overflow
      : ({
          filterSpecifier: { $case: 'andFilter', value: { filters: [overflow, celFilter(onRoutes(routeNames))] } },
        } as AccessLogFilter);
  return {
    filter,
    statusCode: StatusCode.TooManyRequests,
    ...(body !== '' ? { body: { specifier: { $case: 'inlineString', value: body } } } : {}),
    headersToAdd: [],
  } as LocalReplyConfig['mappers'][number];
}

/**
 * ordered is polaris-go's order of a service's rules: priority ascending, then id ascending (its SetDefault sort, which
 * runs after ParseRuleValue's sort by type and level and so decides); list order between equal ids keeps it
 * deterministic.
 */
function ordered(rules: readonly RateLimitRule[]): RateLimitRule[] {
  return rules
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.priority - b.r.priority || (a.r.id < b.r.id ? -1 : a.r.id > b.r.id ? 1 : 0) || a.i - b.i)
    .map((x) => x.r);
}

/**
 * safeId names a rule in stat and filter names: Polaris's ids are hex, mesh-file ids are `<ns>/<name>`; distinct ids
 * that read the same once made safe get their position appended.
 */
function safeId(rule: RateLimitRule, index: number, taken: Set<string>): string {
  let id = (rule.id !== '' ? rule.id : `${index}`).replace(/[^A-Za-z0-9_-]/g, '_');
  if (taken.has(id)) id = `${id}-${index}`;
  taken.add(id);
  return id;
}

/** The most routes one service's rate-limit rules make, all combinations of overlapping rules included. */
export const MAX_RATE_LIMIT_ROUTES = 64;

type PathSpec = NonNullable<Conditions['path']>;
/** Combined: the conjunction of two conditions, or none (no request meets both), or why it cannot be expressed. */
type Combined = { kind: 'and'; conditions: Conditions } | { kind: 'none' } | { kind: 'unknown'; reason: string };

const SEARCH_PREFIX = '(?s:.*)(?:';
const SEARCH_SUFFIX = ')(?s:.*)';

/** searchMatches says whether polaris-go's search regex (wrapped by routing's searchRegex) finds a match in `path`. */
function searchMatches(regex: string, path: string): boolean | undefined {
  if (!regex.startsWith(SEARCH_PREFIX) || !regex.endsWith(SEARCH_SUFFIX)) return undefined;
  const pattern = regex.slice(SEARCH_PREFIX.length, regex.length - SEARCH_SUFFIX.length);
  try {
    // The syntax RE2 and JavaScript share means the same; anything else fails to compile here.
    return new RegExp(pattern, 'u').test(path);
  } catch {
    return undefined;
  }
}

/** bothPaths is the one path specifier meeting both, `none`, or undefined when it cannot be decided exactly. */
function bothPaths(a: PathSpec, b: PathSpec): PathSpec | 'none' | undefined {
  if (a.$case === 'path' && b.$case === 'path') return a.value === b.value ? a : 'none';
  if (a.$case === 'safeRegex' && b.$case === 'safeRegex') return a.value.regex === b.value.regex ? a : undefined;
  const exact = a.$case === 'path' ? a : b.$case === 'path' ? b : undefined;
  const regex = a.$case === 'safeRegex' ? a : b.$case === 'safeRegex' ? b : undefined;
  if (!exact || !regex) return undefined;
  const found = searchMatches(regex.value.regex, exact.value);
  return found === undefined ? undefined : found ? exact : 'none';
}

type Header = Conditions['headers'][number];

/** exactValue is the one value an exact, case-sensitive, non-inverted header matcher accepts. */
function exactValue(h: Header): string | undefined {
  const s = h.headerMatchSpecifier;
  if (h.invertMatch || s?.$case !== 'stringMatch' || s.value.ignoreCase) return undefined;
  return s.value.matchPattern?.$case === 'exact' ? s.value.matchPattern.value : undefined;
}

/** conflict says whether two exact matchers on one header ask for different values (no request meets both). */
function conflict(a: readonly Header[], b: readonly Header[]): boolean {
  return a.some((x) => {
    const v = exactValue(x);
    return v !== undefined && b.some((y) => y.name === x.name && exactValue(y) !== undefined && exactValue(y) !== v);
  });
}

/**
 * conjunction is one route's match for requests meeting both `a` and `b`: header and query matchers are ANDed as they
 * are, the path (one specifier per route) is combined here.
 */
export function conjunction(a: Conditions, b: Conditions): Combined {
  let path = a.path ?? b.path;
  if (a.path && b.path) {
    const both = bothPaths(a.path, b.path);
    if (both === 'none') return { kind: 'none' };
    if (both === undefined)
      return { kind: 'unknown', reason: 'their method conditions cannot be combined into one path matcher exactly' };
    path = both;
  }
  if (conflict(a.headers, b.headers)) return { kind: 'none' };
  return {
    kind: 'and',
    conditions: { ...(path ? { path } : {}), headers: [...a.headers, ...b.headers], query: [...a.query, ...b.query] },
  };
}

/** Applied is a rule the plan enforces, with what its routes run. */
interface Applied {
  readonly rule: RateLimitRule;
  readonly id: string;
  readonly label: string;
  /** Its filters, in the order they run. */
  readonly filters: readonly string[];
  readonly rateLimits?: ReadonlyArray<Partial<RateLimit>>;
  /** A narrowed CONCURRENCY rule: the most of its requests in flight (its routes' cluster). */
  readonly maxRequests?: number;
}

/** Combo is a set of rules (positions in the applied list, in order) and one conjunction of their conditions. */
interface Combo {
  readonly members: readonly number[];
  readonly conditions: Conditions;
}

/**
 * afterConcurrency says why `rule` cannot share requests with the CONCURRENCY rule `first` (labelled so) before it.
 */
function afterConcurrency(first: string, rule: RateLimitRule): string {
  if (rule.resource === 'CONCURRENCY')
    return (
      `CONCURRENCY rule ${first} comes first and shares requests with it: polaris-go counts such a request against ` +
      'both limits, but Envoy sends it to one cluster, whose max_requests holds one of them'
    );
  return (
    `CONCURRENCY rule ${first} comes first in polaris-go's order, but Envoy counts requests in flight at the ` +
    'cluster, after every rate-limit filter: this rule would count requests polaris-go turns away there'
  );
}

/**
 * combine adds a rule's alternatives to the combinations so far: alone, and with every combination it can share
 * requests with; or says why the rule cannot take part exactly.
 */
function combine(
  combos: readonly Combo[],
  applied: readonly Applied[],
  rule: RateLimitRule,
  position: number,
  alternatives: readonly Conditions[],
): { ok: true; added: Combo[] } | Refusal {
  const added: Combo[] = alternatives.map((conditions) => ({ members: [position], conditions }));
  for (const c of combos) {
    for (const alt of alternatives) {
      const both = conjunction(c.conditions, alt);
      if (both.kind === 'none') continue;
      const limited = c.members.find((m) => applied[m]!.maxRequests !== undefined);
      if (limited !== undefined) return { ok: false, reason: afterConcurrency(applied[limited]!.label, rule) };
      const names = c.members.map((m) => applied[m]!.label).join(', ');
      if (both.kind === 'unknown') return { ok: false, reason: `rule ${names} comes first and ${both.reason}` };
      if (rule.type === 'GLOBAL') {
        const global = c.members.find((m) => applied[m]!.rule.type === 'GLOBAL');
        if (global !== undefined)
          return {
            ok: false,
            reason:
              `GLOBAL rule ${applied[global]!.label} comes first and shares requests with it: the rate-limit service ` +
              'would count them for this rule too when that one refuses them, which polaris-go does not',
          };
        return {
          ok: false,
          reason:
            `rule ${names} comes first and shares requests with it, but Envoy asks the rate-limit service before ` +
            'any local bucket: not in polaris-go order',
        };
      }
      added.push({ members: [...c.members, position], conditions: both.conditions });
    }
  }
  if (combos.length + added.length > MAX_RATE_LIMIT_ROUTES)
    return {
      ok: false,
      reason: `with the rules before it, it would take more than ${MAX_RATE_LIMIT_ROUTES} routes (one per combination)`,
    };
  return { ok: true, added };
}

/**
 * planRateLimits translates a service's rate-limit rules for its inbound; `path` locates the rules
 * in skip reasons (`<ns>/<svc>.rateLimits`). Every inbound chain (one per service port, and the
 * catch-all) gets the filters and routes: a Polaris instance is one host:port, so a chain's
 * buckets are its instance's. `ctx` says whether GLOBAL rules can be enforced and how they count.
 */
export function planRateLimits(
  set: RuleSet<RateLimitRule>,
  path: string,
  ctx: RateLimitContext = NO_LIMITER_CONTEXT,
): RateLimitPlan {
  const enabled = set.rules.filter((r) => !r.disable);
  if (enabled.length === 0) return EMPTY_RATE_LIMIT_PLAN;
  const skipped: SkipReason[] = [];
  const filters: HttpFilter[] = [];
  const applied: Applied[] = [];
  let combos: Combo[] = [];
  let concurrency: { rule: RateLimitRule; label: string } | undefined;
  const global: GlobalLimit[] = [];
  const narrowed: NarrowedConcurrency[] = [];
  const taken = new Set<string>();
  for (const [index, rule] of ordered(enabled).entries()) {
    const label = rule.name || rule.id;
    const at = `${path}[${label}]`;
    if (concurrency) {
      skipped.push(skip('rate-limit', at, afterConcurrency(concurrency.label, rule)));
      continue;
    }
    const checked = check(rule, ctx);
    if (!checked.ok) {
      skipped.push(skip('rate-limit', at, checked.reason));
      continue;
    }
    const m = checked.matched;
    if (rule.resource === 'CONCURRENCY' && m.wholeService) {
      // It shares every request with a narrowed one before it.
      const first = applied.find((a) => a.maxRequests !== undefined);
      if (first) {
        skipped.push(skip('rate-limit', at, afterConcurrency(first.label, rule)));
        continue;
      }
      concurrency = { rule, label };
      continue;
    }
    const c = combine(combos, applied, rule, applied.length, m.alternatives);
    if (!c.ok) {
      skipped.push(skip('rate-limit', at, c.reason));
      continue;
    }
    const id = safeId(rule, index, taken);
    const own: string[] = [];
    let rateLimits: ReadonlyArray<Partial<RateLimit>> | undefined;
    if (rule.resource === 'CONCURRENCY') {
      const maxRequests = rule.concurrencyMaxAmount;
      narrowed.push({ id, maxRequests });
      applied.push({ rule, id, label, filters: own, maxRequests });
      combos = [...combos, ...c.added];
      continue;
    }
    if (rule.type === 'GLOBAL') {
      const limit = globalLimit(rule, id, ctx, m.perValue);
      global.push(limit);
      const fallback = rule.failover === 'FAILOVER_LOCAL';
      own.push(RATELIMIT_FILTER);
      if (fallback) {
        for (const [i, a] of limit.amounts.entries()) {
          const f = fallbackFilter(
            `${LOCAL_RATELIMIT_FILTER}.${id}.fallback.${i}`,
            `polaris_ratelimit_${id}_fallback_${i}`,
            a,
          );
          filters.push(f);
          own.push(f.name);
        }
      }
      rateLimits = routeRateLimits(limit, fallback);
    } else {
      for (const [i, a] of rule.amounts.entries()) {
        const f = bucketFilter(`${LOCAL_RATELIMIT_FILTER}.${id}.${i}`, `polaris_ratelimit_${id}_${i}`, a, id);
        filters.push(f);
        own.push(f.name);
      }
    }
    applied.push({ rule, id, label, filters: own, ...(rateLimits ? { rateLimits } : {}) });
    combos = [...combos, ...c.added];
  }
  // The rate-limit filter runs before every local bucket: a GLOBAL rule only shares requests with later LOCAL rules,
  // and its fallback buckets read the dynamic metadata its answer leaves.
  if (global.length > 0) filters.unshift(limiterFilter(ctx.domain));
  // Most rules first: a request meets the route of exactly the rules it matches before any route of fewer rules.
  const sorted = combos.map((c, i) => ({ c, i })).sort((a, b) => b.c.members.length - a.c.members.length || a.i - b.i);
  const routes: RateLimitRoute[] = [];
  const seen = new Map<string, number>();
  const routesOf = new Map<number, string[]>();
  for (const { c } of sorted) {
    const members = c.members.map((p) => applied[p]!);
    const set = members.map((a) => a.id).join('+');
    const n = seen.get(set) ?? 0;
    seen.set(set, n + 1);
    const name = `ratelimit|${set}|${n}`;
    const withLimits = members.find((a) => a.rateLimits);
    const limited = members.find((a) => a.maxRequests !== undefined);
    routes.push({
      name,
      match: routeMatch(c.conditions),
      filters: members.flatMap((a) => a.filters),
      ...(withLimits?.rateLimits ? { rateLimits: withLimits.rateLimits } : {}),
      ...(limited ? { concurrency: limited.id } : {}),
    });
    for (const p of c.members) routesOf.set(p, [...(routesOf.get(p) ?? []), name]);
  }
  const mappers: LocalReplyConfig['mappers'] = [];
  // A LOCAL bucket's refusal names its rule (response header); the limiter's and its fallback buckets' are known by
  // route once no LOCAL rule claimed the refusal, so LOCAL rules without a body get a mapper too when a GLOBAL one has.
  const globalBody = applied.some((a) => a.rule.type === 'GLOBAL' && a.rule.customResponseBody !== '');
  for (const a of applied)
    if (a.rule.type !== 'GLOBAL' && a.maxRequests === undefined && (a.rule.customResponseBody !== '' || globalBody))
      mappers.push(localRejection(a.id, a.rule.customResponseBody));
  for (const [p, a] of applied.entries())
    if (a.rule.type === 'GLOBAL' && a.rule.customResponseBody !== '')
      mappers.push(routeRejection(routesOf.get(p) ?? [], a.rule.customResponseBody));
  // A narrowed CONCURRENCY rule's overflows are the ones on its routes (only they go to its cluster).
  for (const [p, a] of applied.entries())
    if (a.maxRequests !== undefined) mappers.push(overflowBody(a.rule.customResponseBody, routesOf.get(p) ?? []));
  const maxRequests = concurrency?.rule.concurrencyMaxAmount;
  if (concurrency) mappers.push(overflowBody(concurrency.rule.customResponseBody));
  const localReply = mappers.length > 0 ? LocalReplyConfig.fromPartial({ mappers }) : undefined;
  const plan = {
    filters,
    routes,
    skipped,
    global,
    narrowedConcurrency: narrowed,
    ...(localReply ? { localReply } : {}),
    ...(maxRequests !== undefined ? { maxRequests } : {}),
  };
  const key =
    filters.length === 0 && maxRequests === undefined && narrowed.length === 0
      ? ''
      : JSON.stringify([
          routes,
          maxRequests,
          narrowed,
          filters.map((f) => Buffer.from(HttpFilter.encode(f).finish()).toString('base64')),
          localReply ? Buffer.from(LocalReplyConfig.encode(localReply).finish()).toString('base64') : '',
        ]);
  return { ...plan, key };
}

/**
 * rateLimitRoutes gives the plan's routes to `cluster` (a narrowed CONCURRENCY rule's to its own cluster standing in
 * for it), each running only its rule's filters (and sending a GLOBAL rule's descriptors).
 */
function rateLimitRoutes(plan: RateLimitPlan, cluster: string): Array<DeepPartial<Route>> {
  return plan.routes.map((r) => {
    const route: DeepPartial<Route> = {
      ...clusterRoute(
        r.name,
        r.match,
        r.concurrency === undefined ? cluster : concurrencyCluster(cluster, r.concurrency),
      ),
      typedPerFilterConfig: disabledExcept(plan.filters, r.filters),
    };
    if (r.rateLimits && route.action?.$case === 'route')
      route.action = { $case: 'route', value: { ...route.action.value, rateLimits: [...r.rateLimits] } };
    return route;
  });
}

/**
 * limitedRoutes are the routes of a proxy enforcing `plan` in front of `cluster`: the rules' routes, then the default
 * route, which runs none of the rate-limit filters.
 */
export function limitedRoutes(plan: RateLimitPlan, cluster: string): Array<DeepPartial<Route>> {
  const routes = [...rateLimitRoutes(plan, cluster), ...serviceRoutes([], cluster)];
  if (plan.filters.length > 0) {
    routes[routes.length - 1] = {
      ...routes[routes.length - 1],
      typedPerFilterConfig: disabledExcept(plan.filters, []),
    };
  }
  return routes;
}
