// GLOBAL rate-limit rules: the Envoy side (envoy.filters.http.ratelimit and the route descriptors
// it sends) and the rate-limit service side (RateLimitConfig, what envoyproxy/ratelimit counts).
// Pure: everything follows from a service's rules, its instance count and whether the node has
// the rate-limit service's cluster. ratelimit.ts decides which rules apply to which requests
// (every matching rule, in polaris-go's order, shared with LOCAL rules) and calls in here for what
// a GLOBAL rule adds.
//
// How a GLOBAL rule is enforced (docs/governance.md "GLOBAL rules"):
// - The rule's requests are the routes ratelimit.ts makes with it (exact matches). Each such route
//   sends the limiter one descriptor per amount: [(polaris_rule, <rule>), (amount, <i>)]. The
//   service's domain config has one limit under each: the limiter refuses the request when any of
//   them is over, and every Envoy of the service counts in the same Redis counters.
// - GLOBAL_TOTAL: the limit is maxAmount. SHARE_EQUALLY (maxAmount is each instance's share, as
//   polaris-go's GetRuleTotal reads it): the limit is maxAmount × instances.
// - The limiter unreachable (or slower than LIMITER_TIMEOUT_MS): the filter lets the request on
//   (failure_mode_deny false): FAILOVER_PASS. FAILOVER_LOCAL adds, per amount, a local_ratelimit
//   filter (stage 1) whose only bucket is the instance's share, ceil(total / instances) as
//   polaris-go's remote-to-local fallback computes it. The route gives that filter a descriptor
//   read from the dynamic metadata the limiter's answer leaves (`domain`, which envoyproxy/ratelimit
//   returns with RESPONSE_DYNAMIC_METADATA=true), defaulting to `unanswered`: only a request the
//   limiter did not answer matches the bucket's descriptor and draws on it.
import { RateLimit as RateLimitFilter } from '../../gen/envoy/extensions/filters/http/ratelimit/v3/rate_limit.js';
import { LocalRateLimit } from '../../gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
// biome-ignore format: the generated module path is long on its own
import {
  HttpFilter,
} from '../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { RateLimit_Action_MetaData_Source, type RateLimit } from '../../gen/envoy/config/route/v3/route_components.js';
import { ApiVersion } from '../../gen/envoy/config/core/v3/config_source.js';
import { FractionalPercent_DenominatorType } from '../../gen/envoy/type/v3/percent.js';
import { StatusCode } from '../../gen/envoy/type/v3/http_status.js';
import { RateLimitConfig, RateLimitUnit } from '../../gen/ratelimit/config/ratelimit/v3/rls_conf.js';
import type { Instance } from '../../model/mesh.js';
import type { Duration, RateLimitAmount, RateLimitRule } from '../../model/ratelimit.js';
import { RATELIMIT_CONFIG_TYPE } from '../resource.js';
import { encodeResource, type EncodedResource } from '../snapshot.js';
import { typedAny } from './encode.js';

export const RATELIMIT_FILTER = 'envoy.filters.http.ratelimit';
/** The bootstrap cluster of the rate-limit service (`polaris-xds bootstrap --ratelimit-address`). */
export const RATELIMIT_SERVICE_CLUSTER = 'polaris_ratelimit_service';
/**
 * How long Envoy waits for the limiter before it treats the check as failed (failover). Envoy's
 * default is 20 ms, which a loaded limiter misses; a black-holed limiter delays each request by this much.
 */
export const LIMITER_TIMEOUT_MS = 200;
/** Descriptor keys: the rule, the amount, and (stage 1) whether the limiter answered. */
export const RULE_KEY = 'polaris_rule';
export const AMOUNT_KEY = 'amount';
export const ANSWERED_KEY = 'polaris_limiter';
/** The value ANSWERED_KEY takes when the limiter left no answer (its answers carry the domain). */
export const UNANSWERED = 'unanswered';
/** The stage of the fallback buckets' descriptors (the rate-limit filter reads stage 0). */
const FALLBACK_STAGE = 1;

const TYPED_RATELIMIT = 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit';
const TYPED_LOCAL_RATELIMIT = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const UINT32_MAX = 0xffffffff;

/** NO_LIMITER is the reason GLOBAL rules are skipped for a node without the rate-limit service's cluster. */
export const NO_LIMITER =
  'GLOBAL rules are counted by the rate-limit service, which this node has no cluster for; bootstrap it with ' +
  '`polaris-xds bootstrap --ratelimit-address host:port`';

/**
 * rateLimitDomain is a service's domain in the rate-limit service; `|` cannot occur in Polaris names, so domains never
 * collide.
 */
export function rateLimitDomain(namespace: string, service: string): string {
  return `polaris|${namespace}|${service}`;
}

/** GlobalContext is what a GLOBAL rule's translation depends on besides the rule. */
export interface GlobalContext {
  /** The node has the rate-limit service's cluster (limiter plans always do). */
  readonly limiter: boolean;
  /** Instances sharing the rule (at least 1): SHARE_EQUALLY's multiplier and FAILOVER_LOCAL's divisor. */
  readonly instances: number;
}

/** GlobalAmount is one amount of a GLOBAL rule as the limiter and the fallback bucket count it. */
export interface GlobalAmount {
  readonly unit: RateLimitUnit;
  /** The limit over all instances in one window. */
  readonly total: number;
  /** The instance's share when the limiter is unreachable (FAILOVER_LOCAL). */
  readonly share: number;
  readonly window: Duration;
}

/**
 * GlobalLimit is what the limiter counts for one rule: its descriptor value, its amounts in order,
 * and the request headers (`:method` for the method) whose distinct values are counted apart (a
 * REGEX or any-value condition without regex_combine, as polaris-go counts them).
 */
export interface GlobalLimit {
  readonly rule: string;
  readonly amounts: readonly GlobalAmount[];
  readonly perValue: readonly string[];
}

const UNITS: ReadonlyArray<readonly [number, RateLimitUnit, string]> = [
  [1, RateLimitUnit.SECOND, 'second'],
  [60, RateLimitUnit.MINUTE, 'minute'],
  [3600, RateLimitUnit.HOUR, 'hour'],
  [86_400, RateLimitUnit.DAY, 'day'],
  [604_800, RateLimitUnit.WEEK, 'week'],
  [2_592_000, RateLimitUnit.MONTH, 'month (30 days)'],
  [31_536_000, RateLimitUnit.YEAR, 'year (365 days)'],
];

/**
 * unitOf maps a window to the limiter's unit when it is exactly one unit long. Both polaris-go and
 * the limiter start windows at multiples of their length since the Unix epoch, so such a window
 * counts the same requests in both.
 */
function unitOf(d: Duration): RateLimitUnit | undefined {
  if (d.nanos !== 0) return undefined;
  return UNITS.find(([s]) => s === d.seconds)?.[1];
}

/**
 * countInstances is how many instances share a GLOBAL rule: those that take traffic (healthy, not isolated, weight
 * above 0), at least 1.
 */
export function countInstances(instances: readonly Instance[]): number {
  const serving = instances.filter((i) => !i.isolate && i.weight > 0);
  const healthy = serving.filter((i) => i.healthy).length;
  // With none healthy, the unhealthy ones take the traffic (the same fallback as routing).
  return Math.max(1, healthy > 0 ? healthy : serving.length);
}

/**
 * globalRefusal says why a GLOBAL rule cannot be enforced exactly on this node, or undefined when it can (matches and
 * actions are checked by the caller).
 */
export function globalRefusal(
  rule: RateLimitRule,
  ctx: GlobalContext,
  perValue: readonly string[] = [],
): string | undefined {
  if (!ctx.limiter) return NO_LIMITER;
  if (perValue.length > 0 && rule.failover === 'FAILOVER_LOCAL') {
    return (
      `FAILOVER_LOCAL with values counted apart (${perValue.join(', ')}, no regex_combine) needs a fallback ` +
      `bucket per value, which local_ratelimit cannot keep; use FAILOVER_PASS or regex_combine`
    );
  }
  if (rule.resource === 'CONCURRENCY')
    return (
      'a GLOBAL CONCURRENCY rule counts requests in flight across instances, which the rate-limit service ' +
      '(requests per window) cannot'
    );
  if (rule.amounts.length === 0) return 'the rule has no amounts';
  for (const [i, a] of rule.amounts.entries()) {
    if (!Number.isInteger(a.maxAmount) || a.maxAmount <= 0)
      return `amounts[${i}].maxAmount is ${a.maxAmount}; a limit needs at least one request`;
    if (unitOf(a.validDuration) === undefined) {
      const nanos = a.validDuration.nanos ? ` ${a.validDuration.nanos}ns` : '';
      const units = UNITS.map((u) => u[2]).join(', ');
      return (
        `amounts[${i}].validDuration is ${a.validDuration.seconds}s${nanos}; ` +
        `the rate-limit service counts per ${units} only`
      );
    }
    if (rule.amountMode === 'SHARE_EQUALLY' && a.maxAmount * ctx.instances > UINT32_MAX) {
      const total = `${a.maxAmount} × ${ctx.instances} instances`;
      return `amounts[${i}]: ${total} is over the rate-limit service's largest limit`;
    }
  }
  return undefined;
}

function globalAmount(rule: RateLimitRule, a: RateLimitAmount, instances: number): GlobalAmount {
  const total = rule.amountMode === 'SHARE_EQUALLY' ? a.maxAmount * instances : a.maxAmount;
  return {
    unit: unitOf(a.validDuration)!,
    total,
    share: Math.max(1, Math.ceil(total / instances)),
    window: a.validDuration,
  };
}

/** globalLimit is what the limiter counts for a rule that passed globalRefusal; `key` is its descriptor value. */
export function globalLimit(
  rule: RateLimitRule,
  key: string,
  ctx: GlobalContext,
  perValue: readonly string[] = [],
): GlobalLimit {
  return { rule: key, amounts: rule.amounts.map((a) => globalAmount(rule, a, ctx.instances)), perValue };
}

/** valueKey is the descriptor key a per-value header's values are sent under. */
function valueKey(header: string): string {
  return header === ':method' ? 'method' : `header.${header}`;
}

function hundredPercent(runtimeKey: string): {
  defaultValue: { numerator: number; denominator: FractionalPercent_DenominatorType };
  runtimeKey: string;
} {
  return { defaultValue: { numerator: 100, denominator: FractionalPercent_DenominatorType.HUNDRED }, runtimeKey };
}

/**
 * limiterFilter is the inbound's rate-limit filter for a domain: it asks the limiter about every descriptor a route
 * sends, and lets requests on when the limiter fails.
 */
export function limiterFilter(domain: string): HttpFilter {
  const config = RateLimitFilter.fromPartial({
    domain,
    stage: 0,
    timeout: { seconds: 0, nanos: LIMITER_TIMEOUT_MS * 1e6 },
    // Both failovers let the request on; FAILOVER_LOCAL's fallback buckets then apply.
    failureModeDeny: false,
    rateLimitService: {
      grpcService: { targetSpecifier: { $case: 'envoyGrpc', value: { clusterName: RATELIMIT_SERVICE_CLUSTER } } },
      transportApiVersion: ApiVersion.V3,
    },
  });
  return HttpFilter.fromPartial({
    name: RATELIMIT_FILTER,
    configType: { $case: 'typedConfig', value: typedAny(TYPED_RATELIMIT, RateLimitFilter, config) },
  });
}

/**
 * fallbackFilter is one amount's FAILOVER_LOCAL bucket: the instance's share, drawn on only by requests the limiter did
 * not answer.
 */
export function fallbackFilter(name: string, statPrefix: string, a: GlobalAmount): HttpFilter {
  const config = LocalRateLimit.fromPartial({
    statPrefix,
    stage: FALLBACK_STAGE,
    status: { code: StatusCode.TooManyRequests },
    // No default bucket: a request whose descriptor is not the one below is not limited here.
    descriptors: [
      {
        entries: [{ key: ANSWERED_KEY, value: UNANSWERED }],
        tokenBucket: {
          maxTokens: a.share,
          tokensPerFill: a.share,
          fillInterval: { seconds: a.window.seconds, nanos: a.window.nanos },
        },
      },
    ],
    filterEnabled: hundredPercent(`${statPrefix}.enabled`),
    filterEnforced: hundredPercent(`${statPrefix}.enforced`),
  });
  return HttpFilter.fromPartial({
    name,
    configType: { $case: 'typedConfig', value: typedAny(TYPED_LOCAL_RATELIMIT, LocalRateLimit, config) },
  });
}

/**
 * routeRateLimits are a GLOBAL rule's route descriptors: one per amount for the limiter, and with FAILOVER_LOCAL the
 * fallback's.
 */
export function routeRateLimits(limit: GlobalLimit, fallback: boolean): Array<Partial<RateLimit>> {
  const out: Array<Partial<RateLimit>> = limit.amounts.map((_, i) => ({
    stage: 0,
    actions: [
      { actionSpecifier: { $case: 'genericKey', value: { descriptorKey: RULE_KEY, descriptorValue: limit.rule } } },
      { actionSpecifier: { $case: 'genericKey', value: { descriptorKey: AMOUNT_KEY, descriptorValue: String(i) } } },
      // The route matched only requests with these headers, so the descriptor is always complete.
      ...limit.perValue.map((h) => ({
        actionSpecifier: {
          $case: 'requestHeaders' as const,
          value: { headerName: h, descriptorKey: valueKey(h), skipIfAbsent: false },
        },
      })),
    ],
  }));
  if (fallback) {
    out.push({
      stage: FALLBACK_STAGE,
      actions: [
        {
          actionSpecifier: {
            $case: 'metadata',
            value: {
              descriptorKey: ANSWERED_KEY,
              metadataKey: { key: RATELIMIT_FILTER, path: [{ segment: { $case: 'key', value: 'domain' } }] },
              defaultValue: UNANSWERED,
              source: RateLimit_Action_MetaData_Source.DYNAMIC,
              skipIfAbsent: false,
            },
          },
        },
      ],
    });
  }
  return out;
}

type DescriptorNode = {
  key: string;
  value: string;
  rateLimit?: { unit: RateLimitUnit; requestsPerUnit: number };
  descriptors?: DescriptorNode[];
};

/**
 * limitNode is one amount's node; with per-value headers the limit sits under one key per header, value left empty: the
 * limiter keeps a counter per distinct value.
 */
function limitNode(a: GlobalAmount, i: number, perValue: readonly string[]): DescriptorNode {
  const rateLimit = { unit: a.unit, requestsPerUnit: a.total };
  let leaf: DescriptorNode | undefined;
  for (const h of [...perValue].reverse())
    leaf = { key: valueKey(h), value: '', ...(leaf ? { descriptors: [leaf] } : { rateLimit }) };
  return { key: AMOUNT_KEY, value: String(i), ...(leaf ? { descriptors: [leaf] } : { rateLimit }) };
}

/** rateLimitConfig is a domain's configuration for the limiter: per rule, per amount, one limit. */
export function rateLimitConfig(domain: string, limits: readonly GlobalLimit[]): RateLimitConfig {
  return RateLimitConfig.fromPartial({
    name: domain,
    domain,
    descriptors: limits.map((l) => ({
      key: RULE_KEY,
      value: l.rule,
      descriptors: l.amounts.map((a, i) => limitNode(a, i, l.perValue)),
    })),
  });
}

/** encodeRateLimitConfig encodes a domain's configuration into a shared EncodedResource named after the domain. */
export function encodeRateLimitConfig(c: RateLimitConfig): EncodedResource {
  return encodeResource(RATELIMIT_CONFIG_TYPE, c.domain, RateLimitConfig.encode(c).finish(), c);
}
