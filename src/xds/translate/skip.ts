// Skip reasons: what the translator left out of a node's configuration, and why (invariant 7).

/** SkipKind says what was left out. */
export type SkipKind =
  /** a routing rule (the whole rule: a rule is translated exactly or not at all) */
  | 'rule'
  /** one destination group of a rule */
  | 'destination'
  /** one instance, left out of a ClusterLoadAssignment */
  | 'endpoint'
  /** one host name of a service (a virtual host domain or a proxyless listener) */
  | 'domain'
  /** a circuit-breaker rule (translated exactly or not at all) */
  | 'circuit-breaker'
  /** a fault-detect rule (active health check) */
  | 'fault-detector'
  /** a rate-limit rule (translated exactly or not at all) */
  | 'rate-limit';

/**
 * SkipReason is one thing the translator left out. `path` locates it, starting with the service
 * key (`<namespace>/<service>`) and continuing with field names, e.g.
 * `ns/svc.routing.inbounds[rule-1].sources[0].match["$cookie.uid"]`. Equal inputs give equal
 * reasons, so callers may deduplicate them by value.
 */
export interface SkipReason {
  readonly kind: SkipKind;
  readonly path: string;
  readonly reason: string;
}

/** skip builds a SkipReason. */
export function skip(kind: SkipKind, path: string, reason: string): SkipReason {
  return { kind, path, reason };
}
