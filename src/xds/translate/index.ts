// The translator: MeshState + NodeView → Snapshot. Pure in effect (same inputs, same bytes;
// invariant 1) and memoised: every resource hangs off the Service objects it was built from, so a
// new MeshState that shares unchanged services re-translates and re-encodes only what changed
// (one instance → that service's assignments; one rule → that service's virtual host).
import { serviceKey, type MeshState, type RouteDestination, type RouteRule, type Service } from '../../model/mesh.js';
import type { NodeInfo } from '../node.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../resource.js';
import { makeSnapshot, type EncodedResource, type Snapshot } from '../snapshot.js';
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
import { BoundedMap, Memo } from './memo.js';
import * as names from './names.js';
import { claimNames, passthroughVirtualHost, serviceRoutes, servicePorts, virtualHost, type Claims } from './rds.js';
import type { RuleClusterSpec, Resolved } from './routing/destinations.js';
import type { Flavor } from './routing/match.js';
import { nearbyKey, nearbyLevel } from './routing/nearby.js';
import { planRules, type Caller, type RulePlan } from './routing/rules.js';
import type { SkipReason } from './skip.js';
import { nodeView, type NodeView } from './view.js';

export type { NodeView } from './view.js';
export type { SkipReason, SkipKind } from './skip.js';
export { nodeView } from './view.js';
export { configDump, resourceJson, type ConfigDump } from './dump.js';

/** Refs are what a snapshot's root resources point at, for `consistent()` (src/xds/snapshot.ts). */
export interface Refs {
  /** EDS service names of the snapshot's clusters. */
  readonly edsNames: ReadonlySet<string>;
  /** Route configuration names of the snapshot's listeners. */
  readonly routeNames: ReadonlySet<string>;
}

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

/** Collects one snapshot's resources; later duplicates of a name are the same shared object. */
class Collector {
  readonly clusters = new Map<string, EncodedResource>();
  readonly endpoints = new Map<string, EncodedResource>();
  readonly listeners = new Map<string, EncodedResource>();
  readonly routes = new Map<string, EncodedResource>();
  readonly skipped: SkipReason[] = [];
  readonly edsNames = new Set<string>();
  readonly routeNames = new Set<string>();

  eds(cluster: EncodedResource, cla: EncodedResource): void {
    this.clusters.set(cluster.name, cluster);
    this.endpoints.set(cla.name, cla);
    this.edsNames.add(cla.name);
  }

  listener(l: EncodedResource, routeConfigs: readonly string[]): void {
    this.listeners.set(l.name, l);
    for (const r of routeConfigs) this.routeNames.add(r);
  }

  translation(): Translation {
    const snapshot = makeSnapshot({
      [CLUSTER_TYPE]: [...this.clusters.values()],
      [ENDPOINT_TYPE]: [...this.endpoints.values()],
      [LISTENER_TYPE]: [...this.listeners.values()],
      [ROUTE_TYPE]: [...this.routes.values()],
    });
    return { snapshot, skipped: this.skipped, refs: { edsNames: this.edsNames, routeNames: this.routeNames } };
  }
}

interface RuleResources {
  readonly cluster: EncodedResource;
  readonly cla: EncodedResource;
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

/** createTranslator builds a translator with its own caches (tests use fresh ones; the server shares one). */
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
  const serviceClusters = new WeakMap<Service, EncodedResource>();
  const claims = new Memo<Claims>();
  const proxylessRoutes = new Memo<EncodedResource>();
  const apiListeners = new BoundedMap<string, EncodedResource>(1 << 17);
  const small = new BoundedMap<string, EncodedResource>(1 << 16);
  const routeConfigs = new BoundedMap<string, { parts: readonly EncodedVirtualHost[]; res: EncodedResource }>(4096);
  let passthrough: EncodedResource | undefined;
  let passthroughHost: EncodedVirtualHost | undefined;

  function cached(key: string, build: () => EncodedResource): EncodedResource {
    let r = small.get(key);
    if (!r) small.set(key, (r = build()));
    return r;
  }

  function clusterOf(name: string, h2: boolean, build: () => EncodedResource): EncodedResource {
    const key = `${name}\0${h2}`;
    let c = clusters.get(key);
    if (!c) clusters.set(key, (c = build()));
    return c;
  }

  function serviceEds(s: Service, view: NodeView, out: Collector): void {
    const name = names.outboundCluster(s.namespace, s.name);
    let cluster = serviceClusters.get(s);
    if (!cluster) {
      const h2 = speaksHttp2(s.instances);
      cluster = clusterOf(name, h2, () => encodeCluster(serviceCluster(name, h2)));
      serviceClusters.set(s, cluster);
    }
    const level = nearbyLevel(s);
    const nearby = level && view.locality ? { level, caller: view.locality } : undefined;
    const cla = serviceCLAs.get(s, nearby ? nearbyKey(nearby.level, nearby.caller) : '', [], () =>
      encodeLoadAssignment(serviceLoadAssignment(name, routable(s).instances, nearby)),
    );
    out.eds(cluster, cla);
    out.skipped.push(...routable(s).skipped);
  }

  function ruleEds(spec: RuleClusterSpec, out: Collector): void {
    const r = ruleResources.get(spec.deps[0]!, spec.name, spec.deps, () => {
      const h2 = speaksHttp2(spec.levels.flatMap((l) => l.flatMap((g) => g.instances)));
      return {
        cluster: clusterOf(spec.name, h2, () => encodeCluster(ruleCluster(spec.name, h2))),
        cla: encodeLoadAssignment(groupedLoadAssignment(spec.name, spec.levels)),
      };
    });
    out.eds(r.cluster, r.cla);
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

  function applyPlan(plan: RulePlan, out: Collector): void {
    out.skipped.push(...plan.skipped);
    for (const spec of plan.clusters) ruleEds(spec, out);
  }

  function claimsFor(mesh: MeshState, namespace: string, lowercase: boolean, out: Collector): Claims {
    const c = claims.get(mesh, JSON.stringify([namespace, lowercase]), [], () => claimNames(mesh, namespace, lowercase));
    out.skipped.push(...c.skipped);
    return c;
  }

  /** serviceVhost is a service's virtual host for a caller, encoded once per (routing, caller, domains). */
  function serviceVhost(s: Service, plan: RulePlan, planKey: string, domains: readonly string[]): EncodedVirtualHost {
    const name = names.outboundCluster(s.namespace, s.name);
    const build = (): EncodedVirtualHost => encodeVirtualHost(virtualHost(name, domains, serviceRoutes(plan.routes, name)));
    if (s.routing.inbounds.length > 0) return vhosts.get(s, `${planKey}${domainsKey(domains)}`, [], build);
    // Fast path: the same domain list object (one per service per mesh) was seen by another group.
    const seen = plainVhostByDomains.get(domains);
    if (seen && seen.name === name) return seen.vh;
    const k = `${name}\0${domainsKey(domains)}`;
    let vh = plainVhosts.get(k);
    if (!vh) plainVhosts.set(k, (vh = build()));
    plainVhostByDomains.set(domains, { name, vh });
    return vh;
  }

  /** serviceHosts adds every service's clusters and assignments and returns its virtual hosts (Envoy flavor). */
  function serviceHosts(mesh: MeshState, view: NodeView, caller: Caller, out: Collector): EncodedVirtualHost[] {
    const claimed = claimsFor(mesh, view.namespace, true, out);
    const hosts: EncodedVirtualHost[] = [];
    for (const [key, s] of mesh.services) {
      serviceEds(s, view, out);
      const { plan, key: planKey } = inboundPlan(s, caller, 'envoy');
      applyPlan(plan, out);
      const domains = claimed.names.get(key);
      if (domains) hosts.push(serviceVhost(s, plan, planKey, domains));
    }
    return hosts;
  }

  /** routeConfig splices virtual hosts into a route configuration, reusing the last one when no part changed. */
  function routeConfig(view: NodeView, name: string, parts: readonly EncodedVirtualHost[], out: Collector): void {
    const key = `${view.key}\0${name}`;
    const last = routeConfigs.get(key);
    let res: EncodedResource;
    if (last && last.parts.length === parts.length && last.parts.every((p, i) => p === parts[i])) {
      res = last.res;
    } else {
      res = encodeRouteConfigParts(name, parts);
      routeConfigs.set(key, { parts, res });
    }
    out.routes.set(name, res);
  }

  function sidecarInbound(mesh: MeshState, view: NodeView, out: Collector): void {
    if (view.service === '') return;
    const own = mesh.services.get(serviceKey(view.namespace, view.service));
    const ports = own && servicePorts(own).length > 0 ? servicePorts(own) : view.bindPorts;
    if (ports.length === 0) return;
    const http2 = own ? speaksHttp2(own.instances) : false;
    const { namespace: ns, service: svc } = view;
    const chains: InboundChain[] = [];
    const add = (port: number | undefined, clusterPorts: readonly number[]): void => {
      const clusterName = names.inboundCluster(ns, svc, port);
      const rcName = names.inboundRouteConfig(ns, svc, port);
      const id = JSON.stringify([clusterName, clusterPorts, http2]);
      out.clusters.set(clusterName, cached(`inbound-cluster${id}`, () => encodeCluster(inboundCluster(clusterName, clusterPorts, http2))));
      out.routes.set(
        rcName,
        cached(`inbound-rc${JSON.stringify([rcName, clusterName])}`, () =>
          encodeRouteConfigParts(rcName, [encodeVirtualHost(virtualHost(names.inboundCluster(ns, svc), ['*'], serviceRoutes([], clusterName)))]),
        ),
      );
      chains.push({ port, routeConfigName: rcName });
    };
    if (ports.length > 1) for (const p of ports) add(p, [p]);
    add(undefined, ports);
    const lname = names.inboundListener(ns, svc, view.inboundPort);
    out.listener(
      cached(`inbound-listener${JSON.stringify([lname, view.inboundPort, chains])}`, () => encodeListener(inboundListener(lname, view.inboundPort, chains))),
      chains.map((c) => c.routeConfigName),
    );
  }

  function sidecar(mesh: MeshState, view: NodeView, caller: Caller, out: Collector): void {
    passthrough ??= encodeCluster(passthroughCluster());
    passthroughHost ??= encodeVirtualHost(passthroughVirtualHost());
    out.clusters.set(passthrough.name, passthrough);
    const hosts = serviceHosts(mesh, view, caller, out);
    routeConfig(view, names.OUTBOUND_ROUTE_CONFIG, [...hosts, passthroughHost], out);
    const lname = names.outboundListener(view.outboundPort);
    out.listener(
      cached(`outbound-listener${JSON.stringify([lname, view.outboundPort])}`, () => encodeListener(outboundListener(lname, view.outboundPort, names.OUTBOUND_ROUTE_CONFIG))),
      [names.OUTBOUND_ROUTE_CONFIG],
    );
    sidecarInbound(mesh, view, out);
  }

  function gateway(mesh: MeshState, view: NodeView, caller: Caller, out: Collector): void {
    const hosts = serviceHosts(mesh, view, caller, out);
    const gwKey = serviceKey(view.namespace, view.service);
    const gw = view.service === '' ? undefined : mesh.services.get(gwKey);
    if (gw && gw.routing.outbounds.length > 0) {
      // Rules that name the gateway as their caller route any host to the services they name.
      const { rules, deps } = callerTrueOutbounds(mesh, gw);
      const plan = plans.get(mesh, `gateway${gwKey}`, deps, () =>
        planRules(rules, { path: `${gwKey}.routing.outbounds`, caller, flavor: 'envoy', resolve: meshResolver(mesh), explicitCaller: true }),
      );
      applyPlan(plan, out);
      if (plan.routes.length > 0) hosts.push(encodeVirtualHost(virtualHost('gateway', ['*'], serviceRoutes(plan.routes, undefined))));
    }
    routeConfig(view, names.GATEWAY_ROUTE_CONFIG, hosts, out);
    const lname = names.gatewayListener(view.gatewayPort);
    out.listener(
      cached(`gateway-listener${JSON.stringify([lname, view.gatewayPort])}`, () => encodeListener(gatewayListener(lname, view.gatewayPort, names.GATEWAY_ROUTE_CONFIG))),
      [names.GATEWAY_ROUTE_CONFIG],
    );
  }

  function proxyless(mesh: MeshState, view: NodeView, caller: Caller, out: Collector): void {
    const claimed = claimsFor(mesh, view.namespace, false, out);
    for (const [key, s] of mesh.services) {
      serviceEds(s, view, out);
      const { plan, key: planKey } = inboundPlan(s, caller, 'grpc');
      applyPlan(plan, out);
      const listenerNames = claimed.names.get(key);
      if (!listenerNames) continue;
      const rcName = names.proxylessRouteConfig(s.namespace, s.name);
      // One configuration per service, its single virtual host matching whatever authority the client dialled.
      const vh = serviceVhost(s, plan, planKey, ['*']);
      out.routes.set(rcName, proxylessRoutes.get(vh, rcName, [], () => encodeRouteConfigParts(rcName, [vh])));
      for (const ln of listenerNames) {
        const k = `${ln}\0${rcName}`;
        let l = apiListeners.get(k);
        if (!l) apiListeners.set(k, (l = encodeListener(apiListener(ln, rcName))));
        out.listener(l, [rcName]);
      }
    }
  }

  return {
    nodeView,
    translate(mesh: MeshState, view: NodeView): Translation {
      const out = new Collector();
      const caller: Caller = { namespace: view.namespace, service: view.service };
      if (view.runType === 'sidecar') sidecar(mesh, view, caller, out);
      else if (view.runType === 'gateway') gateway(mesh, view, caller, out);
      else proxyless(mesh, view, caller, out);
      return out.translation();
    },
  };
}

/** translator is the process's shared translator (its caches are weak, so sharing costs nothing). */
export const translator: Translator = createTranslator();

/** translate is `translator.translate`. */
export function translate(mesh: MeshState, view: NodeView): Translation {
  return translator.translate(mesh, view);
}
