// Circuit-breaker rules (Polaris CIRCUIT_BREAKER, v2 rules), every field as Polaris serves it.
// The meaning of each field in polaris-go, and how polaris-xds enforces it, is in docs/governance.md.
import type { MatchString } from './mesh.js';

/** CircuitBreakerLevel is what a rule isolates: one instance, the whole callee, one method, or a group. */
export type CircuitBreakerLevel = 'UNKNOWN' | 'SERVICE' | 'METHOD' | 'GROUP' | 'INSTANCE';

/** ErrorInputType: RET_CODE counts responses whose code matches; DELAY counts calls slower than the condition (ms). */
export type ErrorInputType = 'UNKNOWN' | 'RET_CODE' | 'DELAY';

/** ErrorCondition says which calls count as errors. */
export interface ErrorCondition {
  readonly inputType: ErrorInputType;
  readonly condition: MatchString;
}

export type TriggerType = 'UNKNOWN' | 'ERROR_RATE' | 'CONSECUTIVE_ERROR';

/**
 * TriggerCondition opens the circuit: `errorCount` consecutive errors, or `errorPercent` % errors over at least
 * `minimumRequest` calls within `intervalSeconds`.
 */
export interface TriggerCondition {
  readonly triggerType: TriggerType;
  readonly errorCount: number;
  readonly errorPercent: number;
  /** The statistics window, in seconds. */
  readonly intervalSeconds: number;
  readonly minimumRequest: number;
}

/** CircuitBreakerHeader is one header of the fallback response. */
export interface CircuitBreakerHeader {
  readonly key: string;
  readonly value: string;
}

/** CircuitBreakerRule is one Polaris circuit-breaker rule. `source`/`destination` use `*` (or empty) for "any". */
export interface CircuitBreakerRule {
  readonly id: string;
  readonly name: string;
  /** The namespace the rule belongs to. */
  readonly namespace: string;
  readonly enable: boolean;
  readonly revision: string;
  readonly ctime: string;
  readonly mtime: string;
  readonly etime: string;
  readonly description: string;
  readonly level: CircuitBreakerLevel;
  /** The callers it applies to (rule_matcher.source). */
  readonly source: { readonly service: string; readonly namespace: string };
  /** The callee, and for METHOD level the method (rule_matcher.destination). */
  readonly destination: { readonly service: string; readonly namespace: string; readonly method?: MatchString };
  readonly errorConditions: readonly ErrorCondition[];
  readonly triggerConditions: readonly TriggerCondition[];
  readonly maxEjectionPercent: number;
  readonly recover: {
    /** Seconds the circuit stays open before half-open probes. */
    readonly sleepWindowSeconds: number;
    /** Successful probes that close it again. */
    readonly consecutiveSuccess: number;
  };
  /** Use the service's fault detectors while the circuit is open. */
  readonly faultDetectEnabled: boolean;
  readonly fallback: {
    readonly enable: boolean;
    readonly code: number;
    readonly headers: readonly CircuitBreakerHeader[];
    readonly body: string;
  };
}
