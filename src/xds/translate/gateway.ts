// The gateway builder: a gateway is served its OutboundSet (shares.ts) behind one HTTP listener on
// its gateway port, plus the routes of the rules that name it as their caller, which route any
// host to the services they name, and those rules' clusters. A gateway registered as a Polaris
// service enforces that service's rate limits on the requests it takes in.
import { serviceKey, type MeshState, type RouteDestination } from '../../model/mesh.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../resource.js';
import type { EncodedResource } from '../snapshot.js';
import type { Own, Translation, TranslatorCaches } from './caches.js';
import { callerAddressStamp, callerIdentityStamp } from './caller.js';
import { concurrencyLimit, internalCluster } from './cds.js';
import { encodeCluster, encodeListener, encodeRouteConfigParts, encodeVirtualHost } from './encode.js';
import { gatewayListener, internalHttpListener } from './lds.js';
import * as names from './names.js';
import { serviceRoutes, virtualHost } from './rds.js';
import type { Resolved } from './routing/destinations.js';
import { planRules, type Caller } from './routing/rules.js';
import { EMPTY_RATE_LIMIT_PLAN, limitedRoutes, type RateLimitPlan } from './ratelimit.js';
import { ANY, type ShareBuilder } from './shares.js';
import { skip } from './skip.js';
import type { NodeView } from './view.js';

const NO_INTERNAL_LISTENERS =
  "a gateway enforces its service's rate limits through one of Envoy's internal listeners; bootstrap the gateway " +
  'with `polaris-xds bootstrap --gateway` (it loads envoy.bootstrap.internal_listener and sets the node metadata ' +
  'polaris-xds.io/internal-listeners: "true")';

/** ABSENT stands for a service a rule names that is not in the mesh, in memo dependencies. */
const ABSENT = Object.freeze({});

/** meshResolver maps a gateway rule's destination to the named service. */
function meshResolver(mesh: MeshState): (d: RouteDestination) => Resolved {
  return (d) => {
    if (ANY.has(d.service) || ANY.has(d.namespace))
      return { ok: false, reason: 'a gateway rule must name its destination service and namespace' };
    const s = mesh.services.get(serviceKey(d.namespace, d.service));
    return s
      ? { ok: true, service: s }
      : { ok: false, reason: `service ${d.namespace}/${d.service} is not in the registry` };
  };
}

/** GatewayBuilder translates gateway views. */
export class GatewayBuilder {
  constructor(
    private readonly c: TranslatorCaches,
    private readonly shares: ShareBuilder,
  ) {}

  translate(mesh: MeshState, view: NodeView): Translation {
    const c = this.c;
    const set = this.shares.outboundFor(mesh, view, 'envoy');
    const caller: Caller = { namespace: view.namespace, service: view.service };
    const hosts = [...set.hosts];
    const gwKey = serviceKey(view.namespace, view.service);
    const gw = view.service === '' ? undefined : mesh.services.get(gwKey);
    const clusters: EncodedResource[] = [];
    const endpoints: EncodedResource[] = [];
    let skipped = set.skipped;
    if (gw && gw.routing.outbounds.length > 0) {
      // Rules that name the gateway as their caller route any host to the services they name. The
      // sync carries each rule's true callers (src/sync/true-callers.ts), so these are as Polaris means them.
      const rules = gw.routing.outbounds;
      // The plan depends on the rules' owner and the services they name (or their absence).
      const named = rules.flatMap((r) =>
        r.destinations.map((d) => mesh.services.get(serviceKey(d.namespace, d.service)) ?? ABSENT),
      );
      const path = `${gwKey}.routing.outbounds`;
      const plan = this.shares.plan(gw, `gateway${gwKey}`, named, () =>
        planRules(rules, { path, caller, flavor: 'envoy', resolve: meshResolver(mesh), explicitCaller: true }),
      );
      skipped = c.withSkips(skipped, plan);
      for (const spec of plan.clusters) {
        const r = this.shares.ruleEds(spec, caller, 'envoy');
        if (r.skipped.length > 0) skipped = [...skipped, ...r.skipped];
        if (!set.clusters.items.has(r.cluster.name) && !clusters.includes(r.cluster)) clusters.push(r.cluster);
        if (!set.endpoints.items.has(r.cla.name) && !endpoints.includes(r.cla)) endpoints.push(r.cla);
      }
      if (plan.routes.length > 0) {
        let vh = c.gatewayHosts.get(plan);
        if (!vh)
          c.gatewayHosts.set(
            plan,
            (vh = encodeVirtualHost(virtualHost('gateway', ['*'], serviceRoutes(plan.routes, undefined)))),
          );
        hosts.push(vh);
      }
    }
    const rc = c.routeConfig(view.key, names.GATEWAY_ROUTE_CONFIG, hosts);
    // GLOBAL rules need the rate-limit service's cluster, which the node's bootstrap says it has.
    let limits = gw ? c.rateLimitPlans.planFor(gw, view.rateLimitService) : EMPTY_RATE_LIMIT_PLAN;
    skipped = c.withSkips(skipped, limits);
    if (gw && limits.key !== '' && !view.internalListeners) {
      skipped = [...skipped, skip('rate-limit', `${gwKey}.rateLimits`, NO_INTERNAL_LISTENERS)];
      limits = EMPTY_RATE_LIMIT_PLAN;
    }
    const own = { clusters, routes: [rc], listeners: [] as EncodedResource[] };
    this.listeners(limits, view, own);
    return c.translation(view, skipped, {
      [CLUSTER_TYPE]: c.ownSet(`${view.key}\0cds`, CLUSTER_TYPE, set.clusters, own.clusters),
      [ENDPOINT_TYPE]: c.ownSet(`${view.key}\0eds`, ENDPOINT_TYPE, set.endpoints, endpoints),
      [LISTENER_TYPE]: c.ownSet(`${view.key}\0lds`, LISTENER_TYPE, set.listeners, own.listeners),
      [ROUTE_TYPE]: c.ownSet(`${view.key}\0rds`, ROUTE_TYPE, set.routes, own.routes),
    });
  }

  /**
   * listeners adds the gateway's listener. The gateway names its own service as the caller of what it sends
   * (caller.ts). When that service has rate limits, the gateway enforces them as a sidecar's inbound does, on every
   * request it takes in: its listener runs the rules' routes and filters (a route runs before a virtual host's own
   * routes could, so they need a listener of their own), all going to an internal listener that routes as usual.
   */
  private listeners(limits: RateLimitPlan, view: NodeView, own: Omit<Own, 'skipped'>): void {
    const c = this.c;
    const port = view.gatewayPort;
    const lname = names.gatewayListener(port);
    const identity = { early: [callerIdentityStamp(view.namespace, view.service)] };
    if (limits.key === '') {
      const key = `gateway-listener${JSON.stringify([lname, port, view.namespace, view.service])}`;
      own.listeners.push(
        c.cached(key, () => encodeListener(gatewayListener(lname, port, names.GATEWAY_ROUTE_CONFIG, identity))),
      );
      return;
    }
    const id = JSON.stringify([lname, port, view.namespace, view.service]);
    // Every request of the gateway goes through the inner listener: h2 carries both HTTP versions and gRPC.
    // A narrowed CONCURRENCY rule's routes go to a cluster of its own, to the same inner listener.
    const inner = [
      { name: names.GATEWAY_INNER, maxRequests: limits.maxRequests },
      ...limits.narrowedConcurrency.map((n) => ({
        name: names.concurrencyCluster(names.GATEWAY_INNER, n.id),
        maxRequests: n.maxRequests,
      })),
    ];
    for (const { name, maxRequests } of inner)
      own.clusters.push(
        c.cached(`gateway-inner-cluster${JSON.stringify([name, maxRequests ?? null])}`, () =>
          encodeCluster(internalCluster(name, names.GATEWAY_INNER, true, concurrencyLimit(maxRequests))),
        ),
      );
    own.routes.push(
      c.cached(`gateway-entry-rc${limits.key}`, () =>
        encodeRouteConfigParts(names.GATEWAY_ENTRY_ROUTE_CONFIG, [
          encodeVirtualHost(virtualHost('gateway-entry', ['*'], limitedRoutes(limits, names.GATEWAY_INNER))),
        ]),
      ),
    );
    // The entry keeps the caller's own identity headers (the rules may match them) and adds its address.
    const entry = {
      filters: limits.filters,
      ...(limits.localReply ? { localReply: limits.localReply } : {}),
      early: [callerAddressStamp()],
    };
    own.listeners.push(
      c.cached(`gateway-entry-listener${id}${limits.key}`, () =>
        encodeListener(gatewayListener(lname, port, names.GATEWAY_ENTRY_ROUTE_CONFIG, entry)),
      ),
      c.cached(`gateway-inner-listener${id}`, () =>
        encodeListener(internalHttpListener(names.GATEWAY_INNER, 'GATEWAY_HTTP', names.GATEWAY_ROUTE_CONFIG, identity)),
      ),
    );
  }
}
