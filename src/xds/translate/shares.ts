// Service shares: what one service gives a caller (its clusters, assignments, virtual host or API
// listeners, and the parts of its SERVICE/METHOD breakers), and the OutboundSet that gathers them
// for every node with the same caller identity (outbound.ts). Sidecars, gateways and proxyless
// clients all start from it; their own builders add what is theirs alone.
import { serviceKey, type MeshState, type RouteDestination, type Service } from '../../model/mesh.js';
import type { EncodedResource } from '../snapshot.js';
import { ruleCluster, serviceCluster, speaksHttp2 } from './cds.js';
import { groupedLoadAssignment, serviceLoadAssignment } from './eds.js';
import {
  encodeCluster,
  encodeListener,
  encodeLoadAssignment,
  encodeRouteConfigParts,
  encodeVirtualHost,
  type EncodedVirtualHost,
} from './encode.js';
import type { BreakerShare, RuleResources, TranslatorCaches } from './caches.js';
import { NO_GUARD, type Guard } from './guard.js';
import { apiListener } from './lds.js';
import { sameItems } from './memo.js';
import * as names from './names.js';
import { assembleOutbound, type CallerTraits, type OutboundSet, type ServiceShare } from './outbound.js';
import { claimNames, serviceRoutes, virtualHost, type Claims } from './rds.js';
import type { Resolved, RuleClusterSpec } from './routing/destinations.js';
import type { Flavor } from './routing/match.js';
import { nearbyKey, nearbyLevel } from './routing/nearby.js';
import { planRules, type Caller, type PlannedRoute, type RulePlan } from './routing/rules.js';
import { breakerParts, type BreakerParts } from './service-breaker.js';
import { skip, type SkipReason } from './skip.js';
import type { NodeView } from './view.js';

const NO_INTERNAL_LISTENERS =
  "a SERVICE or METHOD level breaker needs Envoy's internal listeners; bootstrap the node with " +
  '`polaris-xds bootstrap` (it loads envoy.bootstrap.internal_listener and sets the node metadata ' +
  'polaris-xds.io/internal-listeners: "true")';

const NONE: readonly EncodedResource[] = Object.freeze([]);
const EMPTY_PLAN: RulePlan = Object.freeze({ routes: [], clusters: [], skipped: [] });

/** ANY are the service and namespace values of a destination that name no one in particular. */
export const ANY: ReadonlySet<string> = new Set(['', '*']);

/**
 * joinSkips concatenates skip lists, returning one of them as it is when the others are empty (so
 * unchanged lists stay the same array), and one shared empty list when all are.
 */
function joinSkips(...lists: ReadonlyArray<readonly SkipReason[]>): readonly SkipReason[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  // No reasons is one shared list: a new Service object with nothing left out does not count as a change of reasons.
  return nonEmpty.length === 0 ? NO_SKIPS : nonEmpty.length === 1 ? nonEmpty[0]! : nonEmpty.flat();
}

const NO_SKIPS: readonly SkipReason[] = Object.freeze([]);

/** inboundResolver maps a destination of a service's inbound rule to that service, or says why not. */
function inboundResolver(callee: Service): (d: RouteDestination) => Resolved {
  const names = new Set([callee.name, ...(callee.aliasFor ? [callee.aliasFor.name] : [])]);
  const namespaces = new Set([callee.namespace, ...(callee.aliasFor ? [callee.aliasFor.namespace] : [])]);
  return (d) =>
    (ANY.has(d.service) || names.has(d.service)) && (ANY.has(d.namespace) || namespaces.has(d.namespace))
      ? { ok: true, service: callee }
      : {
          ok: false,
          reason:
            `names service ${d.namespace}/${d.service}; ` +
            `a rule of ${callee.namespace}/${callee.name} can only route to it`,
        };
}

/** ShareBuilder builds service shares and OutboundSets over one translator's caches. */
export class ShareBuilder {
  // What outboundFor derives from a view under one CallerTraits; dropped with the view (its group).
  private readonly callerIds = new WeakMap<
    NodeView,
    {
      readonly traits: CallerTraits;
      readonly flavor: Flavor;
      readonly caller: Caller;
      readonly key: string;
      readonly claimsKey: string;
    }
  >();

  // The set outboundFor returned last, for the mesh and caller identity it was for.
  private recent?: { readonly mesh: MeshState; readonly key: string; readonly set: OutboundSet };

  constructor(private readonly c: TranslatorCaches) {}

  /**
   * outboundFor is the OutboundSet of a node view. Views that differ only in what no part of the
   * mesh looks at share one: the caller counts only as far as some rule names it, the locality
   * only when some service routes by nearness.
   */
  outboundFor(mesh: MeshState, view: NodeView, flavor: Flavor): OutboundSet {
    const traits = this.c.outbound.callerTraits(mesh);
    // Per node group and change this runs once: what it derives from the view is kept while the
    // traits are the same object, so a change costs lookups of strings already hashed.
    let id = this.callerIds.get(view);
    if (id?.traits !== traits || id.flavor !== flavor) {
      const caller: Caller = {
        namespace: traits.callerNamespaces.has(view.namespace) ? view.namespace : '',
        service: traits.callerServices.has(view.service) ? view.service : '',
      };
      const locality = traits.nearby ? view.locality : undefined;
      const internal = traits.serviceBreakers ? view.internalListeners : null;
      const where = locality ? [locality.region, locality.zone, locality.campus] : null;
      const key = JSON.stringify([flavor, view.namespace, caller.namespace, caller.service, where, internal]);
      id = { traits, flavor, caller, key, claimsKey: JSON.stringify([view.namespace, flavor === 'envoy']) };
      this.callerIds.set(view, id);
    }
    const { caller, key } = id;
    // Groups are visited one after another on each mesh: most ask for the set the last one got.
    const recent = this.recent;
    if (recent?.mesh === mesh && recent.key === key) return recent.set;
    const prev = this.c.outboundSets.get(key);
    // Another group of this caller identity built it for this mesh already (the key covers the
    // claims' namespace and case).
    if (prev?.mesh === mesh && !prev.clashing && !this.c.outbound.isSuperseded(prev)) {
      this.recent = { mesh, key, set: prev };
      return prev;
    }
    const claimed = this.claimsFor(mesh, view.namespace, flavor === 'envoy', id.claimsKey);
    const set = assembleOutbound(this.c.outbound, mesh, claimed, prev, (s, domains) =>
      this.share(s, domains, view, caller, flavor),
    );
    if (set !== prev) this.c.outboundSets.set(key, set);
    if (!set.clashing) this.recent = { mesh, key, set };
    return set;
  }

  /** plan is the memoised rule plan of `owner` under `key`, valid while `deps` are the same objects. */
  plan(owner: object, key: string, deps: readonly object[], build: () => RulePlan): RulePlan {
    return this.c.plans.get(owner, key, deps, build);
  }

  /** ruleEds is a rule cluster and its assignment, with the guard of the service behind it. */
  ruleEds(spec: RuleClusterSpec, caller: Caller, flavor: Flavor): RuleResources {
    const guard = this.ruleGuard(spec, caller, flavor);
    return this.c.ruleResources.get(spec.deps[0]!, `${spec.name}\0${guard.key}`, [...spec.deps, guard], () => {
      const h2 = speaksHttp2(spec.levels.flatMap((l) => l.flatMap((g) => g.instances)));
      return {
        cluster: this.clusterOf(spec.name, h2, guard, () => encodeCluster(ruleCluster(spec.name, h2, guard))),
        cla: encodeLoadAssignment(groupedLoadAssignment(spec.name, spec.levels)),
        skipped: guard.skipped,
      };
    });
  }

  private clusterOf(name: string, h2: boolean, guard: Guard, build: () => EncodedResource): EncodedResource {
    const key = `${name}\0${h2}\0${guard.key}`;
    let c = this.c.clusters.get(key);
    if (!c) this.c.clusters.set(key, (c = build()));
    return c;
  }

  /** serviceEds is a service's whole-service cluster (with the caller's guard) and assignment for a caller locality. */
  private serviceEds(s: Service, view: NodeView, guard: Guard): { cluster: EncodedResource; cla: EncodedResource } {
    const name = names.outboundCluster(s.namespace, s.name);
    const cluster = this.c.serviceClusters.get(s, guard.key, [], () => {
      const h2 = speaksHttp2(s.instances);
      return this.clusterOf(name, h2, guard, () => encodeCluster(serviceCluster(name, h2, guard)));
    });
    const level = nearbyLevel(s);
    const nearby = level && view.locality ? { level, caller: view.locality } : undefined;
    const cla = this.c.serviceCLAs.get(s, nearby ? nearbyKey(nearby.level, nearby.caller) : '', [], () =>
      encodeLoadAssignment(serviceLoadAssignment(name, this.c.routable(s).instances, nearby)),
    );
    return { cluster, cla };
  }

  /**
   * ruleGuard is the guard of a rule cluster: its service's, as on the service cluster (the same
   * instances). A cluster mixing several services' instances gets none, said when one has rules.
   */
  private ruleGuard(spec: RuleClusterSpec, caller: Caller, flavor: Flavor): Guard {
    if (spec.deps.length === 1) return this.c.guards.guardFor(spec.deps[0]!, caller, flavor);
    const ruled = spec.deps.filter((d) => d.circuitBreakers.rules.length > 0 || d.faultDetectors.rules.length > 0);
    if (ruled.length === 0) return NO_GUARD;
    const reason =
      "this routing rule's cluster mixes instances of several services; " +
      'their circuit breakers and health checks are not applied to it';
    const skipped = ruled.map((d) =>
      skip('circuit-breaker', `${serviceKey(d.namespace, d.name)} via ${spec.name}`, reason),
    );
    return { ...NO_GUARD, skipped };
  }

  private inboundPlan(s: Service, caller: Caller, flavor: Flavor): { plan: RulePlan; key: string } {
    // Most services have no rules: one shared empty plan, no per-caller memo entry.
    if (s.routing.inbounds.length === 0) return { plan: EMPTY_PLAN, key: '' };
    const key = JSON.stringify([flavor, caller.namespace, caller.service]);
    const path = `${serviceKey(s.namespace, s.name)}.routing.inbounds`;
    const plan = this.c.plans.get(s, key, [], () =>
      planRules(s.routing.inbounds, { path, caller, flavor, resolve: inboundResolver(s) }),
    );
    return { plan, key };
  }

  /**
   * claimsFor gives host names for callers in a namespace, once per mesh; carried over while no
   * service's name or ports changed.
   */
  private claimsFor(mesh: MeshState, namespace: string, lowercase: boolean, key: string): Claims {
    return this.c.claims.get(mesh, key, [], () => {
      const last = this.c.lastClaims.get(key);
      const c =
        last && this.samePortsAndNames(last.mesh, mesh)
          ? last.claims
          : claimNames(mesh, namespace, lowercase, (s) => this.c.ports(s));
      this.c.lastClaims.set(key, { mesh, claims: c });
      return c;
    });
  }

  /**
   * samePortsAndNames says whether host name claims made for `prev` hold for `next`: no service came
   * or went or changed its ports.
   */
  private samePortsAndNames(prev: MeshState, next: MeshState): boolean {
    for (const k of this.c.outbound.changedKeys(prev, next)) {
      const a = prev.services.get(k);
      const b = next.services.get(k);
      if (!a || !b) return false;
      // Ports come from the instances: the same instance list, the same ports.
      if (a.instances !== b.instances && !sameItems(this.c.ports(a), this.c.ports(b))) return false;
    }
    return true;
  }

  /** serviceVhost is a service's virtual host for a caller, encoded once per (routing, caller, domains). */
  private serviceVhost(s: Service, plan: RulePlan, planKey: string, domains: readonly string[]): EncodedVirtualHost {
    const name = names.outboundCluster(s.namespace, s.name);
    const build = (): EncodedVirtualHost =>
      encodeVirtualHost(virtualHost(name, domains, serviceRoutes(plan.routes, name)));
    // Matches come from the rules (the routing object, kept while rules are unchanged); which
    // routes exist and their clusters also depend on instances (a destination with none is
    // dropped), so they are part of the key: an instance change then re-encodes nothing.
    if (s.routing.inbounds.length > 0) {
      const routesKey = plan.routes.map((r) => `${r.name}\0${r.cluster}`).join('\n');
      return this.c.vhosts.get(s.routing, `${name}\0${planKey}${this.c.domainsKey(domains)}\0${routesKey}`, [], build);
    }
    // Fast path: the same domain list object (one per service per mesh) was seen by another group.
    const seen = this.c.plainVhostByDomains.get(domains);
    if (seen && seen.name === name) return seen.vh;
    const k = `${name}\0${this.c.domainsKey(domains)}`;
    let vh = this.c.plainVhosts.get(k);
    if (!vh) this.c.plainVhosts.set(k, (vh = build()));
    this.c.plainVhostByDomains.set(domains, { name, vh });
    return vh;
  }

  /**
   * breakerShare is what SERVICE- and METHOD-level breakers add for a caller (service-breaker.ts):
   * their clusters, internal listeners and route configurations, and the caller's virtual host,
   * whose routes now go to the breakers (a method's first, then the service's); the service's own
   * routes move behind them.
   */
  private breakerShare(
    s: Service,
    guard: Guard,
    plan: RulePlan,
    planKey: string,
    domains: readonly string[],
  ): BreakerShare {
    const name = names.outboundCluster(s.namespace, s.name);
    const routesKey = plan.routes.map((r) => `${r.name}\0${r.cluster}`).join('\n');
    const h2 = speaksHttp2(s.instances);
    const key = `${name}\0${planKey}\0${this.c.domainsKey(domains)}\0${routesKey}\0${h2}`;
    return this.c.breakerShares.get(guard, key, [s.routing], () => {
      const own = serviceRoutes(plan.routes, name);
      const parts: BreakerParts[] = [];
      let behindMethods = own;
      let fallThrough: PlannedRoute[] = plan.routes.slice();
      let defaultCluster: string | undefined = name;
      if (guard.service) {
        const p = breakerParts(s.namespace, s.name, '', guard.service, h2, own);
        parts.push(p);
        behindMethods = serviceRoutes([], p.entryCluster);
        fallThrough = [];
        defaultCluster = p.entryCluster;
      }
      const methodRoutes: PlannedRoute[] = [];
      for (const m of guard.methods) {
        const p = breakerParts(s.namespace, s.name, m.scope, m, h2, behindMethods);
        parts.push(p);
        for (const [k, match] of m.matches.entries()) {
          methodRoutes.push({ name: `circuit-breaker:${m.scope}#${k}`, match, cluster: p.entryCluster });
        }
      }
      return {
        clusters: parts.flatMap((p) => p.clusters).map(encodeCluster),
        listeners: parts.flatMap((p) => p.listeners).map(encodeListener),
        routes: parts.flatMap((p) => p.routes).map((r) => encodeRouteConfigParts(r.name, [encodeVirtualHost(r.vhost)])),
        vhost: encodeVirtualHost(
          virtualHost(name, domains, serviceRoutes([...methodRoutes, ...fallThrough], defaultCluster)),
        ),
      };
    });
  }

  /** share translates one service for a caller (the OutboundSet's unit of work). */
  private share(
    s: Service,
    domains: readonly string[] | undefined,
    view: NodeView,
    caller: Caller,
    flavor: Flavor,
  ): ServiceShare {
    const guard = this.c.guards.guardFor(s, caller, flavor);
    const { cluster, cla } = this.serviceEds(s, view, guard);
    const { plan, key: planKey } = this.inboundPlan(s, caller, flavor);
    const clusters = [cluster];
    const endpoints = [cla];
    const extra: SkipReason[] = [];
    for (const spec of plan.clusters) {
      const r = this.ruleEds(spec, caller, flavor);
      if (!clusters.includes(r.cluster)) clusters.push(r.cluster);
      if (!endpoints.includes(r.cla)) endpoints.push(r.cla);
      // The service's own guard is reported once, with its cluster.
      for (const k of r.skipped) if (!guard.skipped.includes(k) && !extra.includes(k)) extra.push(k);
    }
    const own = this.c.routable(s).skipped;
    if (flavor === 'envoy') {
      const breakers = guard.service ? [guard.service, ...guard.methods] : guard.methods;
      if (!view.internalListeners)
        for (const b of breakers) extra.push(skip('circuit-breaker', b.path, NO_INTERNAL_LISTENERS));
      const skipped = joinSkips(own, guard.skipped, plan.skipped, extra);
      if (breakers.length > 0 && view.internalListeners && domains) {
        const b = this.breakerShare(s, guard, plan, planKey, domains);
        const all = [...clusters, ...b.clusters];
        return {
          service: s,
          domains,
          clusters: all,
          endpoints,
          listeners: b.listeners,
          routes: b.routes,
          vhost: b.vhost,
          skipped,
        };
      }
      const vhost = domains && this.serviceVhost(s, plan, planKey, domains);
      return { service: s, domains, clusters, endpoints, listeners: NONE, routes: NONE, vhost, skipped };
    }
    const skipped = joinSkips(own, guard.skipped, plan.skipped, extra);
    if (!domains) return { service: s, domains, clusters, endpoints, listeners: NONE, routes: NONE, skipped };
    const rcName = names.proxylessRouteConfig(s.namespace, s.name);
    // One configuration per service, its single virtual host matching whatever authority the client dialled.
    const vh = this.serviceVhost(s, plan, planKey, ['*']);
    const rc = this.c.proxylessRoutes.get(vh, rcName, [], () => encodeRouteConfigParts(rcName, [vh]));
    const listeners = domains.map((ln) => {
      const k = `${ln}\0${rcName}`;
      let l = this.c.apiListeners.get(k);
      if (!l) this.c.apiListeners.set(k, (l = encodeListener(apiListener(ln, rcName))));
      return l;
    });
    return { service: s, domains, clusters, endpoints, listeners, routes: [rc], skipped };
  }
}
