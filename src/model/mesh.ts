// The mesh model: the one vocabulary shared by the Polaris side (src/sync) and the Envoy side
// (src/xds). Plain immutable data; a changed service is a new object, so consumers may memoise
// on object identity.
import type { CircuitBreakerRule } from './circuitbreaker.js';
import type { FaultDetectRule } from './faultdetect.js';
import type { RateLimitRule } from './ratelimit.js';

export type { CircuitBreakerRule } from './circuitbreaker.js';
export type { FaultDetectRule } from './faultdetect.js';
export type { RateLimitRule } from './ratelimit.js';

/** Locality is where an instance runs. Empty strings mean "not set". */
export interface Locality {
  readonly region: string;
  readonly zone: string;
  /** Polaris's campus; Envoy's sub_zone. */
  readonly campus: string;
}

/** Instance is one endpoint of a service, as registered in Polaris. */
export interface Instance {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Free text from Polaris (`http`, `grpc`, `http2`, `h2c`, `tcp` …); empty when unset. */
  readonly protocol: string;
  readonly version: string;
  /** Polaris weight; 0 means "no traffic". Polaris defaults it to 100. */
  readonly weight: number;
  readonly priority: number;
  readonly healthy: boolean;
  /** Isolated instances get no traffic. */
  readonly isolate: boolean;
  readonly locality: Locality;
  /** Labels used by routing subsets. Keys starting with `internal-` are Polaris's own. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly revision: string;
}

export type MatchType = 'EXACT' | 'REGEX' | 'NOT_EQUALS' | 'IN' | 'NOT_IN' | 'RANGE';
export type ValueType = 'TEXT' | 'PARAMETER' | 'VARIABLE';

/** MatchString is one condition of a routing rule, as Polaris defines it. */
export interface MatchString {
  readonly type: MatchType;
  readonly value: string;
  readonly valueType: ValueType;
}

/**
 * RouteSource says which requests a rule applies to. `match` keys use Polaris's v1 encoding:
 * `$path`, `$method`, `$header.<name>`, `$query.<name>`, `$cookie.<name>`, `$caller_ip`, or a
 * custom key. `service`/`namespace` name the caller (`*` = any).
 */
export interface RouteSource {
  readonly service: string;
  readonly namespace: string;
  readonly match: Readonly<Record<string, MatchString>>;
}

/** RouteDestination is one destination group of a rule. */
export interface RouteDestination {
  readonly service: string;
  readonly namespace: string;
  /** Instance-metadata conditions selecting the subset. */
  readonly labels: Readonly<Record<string, MatchString>>;
  /** 0 is the highest priority. */
  readonly priority: number;
  readonly weight: number;
  readonly isolate: boolean;
  readonly name: string;
}

/** RouteRule is one sub-rule (Polaris v1 `Route`) in the order Polaris applies them. */
export interface RouteRule {
  /** Stable identity for logs and skip reasons, e.g. the v2 rule id plus the sub-rule index. */
  readonly id: string;
  readonly name: string;
  /** Lower first; ties keep list order. */
  readonly priority: number;
  readonly sources: readonly RouteSource[];
  readonly destinations: readonly RouteDestination[];
}

/** Routing is the rule set of one service. */
export interface Routing {
  /** Rules whose callee is this service: they shape traffic sent *to* it. */
  readonly inbounds: readonly RouteRule[];
  /** Rules whose caller is this service. */
  readonly outbounds: readonly RouteRule[];
  readonly revision: string;
}

/**
 * RuleSet is one kind of governance rule of a service, as its callee: the rules in Polaris's order and their revision.
 */
export interface RuleSet<T> {
  readonly rules: readonly T[];
  readonly revision: string;
}

export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

/** Service is one Polaris service with its instances, routing rules and governance rules (as the callee). */
export interface Service {
  readonly namespace: string;
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Instances sorted by id. For an alias, the target's instances. */
  readonly instances: readonly Instance[];
  /** Revision of the instance list (Polaris INSTANCE revision). */
  readonly revision: string;
  readonly routing: Routing;
  /** RATE_LIMIT rules of the service. */
  readonly rateLimits: RuleSet<RateLimitRule>;
  /** CIRCUIT_BREAKER rules whose destination is the service. */
  readonly circuitBreakers: RuleSet<CircuitBreakerRule>;
  /** FAULT_DETECTOR rules whose target is the service. */
  readonly faultDetectors: RuleSet<FaultDetectRule>;
  /** Set when this service is an alias of another. */
  readonly aliasFor?: ServiceRef;
}

/**
 * MeshState is one immutable view of the registry. `services` is keyed by `serviceKey()` and
 * iterates in sorted key order. A new MeshState shares unchanged Service objects with the
 * previous one.
 */
export interface MeshState {
  readonly services: ReadonlyMap<string, Service>;
  /** Where the state came from, for /readyz and logs: `polaris`, `file`, `disk-cache`. */
  readonly origin: string;
}

/** serviceKey is the map key of a service in MeshState: `<namespace>/<name>`. */
export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export const EMPTY_ROUTING: Routing = Object.freeze({ inbounds: [], outbounds: [], revision: '' });

/** EMPTY_RULES is the rule set of a service without rules of a kind. */
export const EMPTY_RULES: RuleSet<never> = Object.freeze({ rules: Object.freeze([]), revision: '' });

/** meshState builds a MeshState whose map iterates in sorted key order. */
export function meshState(services: Iterable<Service>, origin: string): MeshState {
  const sorted = [...services].sort((a, b) =>
    compareKeys(serviceKey(a.namespace, a.name), serviceKey(b.namespace, b.name)),
  );
  return { services: new Map(sorted.map((s) => [serviceKey(s.namespace, s.name), s])), origin };
}

/** compareKeys orders strings by code unit, independent of locale. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
