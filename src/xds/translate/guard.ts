// Guard: what a service's governance rules give a caller of it — outlier detection on its clusters
// and SERVICE/METHOD breakers from its circuit breakers (breakers.ts), active health checks from its
// fault detectors (health.ts) — with what was skipped, and a key that tells guards apart for caching.
import type { DeepPartial } from '../../gen/envoy/config/cluster/v3/cluster.js';
import type { OutlierDetection } from '../../gen/envoy/config/cluster/v3/outlier_detection.js';
import type { HealthCheck } from '../../gen/envoy/config/core/v3/health_check.js';
import type { Service } from '../../model/mesh.js';
import { breakerFor, type MethodBreaker, type ServiceBreaker } from './breakers.js';
import { healthFor } from './health.js';
import { Memo } from './memo.js';
import type { Flavor } from './routing/match.js';
import type { Caller } from './routing/rules.js';
import type { SkipReason } from './skip.js';

/** Guard is the cluster settings a caller gets from a service's governance rules. */
export interface Guard {
  readonly outlier: DeepPartial<OutlierDetection> | undefined;
  readonly healthChecks: ReadonlyArray<DeepPartial<HealthCheck>>;
  /** The SERVICE-level breaker in effect; it needs the node's internal listeners (index.ts). */
  readonly service: ServiceBreaker | undefined;
  /** The METHOD-level breakers in effect, in order; they need internal listeners too. */
  readonly methods: readonly MethodBreaker[];
  readonly skipped: readonly SkipReason[];
  /** Equal keys mean equal cluster settings; empty when the guard adds nothing. */
  readonly key: string;
}

/** NO_GUARD adds nothing to a cluster. */
export const NO_GUARD: Guard = Object.freeze({
  outlier: undefined,
  healthChecks: Object.freeze([]),
  service: undefined,
  methods: Object.freeze([]),
  skipped: Object.freeze([]) as readonly SkipReason[],
  key: '',
});

/** GuardCache memoises guards per Service object, caller and flavor. */
export class GuardCache {
  private readonly memo = new Memo<Guard>();

  /** guardFor is the guard a caller of `flavor` gets on its clusters of `s`. */
  guardFor(s: Service, caller: Caller, flavor: Flavor): Guard {
    if (s.circuitBreakers.rules.length === 0 && s.faultDetectors.rules.length === 0) return NO_GUARD;
    return this.memo.get(s, JSON.stringify([flavor, caller.namespace, caller.service]), [], () => {
      const b = breakerFor(s, caller, flavor);
      const h = healthFor(s, flavor);
      const skipped =
        b.skipped.length === 0 ? h.skipped : h.skipped.length === 0 ? b.skipped : [...b.skipped, ...h.skipped];
      if (b.outlier === undefined && h.healthChecks.length === 0 && b.service === undefined && b.methods.length === 0)
        return skipped.length === 0 ? NO_GUARD : { ...NO_GUARD, skipped };
      return {
        outlier: b.outlier,
        healthChecks: h.healthChecks,
        service: b.service,
        methods: b.methods,
        skipped,
        key: JSON.stringify([b.outlier ?? null, h.healthChecks, b.service ?? null, b.methods]),
      };
    });
  }
}
