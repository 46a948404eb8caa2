// The translator: MeshState + NodeView → Snapshot. Pure in effect (same inputs, same bytes;
// invariant 1) and incremental: every resource hangs off the Service objects it was built from,
// and what a caller sees of the services (outbound.ts) is shared by every node with the same
// caller identity and patched per changed service, so a new MeshState costs what changed (one
// instance → that service's assignment), not services × node groups.
import { serviceKey, type MeshState, type RateLimitRule, type RouteDestination, type RouteRule, type RuleSet, type Service } from '../../model/mesh.js';
import type { NodeInfo } from '../node.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, PUSH_ORDER, ROUTE_TYPE, VHOST_TYPE, type TypeUrl } from '../resource.js';
import { emptyTypeSet, layerTypeSet, makeSnapshot, typeSet, type EncodedResource, type Snapshot, type TypeResources } from '../snapshot.js';
import { inboundCluster, passthroughCluster, ruleCluster, serviceCluster, speaksHttp2 } from './cds.js';
import { groupedLoadAssignment, routable, serviceLoadAssignment } from './eds.js';
import {
  encodeCluster,
  encodeListener,
  encodeLoadAssignment,
  encodeRouteConfigParts,
  encodeVirtualHost,
  type EncodedVirtualHost,
} from './encode.js';
import { apiListener, gatewayListener, inboundListener, outboundListener, type InboundChain } from './lds.js';
import { BoundedMap } from '../bounded-map.js';
import { Memo, sameItems } from './memo.js';
import * as names from './names.js';
import { assembleOutbound, callerTraits, changedKeys, type OutboundSet, type ServiceShare } from './outbound.js';
import { claimNames, clusterRoute, passthroughVirtualHost, serviceRoutes, servicePorts, virtualHost, type Claims } from './rds.js';
import { disabledExcept, EMPTY_RATE_LIMIT_PLAN, planRateLimits, rateLimitRoutes, type RateLimitPlan } from './ratelimit.js';
import type { RuleClusterSpec, Resolved } from './routing/destinations.js';
import type { Flavor } from './routing/match.js';
import { nearbyKey, nearbyLevel } from './routing/nearby.js';
import { planRules, type Caller, type PlannedRoute, type RulePlan } from './routing/rules.js';
import { GuardCache, NO_GUARD, type Guard } from './guard.js';
import { breakerParts, type BreakerParts } from './service-breaker.js';
import { refsOf, type Refs } from './refs.js';
import { skip, type SkipReason } from './skip.js';
import { nodeView, type NodeView } from './view.js';
import { breakerClusters, onDemandClusters, onDemandFilter, onDemandRouteConfig, VirtualHostBuilder, virtualHostSet } from './on-demand.js';

export type { NodeView } from './view.js';
export type { SkipReason, SkipKind } from './skip.js';
export { nodeView } from './view.js';
export { configDump, resourceJson, type ConfigDump } from './dump.js';

export type { Refs } from './refs.js';

/** Translation is one node view's snapshot, what was left out of it, and its references. */
export interface Translation {
  readonly snapshot: Snapshot;
  readonly skipped: readonly SkipReason[];
  readonly refs: Refs;
}

/** Translator turns mesh states into snapshots for node views; it keeps memo caches and is otherwise stateless. */
export interface Translator {
  nodeView(node: NodeInfo): NodeView;
  translate(mesh: MeshState, view: NodeView): Translation;
}

/** BreakerShare is a service-level breaker's part of a service's share, encoded. */
interface BreakerShare {
  readonly clusters: readonly EncodedResource[];
  readonly listeners: readonly EncodedResource[];
  readonly routes: readonly EncodedResource[];
  readonly vhost: EncodedVirtualHost;
}

const NO_INTERNAL_LISTENERS =
  'a SERVICE or METHOD level breaker needs Envoy\'s internal listeners; bootstrap the node with `polaris-xds bootstrap` (it loads envoy.bootstrap.internal_listener and sets the node metadata polaris-xds.io/internal-listeners: "true")';

interface RuleResources {
  readonly cluster: EncodedResource;
  readonly cla: EncodedResource;
  /** What the cluster's guard left out. */
  readonly skipped: readonly SkipReason[];
}

/** Own is what a node group is served besides its OutboundSet. */
interface Own {
  readonly clusters: EncodedResource[];
  readonly listeners: EncodedResource[];
  readonly routes: EncodedResource[];
  /** What the node's own service's rules left out (rate limits). */
  readonly skipped: SkipReason[];
}

const NONE: readonly EncodedResource[] = Object.freeze([]);
/** ABSENT stands for a service a rule names that is not in the mesh, in memo dependencies. */
const ABSENT = Object.freeze({});

/** joinSkips concatenates skip lists, returning one of them as it is when the others are empty (so unchanged lists stay the same array). */
function joinSkips(...lists: ReadonlyArray<readonly SkipReason[]>): readonly SkipReason[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  return nonEmpty.length === 0 ? (lists[0] ?? []) : nonEmpty.length === 1 ? nonEmpty[0]! : nonEmpty.flat();
}

/** samePortsAndNames says whether host name claims made for `prev` hold for `next`: no service came or went or changed its ports. */
function samePortsAndNames(prev: MeshState, next: MeshState): boolean {
  for (const k of changedKeys(prev, next)) {
    const a = prev.services.get(k);
    const b = next.services.get(k);
    if (!a || !b) return false;
    if (!sameItems(servicePorts(a), servicePorts(b))) return false;
  }
  return true;
}

const ANY = new Set(['', '*']);

/** inboundResolver maps a destination of a service's inbound rule to that service, or says why not. */
function inboundResolver(callee: Service): (d: RouteDestination) => Resolved {
  const names = new Set([callee.name, ...(callee.aliasFor ? [callee.aliasFor.name] : [])]);
  const namespaces = new Set([callee.namespace, ...(callee.aliasFor ? [callee.aliasFor.namespace] : [])]);
  return (d) =>
    (ANY.has(d.service) || names.has(d.service)) && (ANY.has(d.namespace) || namespaces.has(d.namespace))
      ? { ok: true, service: callee }
      : { ok: false, reason: `names service ${d.namespace}/${d.service}; a rule of ${callee.namespace}/${callee.name} can only route to it` };
}

/**
 * callerTrueOutbounds returns a service's outbound rules with the sources of the same rule as its
 * callee holds it. Polaris (v1.18.1) writes the asking service into a `*` caller of the outbound
 * copy, which would make a rule for any caller look like one that names this service; the
 * callee's inbound copy keeps the `*`. Rules are matched by name (`<rule>.<subrule>`).
 */
function callerTrueOutbounds(mesh: MeshState, owner: Service): { rules: RouteRule[]; deps: Service[] } {
  const deps: Service[] = [owner];
  const rules = owner.routing.outbounds.map((rule) => {
    const dest = rule.destinations.find((d) => d.service !== '' && d.service !== '*');
    const callee = dest && mesh.services.get(serviceKey(dest.namespace || owner.namespace, dest.service));
    const twin = rule.name !== '' ? callee?.routing.inbounds.find((r) => r.name === rule.name) : undefined;
    if (!callee || !twin) return rule;
    deps.push(callee);
    return twin.sources === rule.sources ? rule : { ...rule, sources: twin.sources };
  });
  return { rules, deps };
}

const EMPTY_PLAN: RulePlan = Object.freeze({ routes: [], clusters: [], skipped: [] });

// Domain lists are made once per mesh and shared by every node group: stringify each once.
const domainKeys = new WeakMap<readonly string[], string>();
function domainsKey(domains: readonly string[]): string {
  let k = domainKeys.get(domains);
  if (k === undefined) domainKeys.set(domains, (k = JSON.stringify(domains)));
  return k;
}

/** meshResolver maps a gateway rule's destination to the named service. */
function meshResolver(mesh: MeshState): (d: RouteDestination) => Resolved {
  return (d) => {
    if (ANY.has(d.service) || ANY.has(d.namespace)) return { ok: false, reason: 'a gateway rule must name its destination service and namespace' };
    const s = mesh.services.get(serviceKey(d.namespace, d.service));
    return s ? { ok: true, service: s } : { ok: false, reason: `service ${d.namespace}/${d.service} is not in the registry` };
  };
}

/** createTranslator builds a translator with its own caches; the app makes one and hands it to the snapshot cache. */
export function createTranslator(): Translator {
  // Clusters depend only on their name and whether they speak HTTP/2: keyed by those, an instance
  // change does not re-encode them.
  const clusters = new BoundedMap<string, EncodedResource>(1 << 17);
  const serviceCLAs = new Memo<EncodedResource>();
  const plans = new Memo<RulePlan>();
  const ruleResources = new Memo<RuleResources>();
  const vhosts = new Memo<EncodedVirtualHost>();
  // A service without inbound rules has a virtual host that depends only on its name and domains.
  const plainVhosts = new BoundedMap<string, EncodedVirtualHost>(1 << 17);
  const plainVhostByDomains = new WeakMap<readonly string[], { readonly name: string; readonly vh: EncodedVirtualHost }>();
  const serviceClusters = new Memo<EncodedResource>();
  const breakerShares = new Memo<BreakerShare>();
  const guards = new GuardCache();
  const claims = new Memo<Claims>();
  const lastClaims = new Map<string, { readonly mesh: MeshState; readonly claims: Claims }>();
  // The newest OutboundSet per caller identity, patched by the next mesh.
  const outboundSets = new BoundedMap<string, OutboundSet>(64);
  // One outbound route configuration per virtual host list (the list object is kept while unchanged).
  const outboundRoutes = new WeakMap<readonly EncodedVirtualHost[], EncodedResource>();
  const groupSets = new BoundedMap<string, { readonly base: TypeResources | undefined; readonly list: readonly EncodedResource[]; readonly set: TypeResources }>(1 << 17);
  const lastTranslations = new BoundedMap<string, Translation>(1 << 16);
  const sidecarOwns = new BoundedMap<string, { readonly view: NodeView; readonly self: Service | undefined; readonly rc: EncodedResource; readonly own: Own }>(1 << 16);
  const gatewayHosts = new WeakMap<RulePlan, EncodedVirtualHost>();
  const planSkips = new WeakMap<RulePlan, { readonly base: readonly SkipReason[]; readonly all: readonly SkipReason[] }>();

  /** withPlanSkips appends a plan's skip reasons to a set's, as the same array while neither changed. */
  function withPlanSkips(base: readonly SkipReason[], plan: RulePlan): readonly SkipReason[] {
    if (plan.skipped.length === 0) return base;
    const hit = planSkips.get(plan);
    if (hit?.base === base) return hit.all;
    const all = [...base, ...plan.skipped];
    planSkips.set(plan, { base, all });
    return all;
  }
  const ownSkips = new WeakMap<Own, { readonly base: readonly SkipReason[]; readonly all: readonly SkipReason[] }>();
  const rateLimitPlans = new WeakMap<RuleSet<RateLimitRule>, RateLimitPlan>();

  /** withOwnSkips appends a group's own skip reasons to its set's, as the same array while neither changed. */
  function withOwnSkips(base: readonly SkipReason[], own: Own): readonly SkipReason[] {
    if (own.skipped.length === 0) return base;
    const hit = ownSkips.get(own);
    if (hit?.base === base) return hit.all;
    const all = [...base, ...own.skipped];
    ownSkips.set(own, { base, all });
    return all;
  }
  const proxylessRoutes = new Memo<EncodedResource>();
  const apiListeners = new BoundedMap<string, EncodedResource>(1 << 17);
  const small = new BoundedMap<string, EncodedResource>(1 << 16);
  const routeConfigs = new BoundedMap<string, { parts: readonly EncodedVirtualHost[]; res: EncodedResource }>(4096);
  let passthrough: EncodedResource | undefined;
  let passthroughHost: EncodedVirtualHost | undefined;
  let onDemandRc: EncodedResource | undefined;
  const vhostBuilder = new VirtualHostBuilder(() => (passthroughHost ??= encodeVirtualHost(passthroughVirtualHost())));

  function cached(key: string, build: () => EncodedResource): EncodedResource {
    let r = small.get(key);
    if (!r) small.set(key, (r = build()));
    return r;
  }

  function clusterOf(name: string, h2: boolean, guard: Guard, build: () => EncodedResource): EncodedResource {
    const key = `${name}\0${h2}\0${guard.key}`;
    let c = clusters.get(key);
    if (!c) clusters.set(key, (c = build()));
    return c;
  }

  /** serviceEds is a service's whole-service cluster (with the caller's guard) and assignment for a caller locality. */
  function serviceEds(s: Service, view: NodeView, guard: Guard): { cluster: EncodedResource; cla: EncodedResource } {
    const name = names.outboundCluster(s.namespace, s.name);
    const cluster = serviceClusters.get(s, guard.key, [], () => {
      const h2 = speaksHttp2(s.instances);
      return clusterOf(name, h2, guard, () => encodeCluster(serviceCluster(name, h2, guard)));
    });
    const level = nearbyLevel(s);
    const nearby = level && view.locality ? { level, caller: view.locality } : undefined;
    const cla = serviceCLAs.get(s, nearby ? nearbyKey(nearby.level, nearby.caller) : '', [], () =>
      encodeLoadAssignment(serviceLoadAssignment(name, routable(s).instances, nearby)),
    );
    return { cluster, cla };
  }

  /**
   * ruleGuard is the guard of a rule cluster: its service's, as on the service cluster (the same
   * instances). A cluster mixing several services' instances gets none, said when one has rules.
   */
  function ruleGuard(spec: RuleClusterSpec, caller: Caller, flavor: Flavor): Guard {
    if (spec.deps.length === 1) return guards.guardFor(spec.deps[0]!, caller, flavor);
    const ruled = spec.deps.filter((d) => d.circuitBreakers.rules.length > 0 || d.faultDetectors.rules.length > 0);
    if (ruled.length === 0) return NO_GUARD;
    const reason = 'this routing rule\'s cluster mixes instances of several services; their circuit breakers and health checks are not applied to it';
    return { ...NO_GUARD, skipped: ruled.map((d) => skip('circuit-breaker', `${serviceKey(d.namespace, d.name)} via ${spec.name}`, reason)) };
  }

  function ruleEds(spec: RuleClusterSpec, caller: Caller, flavor: Flavor): RuleResources {
    const guard = ruleGuard(spec, caller, flavor);
    return ruleResources.get(spec.deps[0]!, `${spec.name}\0${guard.key}`, [...spec.deps, guard], () => {
      const h2 = speaksHttp2(spec.levels.flatMap((l) => l.flatMap((g) => g.instances)));
      return {
        cluster: clusterOf(spec.name, h2, guard, () => encodeCluster(ruleCluster(spec.name, h2, guard))),
        cla: encodeLoadAssignment(groupedLoadAssignment(spec.name, spec.levels)),
        skipped: guard.skipped,
      };
    });
  }

  function inboundPlan(s: Service, caller: Caller, flavor: Flavor): { plan: RulePlan; key: string } {
    // Most services have no rules: one shared empty plan, no per-caller memo entry.
    if (s.routing.inbounds.length === 0) return { plan: EMPTY_PLAN, key: '' };
    const key = JSON.stringify([flavor, caller.namespace, caller.service]);
    const plan = plans.get(s, key, [], () =>
      planRules(s.routing.inbounds, { path: `${serviceKey(s.namespace, s.name)}.routing.inbounds`, caller, flavor, resolve: inboundResolver(s) }),
    );
    return { plan, key };
  }

  /** claimsFor gives host names for callers in a namespace, once per mesh; carried over while no service's name or ports changed. */
  function claimsFor(mesh: MeshState, namespace: string, lowercase: boolean): Claims {
    const key = JSON.stringify([namespace, lowercase]);
    return claims.get(mesh, key, [], () => {
      const last = lastClaims.get(key);
      const c = last && samePortsAndNames(last.mesh, mesh) ? last.claims : claimNames(mesh, namespace, lowercase);
      lastClaims.set(key, { mesh, claims: c });
      return c;
    });
  }

  /** serviceVhost is a service's virtual host for a caller, encoded once per (routing, caller, domains). */
  function serviceVhost(s: Service, plan: RulePlan, planKey: string, domains: readonly string[]): EncodedVirtualHost {
    const name = names.outboundCluster(s.namespace, s.name);
    const build = (): EncodedVirtualHost => encodeVirtualHost(virtualHost(name, domains, serviceRoutes(plan.routes, name)));
    // Matches come from the rules (the routing object, kept while rules are unchanged); which
    // routes exist and their clusters also depend on instances (a destination with none is
    // dropped), so they are part of the key: an instance change then re-encodes nothing.
    if (s.routing.inbounds.length > 0) {
      const routesKey = plan.routes.map((r) => `${r.name}\0${r.cluster}`).join('\n');
      return vhosts.get(s.routing, `${name}\0${planKey}${domainsKey(domains)}\0${routesKey}`, [], build);
    }
    // Fast path: the same domain list object (one per service per mesh) was seen by another group.
    const seen = plainVhostByDomains.get(domains);
    if (seen && seen.name === name) return seen.vh;
    const k = `${name}\0${domainsKey(domains)}`;
    let vh = plainVhosts.get(k);
    if (!vh) plainVhosts.set(k, (vh = build()));
    plainVhostByDomains.set(domains, { name, vh });
    return vh;
  }

  /**
   * breakerShare is what SERVICE- and METHOD-level breakers add for a caller (service-breaker.ts):
   * their clusters, internal listeners and route configurations, and the caller's virtual host,
   * whose routes now go to the breakers (a method's first, then the service's); the service's own
   * routes move behind them.
   */
  function breakerShare(s: Service, guard: Guard, plan: RulePlan, planKey: string, domains: readonly string[]): BreakerShare {
    const name = names.outboundCluster(s.namespace, s.name);
    const routesKey = plan.routes.map((r) => `${r.name}\0${r.cluster}`).join('\n');
    const h2 = speaksHttp2(s.instances);
    return breakerShares.get(guard, `${name}\0${planKey}\0${domainsKey(domains)}\0${routesKey}\0${h2}`, [s.routing], () => {
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
        m.matches.forEach((match, k) => methodRoutes.push({ name: `circuit-breaker:${m.scope}#${k}`, match, cluster: p.entryCluster }));
      }
      return {
        clusters: parts.flatMap((p) => p.clusters).map(encodeCluster),
        listeners: parts.flatMap((p) => p.listeners).map(encodeListener),
        routes: parts.flatMap((p) => p.routes).map((r) => encodeRouteConfigParts(r.name, [encodeVirtualHost(r.vhost)])),
        vhost: encodeVirtualHost(virtualHost(name, domains, serviceRoutes([...methodRoutes, ...fallThrough], defaultCluster))),
      };
    });
  }

  /** share translates one service for a caller (the OutboundSet's unit of work). */
  function share(s: Service, domains: readonly string[] | undefined, view: NodeView, caller: Caller, flavor: Flavor): ServiceShare {
    const guard = guards.guardFor(s, caller, flavor);
    const { cluster, cla } = serviceEds(s, view, guard);
    const { plan, key: planKey } = inboundPlan(s, caller, flavor);
    const clusters = [cluster];
    const endpoints = [cla];
    const extra: SkipReason[] = [];
    for (const spec of plan.clusters) {
      const r = ruleEds(spec, caller, flavor);
      if (!clusters.includes(r.cluster)) clusters.push(r.cluster);
      if (!endpoints.includes(r.cla)) endpoints.push(r.cla);
      // The service's own guard is reported once, with its cluster.
      for (const k of r.skipped) if (!guard.skipped.includes(k) && !extra.includes(k)) extra.push(k);
    }
    const own = routable(s).skipped;
    if (flavor === 'envoy') {
      const breakers = guard.service ? [guard.service, ...guard.methods] : guard.methods;
      if (!view.internalListeners) for (const b of breakers) extra.push(skip('circuit-breaker', b.path, NO_INTERNAL_LISTENERS));
      const skipped = joinSkips(own, guard.skipped, plan.skipped, extra);
      if (breakers.length > 0 && view.internalListeners && domains) {
        const b = breakerShare(s, guard, plan, planKey, domains);
        return { service: s, domains, clusters: [...clusters, ...b.clusters], endpoints, listeners: b.listeners, routes: b.routes, vhost: b.vhost, skipped };
      }
      return { service: s, domains, clusters, endpoints, listeners: NONE, routes: NONE, vhost: domains && serviceVhost(s, plan, planKey, domains), skipped };
    }
    const skipped = joinSkips(own, guard.skipped, plan.skipped, extra);
    if (!domains) return { service: s, domains, clusters, endpoints, listeners: NONE, routes: NONE, skipped };
    const rcName = names.proxylessRouteConfig(s.namespace, s.name);
    // One configuration per service, its single virtual host matching whatever authority the client dialled.
    const vh = serviceVhost(s, plan, planKey, ['*']);
    const rc = proxylessRoutes.get(vh, rcName, [], () => encodeRouteConfigParts(rcName, [vh]));
    const listeners = domains.map((ln) => {
      const k = `${ln}\0${rcName}`;
      let l = apiListeners.get(k);
      if (!l) apiListeners.set(k, (l = encodeListener(apiListener(ln, rcName))));
      return l;
    });
    return { service: s, domains, clusters, endpoints, listeners, routes: [rc], skipped };
  }

  /**
   * outboundFor is the OutboundSet of a node view. Views that differ only in what no part of the
   * mesh looks at share one: the caller counts only as far as some rule names it, the locality
   * only when some service routes by nearness.
   */
  function outboundFor(mesh: MeshState, view: NodeView, flavor: Flavor): OutboundSet {
    const traits = callerTraits(mesh);
    const caller: Caller = {
      namespace: traits.callerNamespaces.has(view.namespace) ? view.namespace : '',
      service: traits.callerServices.has(view.service) ? view.service : '',
    };
    const locality = traits.nearby ? view.locality : undefined;
    const internal = traits.serviceBreakers ? view.internalListeners : null;
    const key = JSON.stringify([flavor, view.namespace, caller.namespace, caller.service, locality ? [locality.region, locality.zone, locality.campus] : null, internal]);
    const claimed = claimsFor(mesh, view.namespace, flavor === 'envoy');
    const prev = outboundSets.get(key);
    const set = assembleOutbound(mesh, claimed, prev, (s, domains) => share(s, domains, view, caller, flavor));
    if (set !== prev) outboundSets.set(key, set);
    return set;
  }

  /** routeConfig splices virtual hosts into a route configuration, reusing the last one when no part changed. */
  function routeConfig(cacheKey: string, name: string, parts: readonly EncodedVirtualHost[]): EncodedResource {
    const last = routeConfigs.get(cacheKey);
    if (last && sameItems(last.parts, parts)) return last.res;
    const res = encodeRouteConfigParts(name, parts);
    routeConfigs.set(cacheKey, { parts, res });
    return res;
  }

  /** ownSet is a small per-group type set, reused while its resources are the same objects. */
  function ownSet(cacheKey: string, typeUrl: TypeUrl, base: TypeResources | undefined, list: readonly EncodedResource[]): TypeResources {
    const last = groupSets.get(cacheKey);
    if (last && last.base === base && sameItems(last.list, list)) return last.set;
    const set = base ? layerTypeSet(base, typeUrl, list) : typeSet(typeUrl, list);
    groupSets.set(cacheKey, { base, list, set });
    return set;
  }

  /** rateLimitPlan is a service's rate-limit plan, made once per rule set. */
  function rateLimitPlan(self: Service): RateLimitPlan {
    let plan = rateLimitPlans.get(self.rateLimits);
    if (!plan) rateLimitPlans.set(self.rateLimits, (plan = planRateLimits(self.rateLimits, `${serviceKey(self.namespace, self.name)}.rateLimits`)));
    return plan;
  }

  function sidecarInbound(self: Service | undefined, view: NodeView, own: Own): void {
    if (view.service === '') return;
    const ports = self && servicePorts(self).length > 0 ? servicePorts(self) : view.bindPorts;
    if (ports.length === 0) return;
    const http2 = self ? speaksHttp2(self.instances) : false;
    const { namespace: ns, service: svc } = view;
    const limits = self ? rateLimitPlan(self) : EMPTY_RATE_LIMIT_PLAN;
    own.skipped.push(...limits.skipped);
    const chains: InboundChain[] = [];
    const add = (port: number | undefined, clusterPorts: readonly number[]): void => {
      const clusterName = names.inboundCluster(ns, svc, port);
      const rcName = names.inboundRouteConfig(ns, svc, port);
      const id = JSON.stringify([clusterName, clusterPorts, http2, limits.maxRequests ?? null]);
      own.clusters.push(cached(`inbound-cluster${id}`, () => encodeCluster(inboundCluster(clusterName, clusterPorts, http2, limits.maxRequests))));
      own.routes.push(
        cached(`inbound-rc${JSON.stringify([rcName, clusterName])}${limits.key}`, () => {
          const routes = [...rateLimitRoutes(limits, clusterName, clusterRoute), ...serviceRoutes([], clusterName)];
          // The default route runs none of the rate-limit filters.
          if (limits.filters.length > 0) routes[routes.length - 1] = { ...routes[routes.length - 1], typedPerFilterConfig: disabledExcept(limits.filters, []) };
          return encodeRouteConfigParts(rcName, [encodeVirtualHost(virtualHost(names.inboundCluster(ns, svc), ['*'], routes))]);
        }),
      );
      chains.push({ port, routeConfigName: rcName });
    };
    if (ports.length > 1) for (const p of ports) add(p, [p]);
    add(undefined, ports);
    const lname = names.inboundListener(ns, svc, view.inboundPort);
    const extra = { filters: limits.filters, ...(limits.localReply ? { localReply: limits.localReply } : {}) };
    own.listeners.push(cached(`inbound-listener${JSON.stringify([lname, view.inboundPort, chains])}${limits.key}`, () => encodeListener(inboundListener(lname, view.inboundPort, chains, extra))));
  }

  function sidecar(mesh: MeshState, view: NodeView): Translation {
    const set = outboundFor(mesh, view, 'envoy');
    passthrough ??= encodeCluster(passthroughCluster());
    passthroughHost ??= encodeVirtualHost(passthroughVirtualHost());
    // Every sidecar with this outbound set shares one outbound route configuration; an on-demand
    // sidecar's has no virtual hosts (they come one by one over VHDS).
    let rc = view.onDemand ? (onDemandRc ??= onDemandRouteConfig()) : outboundRoutes.get(set.hosts);
    if (!rc) outboundRoutes.set(set.hosts, (rc = encodeRouteConfigParts(names.OUTBOUND_ROUTE_CONFIG, [...set.hosts, passthroughHost])));
    // A group's own resources depend on its view, its own service (the same object while
    // unchanged) and the outbound route configuration: most changes reuse them as they are.
    const self = view.service === '' ? undefined : mesh.services.get(serviceKey(view.namespace, view.service));
    const last = sidecarOwns.get(view.key);
    let own: Own;
    if (last && last.view === view && last.self === self && last.rc === rc) {
      own = last.own;
    } else {
      const lname = names.outboundListener(view.outboundPort);
      own = { clusters: [passthrough], routes: [rc], listeners: [], skipped: [] };
      const extra = view.onDemand ? { filters: [onDemandFilter()] } : undefined;
      own.listeners.push(cached(`outbound-listener${JSON.stringify([lname, view.outboundPort, view.onDemand])}`, () => encodeListener(outboundListener(lname, view.outboundPort, names.OUTBOUND_ROUTE_CONFIG, extra))));
      sidecarInbound(self, view, own);
      sidecarOwns.set(view.key, { view, self, rc, own });
    }
    if (view.onDemand) {
      return translation(view, withOwnSkips(set.skipped, own), {
        [CLUSTER_TYPE]: onDemandClusters(ownSet(`${view.key}\0cds`, CLUSTER_TYPE, undefined, [...own.clusters, ...breakerClusters(set)]), set.clusters),
        [ENDPOINT_TYPE]: set.endpoints,
        [LISTENER_TYPE]: ownSet(`${view.key}\0lds`, LISTENER_TYPE, set.listeners, own.listeners),
        [ROUTE_TYPE]: ownSet(`${view.key}\0rds`, ROUTE_TYPE, set.routes, own.routes),
        [VHOST_TYPE]: virtualHostSet(set, vhostBuilder),
      });
    }
    return translation(view, withOwnSkips(set.skipped, own), {
      [CLUSTER_TYPE]: ownSet(`${view.key}\0cds`, CLUSTER_TYPE, set.clusters, own.clusters),
      [ENDPOINT_TYPE]: set.endpoints,
      // Shares add listeners and routes only for service-level breakers (internal listeners).
      [LISTENER_TYPE]: ownSet(`${view.key}\0lds`, LISTENER_TYPE, set.listeners, own.listeners),
      [ROUTE_TYPE]: ownSet(`${view.key}\0rds`, ROUTE_TYPE, set.routes, own.routes),
    });
  }

  function gateway(mesh: MeshState, view: NodeView): Translation {
    const set = outboundFor(mesh, view, 'envoy');
    const caller: Caller = { namespace: view.namespace, service: view.service };
    const hosts = [...set.hosts];
    const gwKey = serviceKey(view.namespace, view.service);
    const gw = view.service === '' ? undefined : mesh.services.get(gwKey);
    const clusters: EncodedResource[] = [];
    const endpoints: EncodedResource[] = [];
    let skipped = set.skipped;
    if (gw && gw.routing.outbounds.length > 0) {
      // Rules that name the gateway as their caller route any host to the services they name.
      const { rules, deps } = callerTrueOutbounds(mesh, gw);
      // The plan depends on the rules' owner, their twins, and the services they name (or their absence).
      const named = rules.flatMap((r) => r.destinations.map((d) => mesh.services.get(serviceKey(d.namespace, d.service)) ?? ABSENT));
      const plan = plans.get(gw, `gateway${gwKey}`, [...deps, ...named], () =>
        planRules(rules, { path: `${gwKey}.routing.outbounds`, caller, flavor: 'envoy', resolve: meshResolver(mesh), explicitCaller: true }),
      );
      skipped = withPlanSkips(skipped, plan);
      for (const spec of plan.clusters) {
        const r = ruleEds(spec, caller, 'envoy');
        if (r.skipped.length > 0) skipped = [...skipped, ...r.skipped];
        if (!set.clusters.items.has(r.cluster.name) && !clusters.includes(r.cluster)) clusters.push(r.cluster);
        if (!set.endpoints.items.has(r.cla.name) && !endpoints.includes(r.cla)) endpoints.push(r.cla);
      }
      if (plan.routes.length > 0) {
        let vh = gatewayHosts.get(plan);
        if (!vh) gatewayHosts.set(plan, (vh = encodeVirtualHost(virtualHost('gateway', ['*'], serviceRoutes(plan.routes, undefined)))));
        hosts.push(vh);
      }
    }
    const rc = routeConfig(view.key, names.GATEWAY_ROUTE_CONFIG, hosts);
    const lname = names.gatewayListener(view.gatewayPort);
    const listener = cached(`gateway-listener${JSON.stringify([lname, view.gatewayPort])}`, () => encodeListener(gatewayListener(lname, view.gatewayPort, names.GATEWAY_ROUTE_CONFIG)));
    return translation(view, skipped, {
      [CLUSTER_TYPE]: ownSet(`${view.key}\0cds`, CLUSTER_TYPE, set.clusters, clusters),
      [ENDPOINT_TYPE]: ownSet(`${view.key}\0eds`, ENDPOINT_TYPE, set.endpoints, endpoints),
      [LISTENER_TYPE]: ownSet(`${view.key}\0lds`, LISTENER_TYPE, set.listeners, [listener]),
      [ROUTE_TYPE]: ownSet(`${view.key}\0rds`, ROUTE_TYPE, set.routes, [rc]),
    });
  }

  function proxyless(mesh: MeshState, view: NodeView): Translation {
    const set = outboundFor(mesh, view, 'grpc');
    return translation(view, set.skipped, { [CLUSTER_TYPE]: set.clusters, [ENDPOINT_TYPE]: set.endpoints, [LISTENER_TYPE]: set.listeners, [ROUTE_TYPE]: set.routes });
  }

  /** translation wraps type sets into a Translation, reusing the group's last one when every set is the same object. */
  function translation(view: NodeView, skipped: readonly SkipReason[], given: Partial<Record<TypeUrl, TypeResources>>): Translation {
    const sets = { [VHOST_TYPE]: emptyTypeSet(VHOST_TYPE), ...given } as Record<TypeUrl, TypeResources>;
    const last = lastTranslations.get(view.key);
    if (last && last.skipped === skipped && PUSH_ORDER.every((t) => last.snapshot.resources[t] === sets[t])) return last;
    const snapshot = makeSnapshot(sets);
    const t: Translation = { snapshot, skipped, get refs() { return refsOf(snapshot); } };
    lastTranslations.set(view.key, t);
    return t;
  }

  return {
    nodeView,
    translate(mesh: MeshState, view: NodeView): Translation {
      if (view.runType === 'sidecar') return sidecar(mesh, view);
      if (view.runType === 'gateway') return gateway(mesh, view);
      return proxyless(mesh, view);
    },
  };
}
