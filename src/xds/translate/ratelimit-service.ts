// Rate-limit plans per service and what the rate-limit service (envoyproxy/ratelimit) is served:
// one RateLimitConfig per service with GLOBAL rules in force, named after the service's domain. The
// limits come from the same plan the service's sidecars are given (ratelimit.ts), so the
// descriptors Envoy sends and the limits the limiter holds cannot disagree.
import { serviceKey, type MeshState, type RateLimitRule, type RuleSet, type Service } from '../../model/mesh.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, RATELIMIT_CONFIG_TYPE, ROUTE_TYPE } from '../resource.js';
import { typeSet, type EncodedResource, type TypeResources } from '../snapshot.js';
import type { Translation, TranslatorCaches } from './caches.js';
import { sameItems } from './memo.js';
import { NO_LIMITER_CONTEXT, planRateLimits, type RateLimitPlan } from './ratelimit.js';
import { countInstances, encodeRateLimitConfig, rateLimitConfig, rateLimitDomain } from './ratelimit-global.js';
import type { SkipReason } from './skip.js';
import type { NodeView } from './view.js';

/** NO_LIMITER_CONFIGS is the empty set every node but the rate-limit service has for the type. */
export const NO_LIMITER_CONFIGS: TypeResources = typeSet(RATELIMIT_CONFIG_TYPE, []);

/** hasGlobalRules says whether a service has an enabled GLOBAL rule, the only services the limiter is told about. */
export function hasGlobalRules(s: Service): boolean {
  return s.rateLimits.rules.some((r) => r.type === 'GLOBAL' && !r.disable);
}

// A few contexts per rule set at a time (with and without the limiter, an instance count or two).
const MAX_CONTEXTS = 8;

/** RateLimitPlans makes each service's rate-limit plan once per rule set and context; owned by TranslatorCaches. */
export class RateLimitPlans {
  private readonly plans = new WeakMap<RuleSet<RateLimitRule>, Map<string, RateLimitPlan>>();

  /** planFor is a service's plan for a node with (or without) the rate-limit service's cluster. */
  planFor(self: Service, limiter: boolean): RateLimitPlan {
    // Instances count only for GLOBAL rules: others keep one plan whatever the instances do.
    const ctx =
      limiter && hasGlobalRules(self)
        ? { limiter, instances: countInstances(self.instances), domain: rateLimitDomain(self.namespace, self.name) }
        : { ...NO_LIMITER_CONTEXT, limiter };
    const key = `${ctx.limiter}\0${ctx.instances}`;
    let byContext = this.plans.get(self.rateLimits);
    if (!byContext || byContext.size >= MAX_CONTEXTS) this.plans.set(self.rateLimits, (byContext = new Map()));
    let plan = byContext.get(key);
    if (!plan)
      byContext.set(
        key,
        (plan = planRateLimits(self.rateLimits, `${serviceKey(self.namespace, self.name)}.rateLimits`, ctx)),
      );
    return plan;
  }
}

const NO_SETS = Object.freeze({
  [CLUSTER_TYPE]: typeSet(CLUSTER_TYPE, []),
  [ENDPOINT_TYPE]: typeSet(ENDPOINT_TYPE, []),
  [LISTENER_TYPE]: typeSet(LISTENER_TYPE, []),
  [ROUTE_TYPE]: typeSet(ROUTE_TYPE, []),
});

/**
 * LimiterBuilder translates the rate-limit service's view (node id `ratelimit~<name>`): only its
 * configuration, for the whole mesh. Each plan's resource is encoded once, and an unchanged list
 * gives the same set object.
 */
export class LimiterBuilder {
  private readonly encoded = new WeakMap<RateLimitPlan, EncodedResource>();
  private last?: {
    readonly list: readonly EncodedResource[];
    readonly skipped: readonly SkipReason[];
    readonly set: TypeResources;
  };

  constructor(private readonly c: TranslatorCaches) {}

  translate(mesh: MeshState, view: NodeView): Translation {
    const list: EncodedResource[] = [];
    const skipped: SkipReason[] = [];
    for (const s of mesh.services.values()) {
      if (!hasGlobalRules(s)) continue;
      const plan = this.c.rateLimitPlans.planFor(s, true);
      skipped.push(...plan.skipped);
      if (plan.global.length === 0) continue;
      let r = this.encoded.get(plan);
      if (!r)
        this.encoded.set(
          plan,
          (r = encodeRateLimitConfig(rateLimitConfig(rateLimitDomain(s.namespace, s.name), plan.global))),
        );
      list.push(r);
    }
    if (!this.last || !sameItems(this.last.list, list) || !sameItems(this.last.skipped, skipped)) {
      this.last = { list, skipped, set: typeSet(RATELIMIT_CONFIG_TYPE, list) };
    }
    return this.c.translation(view, this.last.skipped, { ...NO_SETS, [RATELIMIT_CONFIG_TYPE]: this.last.set });
  }
}
