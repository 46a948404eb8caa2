// What the rate-limit service (envoyproxy/ratelimit) is served: one RateLimitConfig per service
// with GLOBAL rules in force, named after the service's domain. The limits come from the same plan
// the service's sidecars are given (ratelimit.ts), so the descriptors Envoy sends and the limits the
// limiter holds cannot disagree.
import type { MeshState, Service } from '../../model/mesh.js';
import { RATELIMIT_CONFIG_TYPE } from '../resource.js';
import { typeSet, type EncodedResource, type TypeResources } from '../snapshot.js';
import { sameItems } from './memo.js';
import type { RateLimitPlan } from './ratelimit.js';
import { encodeRateLimitConfig, rateLimitConfig, rateLimitDomain } from './ratelimit-global.js';
import type { SkipReason } from './skip.js';

/** LimiterConfigs is the limiter's type set for a mesh, and the skip reasons of the rules behind it. */
export interface LimiterConfigs {
  readonly set: TypeResources;
  readonly skipped: readonly SkipReason[];
}

/** NO_LIMITER_CONFIGS is the empty set every other node's snapshot carries for the type. */
export const NO_LIMITER_CONFIGS: TypeResources = typeSet(RATELIMIT_CONFIG_TYPE, []);

/** hasGlobalRules says whether a service has an enabled GLOBAL rule, the only services the limiter is told about. */
export function hasGlobalRules(s: Service): boolean {
  return s.rateLimits.rules.some((r) => r.type === 'GLOBAL' && !r.disable);
}

/**
 * createLimiterConfigs returns a function from a mesh to the limiter's configuration. `planFor` is
 * a service's plan for the limiter (GLOBAL rules enforced); each plan's resource is encoded once,
 * and an unchanged list of resources gives the same set object.
 */
export function createLimiterConfigs(planFor: (s: Service) => RateLimitPlan): (mesh: MeshState) => LimiterConfigs {
  const encoded = new WeakMap<RateLimitPlan, EncodedResource>();
  let last: { readonly list: readonly EncodedResource[]; readonly skipped: readonly SkipReason[]; readonly out: LimiterConfigs } | undefined;
  return (mesh) => {
    const list: EncodedResource[] = [];
    const skipped: SkipReason[] = [];
    for (const s of mesh.services.values()) {
      if (!hasGlobalRules(s)) continue;
      const plan = planFor(s);
      skipped.push(...plan.skipped);
      if (plan.global.length === 0) continue;
      let r = encoded.get(plan);
      if (!r) encoded.set(plan, (r = encodeRateLimitConfig(rateLimitConfig(rateLimitDomain(s.namespace, s.name), plan.global))));
      list.push(r);
    }
    if (last && sameItems(last.list, list) && sameItems(last.skipped, skipped)) return last.out;
    const out = { set: typeSet(RATELIMIT_CONFIG_TYPE, list), skipped };
    last = { list, skipped, out };
    return out;
  };
}
