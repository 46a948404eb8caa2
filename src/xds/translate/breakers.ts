// Circuit-breaker rules (Polaris CIRCUIT_BREAKER) → Envoy outlier detection. The rules in effect for
// a (caller, callee) pair are chosen as polaris-go chooses them, one per level: an INSTANCE-level
// rule becomes the outlier detection of the callee's clusters for that caller; SERVICE- and
// METHOD-level rules become the outlier detection of one host standing for the service (or the
// method's calls), which service-breaker.ts builds. Each is translated exactly or skipped with a
// reason (docs/governance.md has the field-by-field mapping and why each skip exists). Pure.
import type { DeepPartial } from '../../gen/envoy/config/cluster/v3/cluster.js';
import type { OutlierDetection } from '../../gen/envoy/config/cluster/v3/outlier_detection.js';
import type { RouteMatch } from '../../gen/envoy/config/route/v3/route_components.js';
import type { CircuitBreakerRule, ErrorCondition } from '../../model/circuitbreaker.js';
import { compareKeys, type Service } from '../../model/mesh.js';
import { seconds } from './encode.js';
import { matchTest } from './routing/labels.js';
import { routeMatch, sourceMatch, type Flavor } from './routing/match.js';
import { appliesTo, isWildcard, type Caller } from './routing/rules.js';
import { skip, type SkipReason } from './skip.js';

/** ServiceBreaker is a SERVICE-level rule in effect: when the whole service trips it, calls get the fallback answer. */
export interface ServiceBreaker {
  /** Where the rule is reported, for skips that depend on the node. */
  readonly path: string;
  /** The outlier detection of the single host that stands for the whole service. */
  readonly outlier: DeepPartial<OutlierDetection>;
  /** The answer while open; undefined when the rule has none (Envoy then answers 503, no healthy upstream). */
  readonly fallback:
    | {
        readonly code: number;
        readonly headers: ReadonlyArray<{ readonly key: string; readonly value: string }>;
        readonly body: string;
      }
    | undefined;
}

/** MethodBreaker is a METHOD-level rule: a ServiceBreaker for the requests whose path its method matches. */
export interface MethodBreaker extends ServiceBreaker {
  /** Names the breaker's resources: `method:<rule id>`. */
  readonly scope: string;
  /** The requests it guards, as route matches (ORed). */
  readonly matches: ReadonlyArray<Partial<RouteMatch>>;
}

/** Breaker is what a service's circuit breakers give one caller's clusters of it. */
export interface Breaker {
  /**
   * The outlier detection of the callee's clusters; undefined when no INSTANCE rule is in effect (or it was skipped).
   */
  readonly outlier: DeepPartial<OutlierDetection> | undefined;
  /** The SERVICE-level rule in effect, translated; undefined when none is (or it was skipped). */
  readonly service: ServiceBreaker | undefined;
  /** The METHOD-level rules, in polaris-go's order (a request is guarded by the first whose method matches). */
  readonly methods: readonly MethodBreaker[];
  readonly skipped: readonly SkipReason[];
}

const NO_BREAKER: Breaker = Object.freeze({
  outlier: undefined,
  service: undefined,
  methods: Object.freeze([]),
  skipped: Object.freeze([]) as readonly SkipReason[],
});

/** wildcardLast orders names as polaris-go orders rule targets: specific names by text, then `*` (or empty). */
export function wildcardLast(a: string, b: string): number {
  const wa = isWildcard(a);
  const wb = isWildcard(b);
  if (wa && wb) return 0;
  if (wa) return 1;
  if (wb) return -1;
  return compareKeys(a, b);
}

/**
 * polarisOrder is polaris-go's rule order: by destination (namespace, service), then source; ties by id for
 * determinism.
 */
function polarisOrder(a: CircuitBreakerRule, b: CircuitBreakerRule): number {
  return (
    wildcardLast(a.destination.namespace, b.destination.namespace) ||
    wildcardLast(a.destination.service, b.destination.service) ||
    wildcardLast(a.source.namespace, b.source.namespace) ||
    wildcardLast(a.source.service, b.source.service) ||
    compareKeys(a.id, b.id)
  );
}

function covers(s: Service, rule: CircuitBreakerRule): boolean {
  const d = rule.destination;
  return (isWildcard(d.namespace) || d.namespace === s.namespace) && (isWildcard(d.service) || d.service === s.name);
}

/** The HTTP codes Envoy's outlier detection can count, and what each counter counts. */
const HTTP_CODES = Array.from({ length: 500 }, (_, i) => 100 + i);
const FIVE_XX = HTTP_CODES.filter((c) => c >= 500);
const GATEWAY = [502, 503, 504];
/** gRPC status codes; grpc-js (gRFC A50) counts every one but OK (0) as a failure. */
const GRPC_CODES = Array.from({ length: 17 }, (_, i) => i);
const GRPC_FAILURES = GRPC_CODES.filter((c) => c !== 0);

type Counted =
  | { readonly ok: true; readonly counts: '5xx' | 'gateway' | 'grpc' }
  | { readonly ok: false; readonly reason: string };

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * countedErrors says which of Envoy's (or grpc-js's) failure counters counts exactly the calls the
 * rule's error conditions call errors (any condition matching the response code).
 */
function countedErrors(conditions: readonly ErrorCondition[], path: string, flavor: Flavor): Counted {
  if (conditions.length === 0)
    return {
      ok: false,
      reason:
        `${path}: no error conditions; polaris-go then counts what the caller reports as failed, which Envoy ` +
        `cannot see`,
    };
  const codes = flavor === 'grpc' ? GRPC_CODES : HTTP_CODES;
  const matched = new Set<number>();
  for (const [i, c] of conditions.entries()) {
    if (c.inputType === 'DELAY')
      return {
        ok: false,
        reason: `error_conditions[${i}]: a slow-call (DELAY) condition; Envoy has no latency-based ejection`,
      };
    if (c.inputType !== 'RET_CODE')
      return {
        ok: false,
        reason: `error_conditions[${i}].input_type: ${c.inputType} is not a condition polaris-go evaluates`,
      };
    const t = matchTest('', c.condition);
    if (!t.ok) return { ok: false, reason: `error_conditions[${i}].condition: ${t.reason}` };
    for (const code of codes) if (t.test === undefined || t.test(String(code))) matched.add(code);
  }
  const list = [...matched].sort((a, b) => a - b);
  if (flavor === 'grpc') {
    if (sameSet(list, GRPC_FAILURES)) return { ok: true, counts: 'grpc' };
    return {
      ok: false,
      reason:
        `error_conditions: match status codes ${list.join(',') || 'none'}; grpc-js counts every non-OK status ` +
        `(1-16) as a failure and nothing else`,
    };
  }
  if (sameSet(list, FIVE_XX)) return { ok: true, counts: '5xx' };
  if (sameSet(list, GATEWAY)) return { ok: true, counts: 'gateway' };
  return {
    ok: false,
    reason:
      `error_conditions: match ${describeCodes(list)}; Envoy's outlier detection counts either every 5xx ` +
      `(500~599) or the gateway errors 502, 503, 504`,
  };
}

function describeCodes(codes: readonly number[]): string {
  if (codes.length === 0) return 'no HTTP code';
  const runs: string[] = [];
  let start = codes[0]!;
  let prev = start;
  for (const c of [...codes.slice(1), Number.NaN]) {
    if (c === prev + 1) {
      prev = c;
      continue;
    }
    runs.push(start === prev ? String(start) : `${start}~${prev}`);
    start = prev = c;
  }
  return `codes ${runs.join(',')}`;
}

type Translated =
  | { readonly ok: true; readonly outlier: DeepPartial<OutlierDetection> }
  | { readonly ok: false; readonly reason: string };

/**
 * CONSECUTIVE_SWEEP_SECONDS is the ejection sweep of a rule with only consecutive-error triggers: how late, at most, an
 * instance returns after its sleep window.
 */
export const CONSECUTIVE_SWEEP_SECONDS = 1;

/** outlierOf translates one INSTANCE-level rule, or says why it cannot be translated exactly. */
function outlierOf(rule: CircuitBreakerRule, flavor: Flavor): Translated {
  const counted = countedErrors(rule.errorConditions, 'error_conditions', flavor);
  if (!counted.ok) return counted;
  if (rule.triggerConditions.length === 0)
    return { ok: false, reason: 'trigger_condition: none; the rule can never open' };
  const consecutive: number[] = [];
  const rates: Array<{ percent: number; window: number; volume: number }> = [];
  for (const [i, t] of rule.triggerConditions.entries()) {
    const at = `trigger_condition[${i}]`;
    if (t.triggerType === 'CONSECUTIVE_ERROR') {
      if (!(t.errorCount > 0)) return { ok: false, reason: `${at}.error_count: must be at least 1` };
      consecutive.push(t.errorCount);
    } else if (t.triggerType === 'ERROR_RATE') {
      if (!(t.errorPercent > 0 && t.errorPercent <= 100))
        return { ok: false, reason: `${at}.error_percent: ${t.errorPercent} is not a percentage of 1-100` };
      if (!(t.intervalSeconds > 0))
        return { ok: false, reason: `${at}.interval: the statistics window must be at least 1 s` };
      rates.push({ percent: t.errorPercent, window: t.intervalSeconds, volume: t.minimumRequest });
    } else {
      return { ok: false, reason: `${at}.trigger_type: ${t.triggerType} is not a trigger polaris-go evaluates` };
    }
  }
  if (consecutive.length > 0 && flavor === 'grpc')
    return { ok: false, reason: 'trigger_condition: grpc-js (gRFC A50) has no consecutive-error ejection' };
  const first = rates[0];
  if (first && rates.some((r) => r.window !== first.window || r.volume !== first.volume)) {
    return {
      ok: false,
      reason:
        'trigger_condition: error-rate triggers with different windows or minimum requests; Envoy has one ' +
        'failure-percentage detector per cluster',
    };
  }
  const sleep = rule.recover.sleepWindowSeconds;
  if (!(sleep > 0)) return { ok: false, reason: 'recoverCondition.sleep_window: must be at least 1 s' };
  if (rule.recover.consecutiveSuccess > 1) {
    return {
      ok: false,
      reason:
        `recoverCondition.consecutiveSuccess: ${rule.recover.consecutiveSuccess}; Envoy has no half-open ` +
        `state: an instance returns to full traffic after the sleep window, as after one successful probe`,
    };
  }
  if (rule.maxEjectionPercent > 100)
    return { ok: false, reason: `max_ejection_percent: ${rule.maxEjectionPercent} is above 100` };
  // Only what the rule says may eject: every detector Envoy turns on by default is switched off.
  const outlier: DeepPartial<OutlierDetection> = {
    interval: seconds(first ? first.window : CONSECUTIVE_SWEEP_SECONDS),
    baseEjectionTime: seconds(sleep),
    // Envoy multiplies the ejection time by the times a host was ejected; polaris-go sleeps the same window every time.
    maxEjectionTime: seconds(sleep),
    maxEjectionPercent: rule.maxEjectionPercent,
    enforcingSuccessRate: 0,
    enforcingConsecutive5xx: counted.counts === '5xx' && consecutive.length > 0 ? 100 : 0,
    enforcingConsecutiveGatewayFailure: counted.counts === 'gateway' && consecutive.length > 0 ? 100 : 0,
    enforcingFailurePercentage: first ? 100 : 0,
  };
  if (consecutive.length > 0) {
    if (counted.counts === '5xx') outlier.consecutive5xx = Math.min(...consecutive);
    else outlier.consecutiveGatewayFailure = Math.min(...consecutive);
  }
  if (first) {
    if (counted.counts === 'gateway')
      return {
        ok: false,
        reason: "error_conditions: gateway errors only; Envoy's failure percentage counts every 5xx",
      };
    outlier.failurePercentageThreshold = Math.min(...rates.map((r) => r.percent));
    outlier.failurePercentageRequestVolume = first.volume;
    // polaris-go judges each instance on its own, however many there are.
    outlier.failurePercentageMinimumHosts = 1;
  }
  return { ok: true, outlier };
}

/** levelSkip is why a rule of its level is not enforced for this flavor, or undefined when it can be. */
function levelSkip(rule: CircuitBreakerRule, flavor: Flavor): string | undefined {
  switch (rule.level) {
    case 'INSTANCE':
      return undefined;
    case 'SERVICE':
    case 'METHOD':
      return flavor === 'grpc'
        ? `level ${rule.level}: grpc-js has no circuit breaker that fails calls fast`
        : undefined;
    default:
      return `level ${rule.level}: polaris-go enforces no rule of this level`;
  }
}

/** serviceBreakerOf translates a SERVICE-level rule: the service is one host, so its errors together eject it. */
function serviceBreakerOf(
  rule: CircuitBreakerRule,
  path: string,
): { ok: true; value: ServiceBreaker } | { ok: false; reason: string } {
  // The rule's max_ejection_percent is about instances; the one host standing for the service may always be ejected.
  const t = outlierOf({ ...rule, maxEjectionPercent: 100 }, 'envoy');
  if (!t.ok) return t;
  const f = rule.fallback;
  if (f.enable && !(f.code >= 200 && f.code <= 599))
    return { ok: false, reason: `fallbackConfig.response.code: ${f.code} is not an HTTP status Envoy can answer with` };
  return {
    ok: true,
    value: {
      path,
      outlier: t.outlier,
      fallback: f.enable ? { code: f.code, headers: f.headers, body: f.body } : undefined,
    },
  };
}

/**
 * breakerFor is the circuit breaking a caller gets for service `s`. Of the enabled rules that apply
 * to the caller, the first INSTANCE and the first SERVICE rule in polaris-go's order are in effect,
 * and the METHOD rules in that order (a request is guarded by the first whose method matches).
 */
export function breakerFor(s: Service, caller: Caller, flavor: Flavor): Breaker {
  const rules = s.circuitBreakers.rules;
  if (rules.length === 0) return NO_BREAKER;
  const path = (r: CircuitBreakerRule) => `${s.namespace}/${s.name}.circuitBreakers[${r.id}]`;
  const skipped: SkipReason[] = [];
  const applicable = rules.filter((r) => r.enable && covers(s, r) && appliesTo(r.source, caller)).sort(polarisOrder);
  for (const r of applicable) {
    const why = levelSkip(r, flavor);
    if (why) skipped.push(skip('circuit-breaker', path(r), why));
  }
  let service: ServiceBreaker | undefined;
  const serviceRule = flavor === 'envoy' ? applicable.find((r) => r.level === 'SERVICE') : undefined;
  if (serviceRule) {
    const t = serviceBreakerOf(serviceRule, path(serviceRule));
    if (t.ok) service = t.value;
    else skipped.push(skip('circuit-breaker', path(serviceRule), t.reason));
  }
  const methods: MethodBreaker[] = [];
  if (flavor === 'envoy') {
    for (const r of applicable.filter((x) => x.level === 'METHOD')) {
      const m = methodMatches(r);
      if (!m.ok) {
        skipped.push(skip('circuit-breaker', path(r), m.reason));
        continue;
      }
      const t = serviceBreakerOf(r, path(r));
      if (t.ok) methods.push({ ...t.value, scope: `method:${r.id}`, matches: m.matches });
      else skipped.push(skip('circuit-breaker', path(r), t.reason));
    }
  }
  let outlier: DeepPartial<OutlierDetection> | undefined;
  const rule = applicable.find((r) => r.level === 'INSTANCE');
  if (rule) {
    const t = outlierOf(rule, flavor);
    if (t.ok) outlier = t.outlier;
    else skipped.push(skip('circuit-breaker', path(rule), t.reason));
  }
  return outlier === undefined && service === undefined && methods.length === 0 && skipped.length === 0
    ? NO_BREAKER
    : { outlier, service, methods, skipped };
}

/** methodMatches translates a METHOD rule's method into route matches, as routing translates a `$path` condition. */
function methodMatches(
  rule: CircuitBreakerRule,
): { ok: true; matches: Array<Partial<RouteMatch>> } | { ok: false; reason: string } {
  const m = rule.destination.method;
  if (m === undefined)
    return { ok: false, reason: 'rule_matcher.destination.method: missing; a METHOD rule names the method it guards' };
  const sm = sourceMatch({ service: '*', namespace: '*', match: { $path: m } }, 'envoy');
  if (!sm.ok) return { ok: false, reason: `rule_matcher.destination.method: ${sm.reason}` };
  return { ok: true, matches: sm.alternatives.map(routeMatch) };
}
