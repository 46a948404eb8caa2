// Governance rules in the mesh file (docs/mesh-file.md): circuit breakers, fault detectors and
// rate limits, written as Polaris's HTTP API takes them (its JSON with proto field names), so a
// rule can be copied between the console and the file. They become the same model rules the
// syncer produces, filed under the services Polaris would serve them to.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { CircuitBreakerRule } from '../model/circuitbreaker.js';
import type { FaultDetectRule } from '../model/faultdetect.js';
import { compareKeys, type MatchString, type RuleSet } from '../model/mesh.js';
import type { Duration, RateLimitRule } from '../model/ratelimit.js';
import { count, matchString, nonEmpty, text } from './mesh-file-values.js';

type FileMatch = z.infer<typeof matchString>;

function match(m: FileMatch): MatchString {
  return { type: m.type, value: m.value, valueType: m.value_type };
}

function matches(m: Record<string, FileMatch>): Record<string, MatchString> {
  return Object.fromEntries(
    Object.keys(m)
      .sort(compareKeys)
      .map((k) => [k, match(m[k]!)]),
  );
}

const header = z.object({ key: z.string(), value: text }).strict();
const serviceRef = z.object({ service: nonEmpty.default('*'), namespace: nonEmpty.optional() }).strict();

/** A protobuf JSON duration: `"1s"`, `"0.5s"`. */
const duration = z
  .string()
  .regex(/^\d+(\.\d{1,9})?s$/, 'expected a duration such as "1s" or "0.5s"')
  .transform((v): Duration => {
    const [whole, frac = ''] = v.slice(0, -1).split('.');
    return { seconds: Number(whole), nanos: Number(frac.padEnd(9, '0')) };
  });

export const circuitBreakerRule = z
  .object({
    name: nonEmpty,
    enable: z.boolean().default(true),
    description: z.string().default(''),
    level: z.enum(['SERVICE', 'METHOD', 'GROUP', 'INSTANCE']),
    rule_matcher: z
      .object({
        source: serviceRef.default({ service: '*' }),
        destination: z
          .object({ service: nonEmpty, namespace: nonEmpty.optional(), method: matchString.optional() })
          .strict(),
      })
      .strict(),
    error_conditions: z
      .array(z.object({ input_type: z.enum(['RET_CODE', 'DELAY']), condition: matchString }).strict())
      .default([]),
    trigger_condition: z
      .array(
        z
          .object({
            trigger_type: z.enum(['ERROR_RATE', 'CONSECUTIVE_ERROR']),
            error_count: count.default(0),
            error_percent: count.default(0),
            interval: count.default(0),
            minimum_request: count.default(0),
          })
          .strict(),
      )
      .default([]),
    max_ejection_percent: count.default(0),
    recoverCondition: z
      .object({ sleep_window: count.default(0), consecutiveSuccess: count.default(0) })
      .strict()
      .default({ sleep_window: 0, consecutiveSuccess: 0 }),
    faultDetectConfig: z
      .object({ enable: z.boolean().default(false) })
      .strict()
      .default({ enable: false }),
    fallbackConfig: z
      .object({
        enable: z.boolean().default(false),
        response: z
          .object({
            code: z.number().int().default(0),
            headers: z.array(header).default([]),
            body: z.string().default(''),
          })
          .strict()
          .default({ code: 0, headers: [], body: '' }),
      })
      .strict()
      .default({ enable: false, response: { code: 0, headers: [], body: '' } }),
  })
  .strict();

const payload = z.object({ send: z.string().default(''), receive: z.array(z.string()).default([]) }).strict();

export const faultDetectRule = z
  .object({
    name: nonEmpty,
    description: z.string().default(''),
    target_service: z
      .object({ service: nonEmpty, namespace: nonEmpty.optional(), method: matchString.optional() })
      .strict(),
    interval: count.default(0),
    timeout: count.default(0),
    port: z.number().int().min(0).max(65535).default(0),
    protocol: z.enum(['HTTP', 'TCP', 'UDP']),
    http_config: z
      .object({
        method: z.string().default(''),
        url: z.string().default(''),
        headers: z.array(header).default([]),
        body: z.string().default(''),
      })
      .strict()
      .default({ method: '', url: '', headers: [], body: '' }),
    tcp_config: payload.default({ send: '', receive: [] }),
    udp_config: payload.default({ send: '', receive: [] }),
  })
  .strict();

const amount = z
  .object({
    maxAmount: count,
    validDuration: duration,
    precision: count.default(0),
    startAmount: count.default(0),
    minAmount: count.default(0),
  })
  .strict();

export const rateLimitRule = z
  .object({
    name: nonEmpty,
    service: nonEmpty,
    priority: count.default(0),
    resource: z.enum(['QPS', 'CONCURRENCY']).default('QPS'),
    type: z.enum(['GLOBAL', 'LOCAL']).default('GLOBAL'),
    subset: z.record(z.string(), matchString).default({}),
    labels: z.record(z.string(), matchString).default({}),
    amounts: z.array(amount).default([]),
    action: z.string().default('REJECT'),
    disable: z.boolean().default(false),
    report: z
      .object({ interval: duration.optional(), amountPercent: count.default(0) })
      .strict()
      .optional(),
    adjuster: z
      .object({
        climb: z
          .object({ enable: z.boolean().default(false) })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    regex_combine: z.boolean().default(false),
    amount_mode: z.enum(['GLOBAL_TOTAL', 'SHARE_EQUALLY']).default('GLOBAL_TOTAL'),
    failover: z.enum(['FAILOVER_LOCAL', 'FAILOVER_PASS']).default('FAILOVER_LOCAL'),
    cluster: z
      .object({ service: z.string().default(''), namespace: z.string().default('') })
      .strict()
      .optional(),
    method: matchString.optional(),
    arguments: z
      .array(
        z
          .object({
            type: z.enum(['CUSTOM', 'METHOD', 'HEADER', 'QUERY', 'CALLER_SERVICE', 'CALLER_IP', 'CALLER_METADATA']),
            key: z.string().default(''),
            value: matchString,
          })
          .strict(),
      )
      .default([]),
    max_queue_delay: count.default(0),
    concurrencyAmount: z
      .object({ maxAmount: count.default(0) })
      .strict()
      .optional(),
    customResponse: z
      .object({ body: z.string().default('') })
      .strict()
      .optional(),
    metadata: z.record(z.string(), text).default({}),
  })
  .strict();

export type FileCircuitBreakerRule = z.infer<typeof circuitBreakerRule>;
export type FileFaultDetectRule = z.infer<typeof faultDetectRule>;
export type FileRateLimitRule = z.infer<typeof rateLimitRule>;

function revisionOf(data: unknown): string {
  return createHash('sha1').update(JSON.stringify(data)).digest('hex');
}

/** fileCircuitBreaker is the model rule of a file rule in namespace `ns`. */
export function fileCircuitBreaker(ns: string, r: FileCircuitBreakerRule): CircuitBreakerRule {
  const src = r.rule_matcher.source;
  const dst = r.rule_matcher.destination;
  const rule: Omit<CircuitBreakerRule, 'revision'> = {
    id: `${ns}/${r.name}`,
    name: r.name,
    namespace: ns,
    enable: r.enable,
    ctime: '',
    mtime: '',
    etime: '',
    description: r.description,
    level: r.level,
    source: { service: src.service, namespace: src.namespace ?? (src.service === '*' ? '*' : ns) },
    destination: {
      service: dst.service,
      namespace: dst.namespace ?? ns,
      ...(dst.method ? { method: match(dst.method) } : {}),
    },
    errorConditions: r.error_conditions.map((c) => ({ inputType: c.input_type, condition: match(c.condition) })),
    triggerConditions: r.trigger_condition.map((t) => ({
      triggerType: t.trigger_type,
      errorCount: t.error_count,
      errorPercent: t.error_percent,
      intervalSeconds: t.interval,
      minimumRequest: t.minimum_request,
    })),
    maxEjectionPercent: r.max_ejection_percent,
    recover: {
      sleepWindowSeconds: r.recoverCondition.sleep_window,
      consecutiveSuccess: r.recoverCondition.consecutiveSuccess,
    },
    faultDetectEnabled: r.faultDetectConfig.enable,
    fallback: {
      enable: r.fallbackConfig.enable,
      code: r.fallbackConfig.response.code,
      headers: r.fallbackConfig.response.headers,
      body: r.fallbackConfig.response.body,
    },
  };
  return { ...rule, revision: revisionOf(rule) };
}

/** fileFaultDetector is the model rule of a file rule in namespace `ns`. */
export function fileFaultDetector(ns: string, r: FileFaultDetectRule): FaultDetectRule {
  const t = r.target_service;
  const rule: Omit<FaultDetectRule, 'revision'> = {
    id: `${ns}/${r.name}`,
    name: r.name,
    namespace: ns,
    ctime: '',
    mtime: '',
    description: r.description,
    target: { service: t.service, namespace: t.namespace ?? ns, ...(t.method ? { method: match(t.method) } : {}) },
    intervalSeconds: r.interval,
    timeoutMs: r.timeout,
    port: r.port,
    protocol: r.protocol,
    http: r.http_config,
    tcp: r.tcp_config,
    udp: r.udp_config,
  };
  return { ...rule, revision: revisionOf(rule) };
}

const NO_DURATION: Duration = { seconds: 0, nanos: 0 };

/** fileRateLimit is the model rule of a file rule in namespace `ns`. */
export function fileRateLimit(ns: string, r: FileRateLimitRule): RateLimitRule {
  const rule: Omit<RateLimitRule, 'revision'> = {
    id: `${ns}/${r.name}`,
    name: r.name,
    service: r.service,
    namespace: ns,
    priority: r.priority,
    resource: r.resource,
    type: r.type,
    subset: matches(r.subset),
    labels: matches(r.labels),
    amounts: r.amounts,
    action: r.action,
    disable: r.disable,
    report: { interval: r.report?.interval ?? NO_DURATION, amountPercent: r.report?.amountPercent ?? 0 },
    ctime: '',
    mtime: '',
    etime: '',
    climbEnabled: r.adjuster?.climb?.enable ?? false,
    regexCombine: r.regex_combine,
    amountMode: r.amount_mode,
    failover: r.failover,
    cluster: { service: r.cluster?.service ?? '', namespace: r.cluster?.namespace ?? '' },
    ...(r.method ? { method: match(r.method) } : {}),
    arguments: r.arguments.map((a) => ({ type: a.type, key: a.key, value: match(a.value) })),
    maxQueueDelaySeconds: r.max_queue_delay,
    concurrencyMaxAmount: r.concurrencyAmount?.maxAmount ?? 0,
    customResponseBody: r.customResponse?.body ?? '',
    metadata: Object.fromEntries(
      Object.keys(r.metadata)
        .sort(compareKeys)
        .map((k) => [k, r.metadata[k]!]),
    ),
  };
  return { ...rule, revision: revisionOf(rule) };
}

/** ruleSet orders a service's rules as the syncer does and gives the set a revision (empty when there are none). */
export function ruleSet<T extends { readonly id: string }>(
  rules: T[],
  order: (a: T, b: T) => number = (a, b) => compareKeys(a.id, b.id),
): RuleSet<T> {
  rules.sort(order);
  return {
    rules,
    revision: rules.length === 0 ? '' : revisionOf(rules.map((r) => r.id + (r as { revision?: string }).revision)),
  };
}
