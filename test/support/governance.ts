// Builders of model governance rules (src/model) with Polaris's defaults, for unit tests.
import type { CircuitBreakerRule } from '../../src/model/circuitbreaker.js';
import type { FaultDetectRule } from '../../src/model/faultdetect.js';
import type { RateLimitRule } from '../../src/model/ratelimit.js';

/** circuitBreaker is an enabled INSTANCE-level rule for `ns/svc`: 5 consecutive 5xx, 60 s sleep window. */
export function circuitBreaker(ns: string, svc: string, o: Partial<CircuitBreakerRule> = {}): CircuitBreakerRule {
  return {
    id: `cb-${svc}`,
    name: `cb-${svc}`,
    namespace: ns,
    enable: true,
    revision: 'r1',
    ctime: '',
    mtime: '',
    etime: '',
    description: '',
    level: 'INSTANCE',
    source: { service: '*', namespace: '*' },
    destination: { service: svc, namespace: ns },
    errorConditions: [{ inputType: 'RET_CODE', condition: { type: 'RANGE', value: '500~599', valueType: 'TEXT' } }],
    triggerConditions: [
      { triggerType: 'CONSECUTIVE_ERROR', errorCount: 5, errorPercent: 0, intervalSeconds: 0, minimumRequest: 0 },
    ],
    maxEjectionPercent: 100,
    recover: { sleepWindowSeconds: 60, consecutiveSuccess: 1 },
    faultDetectEnabled: false,
    fallback: { enable: false, code: 0, headers: [], body: '' },
    ...o,
  };
}

/** faultDetector is an HTTP check of `ns/svc`: GET /healthz every second, 500 ms timeout. */
export function faultDetector(ns: string, svc: string, o: Partial<FaultDetectRule> = {}): FaultDetectRule {
  return {
    id: `fd-${svc}`,
    name: `fd-${svc}`,
    namespace: ns,
    revision: 'r1',
    ctime: '',
    mtime: '',
    description: '',
    target: { service: svc, namespace: ns },
    intervalSeconds: 1,
    timeoutMs: 500,
    port: 0,
    protocol: 'HTTP',
    http: { method: 'GET', url: '/healthz', headers: [], body: '' },
    tcp: { send: '', receive: [] },
    udp: { send: '', receive: [] },
    ...o,
  };
}

/** rateLimit is a LOCAL 5 qps rule of `ns/svc` on path /api. */
export function rateLimit(ns: string, svc: string, o: Partial<RateLimitRule> = {}): RateLimitRule {
  return {
    id: `rl-${svc}`,
    name: `rl-${svc}`,
    service: svc,
    namespace: ns,
    priority: 0,
    resource: 'QPS',
    type: 'LOCAL',
    subset: {},
    labels: {},
    amounts: [{ maxAmount: 5, validDuration: { seconds: 1, nanos: 0 }, precision: 0, startAmount: 0, minAmount: 0 }],
    action: 'REJECT',
    disable: false,
    report: { interval: { seconds: 0, nanos: 0 }, amountPercent: 0 },
    ctime: '',
    mtime: '',
    etime: '',
    revision: 'r1',
    climbEnabled: false,
    regexCombine: false,
    amountMode: 'GLOBAL_TOTAL',
    failover: 'FAILOVER_LOCAL',
    cluster: { service: '', namespace: '' },
    method: { type: 'EXACT', value: '/api', valueType: 'TEXT' },
    arguments: [{ type: 'HEADER', key: 'x-user', value: { type: 'EXACT', value: 'alice', valueType: 'TEXT' } }],
    maxQueueDelaySeconds: 0,
    concurrencyMaxAmount: 0,
    customResponseBody: '',
    metadata: {},
    ...o,
  };
}
