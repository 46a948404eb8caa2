// Rate-limit rules (Polaris RATE_LIMIT), every field as Polaris serves it. The meaning of each
// field in polaris-go is in shared/reference/polaris-governance-facts.md ("Rate limit").
import type { MatchString } from './mesh.js';

export type RateLimitResource = 'QPS' | 'CONCURRENCY';
/** LOCAL: each instance enforces the amount on its own; GLOBAL: the amount is for the whole service. */
export type RateLimitType = 'GLOBAL' | 'LOCAL';
/** SHARE_EQUALLY divides a GLOBAL amount by the instance count. */
export type RateLimitAmountMode = 'GLOBAL_TOTAL' | 'SHARE_EQUALLY';
/** What a GLOBAL rule does when its limiter is unreachable. */
export type RateLimitFailover = 'FAILOVER_LOCAL' | 'FAILOVER_PASS';
export type RateLimitArgumentType =
  | 'CUSTOM'
  | 'METHOD'
  | 'HEADER'
  | 'QUERY'
  | 'CALLER_SERVICE'
  | 'CALLER_IP'
  | 'CALLER_METADATA';

/** Duration is a protobuf Duration: whole seconds plus nanoseconds. */
export interface Duration {
  readonly seconds: number;
  readonly nanos: number;
}

/** RateLimitAmount is one limit: `maxAmount` requests per `validDuration`. Absent wrappers are 0. */
export interface RateLimitAmount {
  readonly maxAmount: number;
  readonly validDuration: Duration;
  readonly precision: number;
  readonly startAmount: number;
  readonly minAmount: number;
}

/** RateLimitArgument is one request condition the rule applies to (all must match). */
export interface RateLimitArgument {
  readonly type: RateLimitArgumentType;
  readonly key: string;
  readonly value: MatchString;
}

/** RateLimitRule is one Polaris rate-limit rule of a service. */
export interface RateLimitRule {
  readonly id: string;
  readonly name: string;
  readonly service: string;
  readonly namespace: string;
  /** Lower first (0 is the highest). */
  readonly priority: number;
  readonly resource: RateLimitResource;
  readonly type: RateLimitType;
  /** Instance-subset conditions (legacy). */
  readonly subset: Readonly<Record<string, MatchString>>;
  /** Request-label conditions (legacy form of `arguments`). */
  readonly labels: Readonly<Record<string, MatchString>>;
  readonly amounts: readonly RateLimitAmount[];
  /** `REJECT` or `UNIRATE` (queue to a uniform rate), as polaris-go's plugin names. */
  readonly action: string;
  readonly disable: boolean;
  readonly report: { readonly interval: Duration; readonly amountPercent: number };
  readonly ctime: string;
  readonly mtime: string;
  readonly etime: string;
  readonly revision: string;
  /** The climb adjuster is on (polaris-go tunes amounts at run time); its parameters are not carried. */
  readonly climbEnabled: boolean;
  readonly regexCombine: boolean;
  readonly amountMode: RateLimitAmountMode;
  readonly failover: RateLimitFailover;
  /** The limiter cluster of a GLOBAL rule; empty strings when unset. */
  readonly cluster: { readonly service: string; readonly namespace: string };
  /** The callee method (path) the rule applies to; undefined = any. */
  readonly method?: MatchString;
  readonly arguments: readonly RateLimitArgument[];
  /** UNIRATE: the longest a request may wait, in seconds. */
  readonly maxQueueDelaySeconds: number;
  readonly concurrencyMaxAmount: number;
  /** The body of a rejected request's answer; empty when unset. */
  readonly customResponseBody: string;
  readonly metadata: Readonly<Record<string, string>>;
}
