// Pure conversion of Polaris governance payloads (RATE_LIMIT, CIRCUIT_BREAKER, FAULT_DETECTOR)
// into the mesh model, field by field. Like convert.ts: no I/O; a rule that cannot be read (an
// enum value this build does not know, a missing id) is left out as a SkippedItem whose reason
// starts with the path of the field. Whether Envoy can enforce a rule is the translator's call.
import type {
  CircuitBreaker as PCircuitBreaker,
  CircuitBreakerRule as PCircuitBreakerRule,
} from '../gen/v1/circuitbreaker.js';
import type { FaultDetector as PFaultDetector, FaultDetectRule as PFaultDetectRule } from '../gen/v1/fault_detector.js';
import type { Duration as PDuration } from '../gen/google/protobuf/duration.js';
import type { MatchString as PMatchString } from '../gen/v1/model.js';
import type { RateLimit as PRateLimit, Rule as PRateLimitRule } from '../gen/v1/ratelimit.js';
import type { CircuitBreakerLevel, CircuitBreakerRule, ErrorInputType, TriggerType } from '../model/circuitbreaker.js';
import type { FaultDetectProtocol, FaultDetectRule } from '../model/faultdetect.js';
import { compareKeys, serviceKey, type MatchString, type RuleSet } from '../model/mesh.js';
import type {
  Duration,
  RateLimitAmountMode,
  RateLimitArgumentType,
  RateLimitFailover,
  RateLimitResource,
  RateLimitRule,
  RateLimitType,
} from '../model/ratelimit.js';
import { Malformed, matchMap, matchString, type SkippedItem, type SkippedKind } from './convert.js';

/** enumName reads a proto enum number as its name, or throws Malformed naming the field. */
function enumName<T extends string>(names: readonly T[], value: number, path: string): T {
  const name = names[value];
  if (name === undefined) throw new Malformed(`${path}: unknown value ${value}`);
  return name;
}

const LEVELS: readonly CircuitBreakerLevel[] = ['UNKNOWN', 'SERVICE', 'METHOD', 'GROUP', 'INSTANCE'];
const INPUT_TYPES: readonly ErrorInputType[] = ['UNKNOWN', 'RET_CODE', 'DELAY'];
const TRIGGER_TYPES: readonly TriggerType[] = ['UNKNOWN', 'ERROR_RATE', 'CONSECUTIVE_ERROR'];
const PROTOCOLS: readonly FaultDetectProtocol[] = ['UNKNOWN', 'HTTP', 'TCP', 'UDP'];
const RESOURCES: readonly RateLimitResource[] = ['QPS', 'CONCURRENCY'];
const RATE_LIMIT_TYPES: readonly RateLimitType[] = ['GLOBAL', 'LOCAL'];
const AMOUNT_MODES: readonly RateLimitAmountMode[] = ['GLOBAL_TOTAL', 'SHARE_EQUALLY'];
const FAILOVERS: readonly RateLimitFailover[] = ['FAILOVER_LOCAL', 'FAILOVER_PASS'];
const ARGUMENT_TYPES: readonly RateLimitArgumentType[] = [
  'CUSTOM',
  'METHOD',
  'HEADER',
  'QUERY',
  'CALLER_SERVICE',
  'CALLER_IP',
  'CALLER_METADATA',
];

/** optionalMatch converts a MatchString that may be absent (absent = any). */
function optionalMatch(m: PMatchString | undefined, path: string): MatchString | undefined {
  return m === undefined ? undefined : matchString(m, path);
}

function duration(d: PDuration | undefined): Duration {
  return { seconds: Number(d?.seconds ?? 0), nanos: d?.nanos ?? 0 };
}

/** convertRules converts each rule, leaving out (and reporting) the ones that throw Malformed, ordered by `order`. */
function convertRules<P, T>(
  owner: string,
  kind: SkippedKind,
  rules: readonly P[],
  idOf: (p: P, i: number) => string,
  one: (p: P, path: string) => T,
  order: (a: T, b: T) => number,
): { rules: T[]; skipped: SkippedItem[] } {
  const out: T[] = [];
  const skipped: SkippedItem[] = [];
  rules.forEach((p, i) => {
    const id = idOf(p, i);
    try {
      out.push(one(p, `rules[${i}]`));
    } catch (err) {
      if (!(err instanceof Malformed)) throw err;
      skipped.push({ service: owner, kind, id, reason: err.message });
    }
  });
  return { rules: out.sort(order), skipped };
}

function circuitBreakerRule(p: PCircuitBreakerRule, path: string): CircuitBreakerRule {
  const src = p.ruleMatcher?.source;
  const dst = p.ruleMatcher?.destination;
  const fallback = p.fallbackConfig;
  return {
    id: p.id,
    name: p.name,
    namespace: p.namespace,
    enable: p.enable,
    revision: p.revision,
    ctime: p.ctime,
    mtime: p.mtime,
    etime: p.etime,
    description: p.description,
    level: enumName(LEVELS, p.level, `${path}.level`),
    source: { service: src?.service ?? '', namespace: src?.namespace ?? '' },
    destination: {
      service: dst?.service ?? '',
      namespace: dst?.namespace ?? '',
      ...(dst?.method ? { method: matchString(dst.method, `${path}.rule_matcher.destination.method`) } : {}),
    },
    errorConditions: p.errorConditions.map((c, j) => ({
      inputType: enumName(INPUT_TYPES, c.inputType, `${path}.error_conditions[${j}].input_type`),
      condition: matchString(c.condition, `${path}.error_conditions[${j}].condition`),
    })),
    triggerConditions: p.triggerCondition.map((t, j) => ({
      triggerType: enumName(TRIGGER_TYPES, t.triggerType, `${path}.trigger_condition[${j}].trigger_type`),
      errorCount: t.errorCount,
      errorPercent: t.errorPercent,
      intervalSeconds: t.interval,
      minimumRequest: t.minimumRequest,
    })),
    maxEjectionPercent: p.maxEjectionPercent,
    recover: {
      sleepWindowSeconds: p.recoverCondition?.sleepWindow ?? 0,
      consecutiveSuccess: p.recoverCondition?.consecutiveSuccess ?? 0,
    },
    faultDetectEnabled: p.faultDetectConfig?.enable ?? false,
    fallback: {
      enable: fallback?.enable ?? false,
      code: fallback?.response?.code ?? 0,
      headers: (fallback?.response?.headers ?? []).map((h) => ({ key: h.key, value: h.value })),
      body: fallback?.response?.body ?? '',
    },
  };
}

function byId<T extends { readonly id: string }>(a: T, b: T): number {
  return compareKeys(a.id, b.id);
}

/** convertCircuitBreakers turns a CIRCUIT_BREAKER payload into the service's rule set, ordered by id. */
export function convertCircuitBreakers(
  namespace: string,
  service: string,
  cb: PCircuitBreaker | undefined,
  revision: string,
): { value: RuleSet<CircuitBreakerRule>; skipped: SkippedItem[] } {
  const { rules, skipped } = convertRules(
    serviceKey(namespace, service),
    'circuit-breaker',
    cb?.rules ?? [],
    (p, i) => p.id || p.name || `rules[${i}]`,
    circuitBreakerRule,
    byId,
  );
  return { value: { rules, revision }, skipped };
}

function faultDetectRule(p: PFaultDetectRule, path: string): FaultDetectRule {
  const t = p.targetService;
  return {
    id: p.id,
    name: p.name,
    namespace: p.namespace,
    revision: p.revision,
    ctime: p.ctime,
    mtime: p.mtime,
    description: p.description,
    target: {
      service: t?.service ?? '',
      namespace: t?.namespace ?? '',
      ...(t?.method ? { method: matchString(t.method, `${path}.target_service.method`) } : {}),
    },
    intervalSeconds: p.interval,
    timeoutMs: p.timeout,
    port: p.port,
    protocol: enumName(PROTOCOLS, p.protocol, `${path}.protocol`),
    http: {
      method: p.httpConfig?.method ?? '',
      url: p.httpConfig?.url ?? '',
      headers: (p.httpConfig?.headers ?? []).map((h) => ({ key: h.key, value: h.value })),
      body: p.httpConfig?.body ?? '',
    },
    tcp: { send: p.tcpConfig?.send ?? '', receive: [...(p.tcpConfig?.receive ?? [])] },
    udp: { send: p.udpConfig?.send ?? '', receive: [...(p.udpConfig?.receive ?? [])] },
  };
}

/** convertFaultDetectors turns a FAULT_DETECTOR payload into the service's rule set, ordered by id. */
export function convertFaultDetectors(
  namespace: string,
  service: string,
  fd: PFaultDetector | undefined,
  revision: string,
): { value: RuleSet<FaultDetectRule>; skipped: SkippedItem[] } {
  const { rules, skipped } = convertRules(
    serviceKey(namespace, service),
    'fault-detector',
    fd?.rules ?? [],
    (p, i) => p.id || p.name || `rules[${i}]`,
    faultDetectRule,
    byId,
  );
  return { value: { rules, revision }, skipped };
}

function rateLimitRule(p: PRateLimitRule, path: string): RateLimitRule {
  return {
    id: p.id ?? '',
    name: p.name ?? '',
    service: p.service ?? '',
    namespace: p.namespace ?? '',
    priority: p.priority ?? 0,
    resource: enumName(RESOURCES, p.resource, `${path}.resource`),
    type: enumName(RATE_LIMIT_TYPES, p.type, `${path}.type`),
    subset: matchMap(p.subset, `${path}.subset`),
    labels: matchMap(p.labels, `${path}.labels`),
    amounts: p.amounts.map((a) => ({
      maxAmount: a.maxAmount ?? 0,
      validDuration: duration(a.validDuration),
      precision: a.precision ?? 0,
      startAmount: a.startAmount ?? 0,
      minAmount: a.minAmount ?? 0,
    })),
    action: p.action ?? '',
    disable: p.disable ?? false,
    report: { interval: duration(p.report?.interval), amountPercent: p.report?.amountPercent ?? 0 },
    ctime: p.ctime ?? '',
    mtime: p.mtime ?? '',
    etime: p.etime ?? '',
    revision: p.revision ?? '',
    climbEnabled: p.adjuster?.climb?.enable ?? false,
    regexCombine: p.regexCombine ?? false,
    amountMode: enumName(AMOUNT_MODES, p.amountMode, `${path}.amount_mode`),
    failover: enumName(FAILOVERS, p.failover, `${path}.failover`),
    cluster: { service: p.cluster?.service ?? '', namespace: p.cluster?.namespace ?? '' },
    ...(p.method ? { method: optionalMatch(p.method, `${path}.method`) } : {}),
    arguments: p.arguments.map((a, j) => ({
      type: enumName(ARGUMENT_TYPES, a.type, `${path}.arguments[${j}].type`),
      key: a.key,
      value: matchString(a.value, `${path}.arguments[${j}].value`),
    })),
    maxQueueDelaySeconds: p.maxQueueDelay ?? 0,
    concurrencyMaxAmount: p.concurrencyAmount?.maxAmount ?? 0,
    customResponseBody: p.customResponse?.body ?? '',
    metadata: Object.fromEntries(
      Object.keys(p.metadata)
        .sort(compareKeys)
        .map((k) => [k, p.metadata[k]!]),
    ),
  };
}

/** convertRateLimits turns a RATE_LIMIT payload into the service's rule set, ordered by priority, then id. */
export function convertRateLimits(
  namespace: string,
  service: string,
  rl: PRateLimit | undefined,
  revision: string,
): { value: RuleSet<RateLimitRule>; skipped: SkippedItem[] } {
  const { rules, skipped } = convertRules(
    serviceKey(namespace, service),
    'rate-limit',
    rl?.rules ?? [],
    (p, i) => p.id || p.name || `rules[${i}]`,
    rateLimitRule,
    (a, b) => a.priority - b.priority || byId(a, b),
  );
  return { value: { rules, revision }, skipped };
}
