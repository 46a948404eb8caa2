// The gateway builder: a gateway is served its OutboundSet (shares.ts) behind one HTTP listener on
// its gateway port, plus the routes of the rules that name it as their caller, which route any
// host to the services they name, and those rules' clusters.
import { serviceKey, type MeshState, type RouteDestination } from '../../model/mesh.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../resource.js';
import type { EncodedResource } from '../snapshot.js';
import type { Translation, TranslatorCaches } from './caches.js';
import { encodeListener, encodeVirtualHost } from './encode.js';
import { gatewayListener } from './lds.js';
import * as names from './names.js';
import { serviceRoutes, virtualHost } from './rds.js';
import type { Resolved } from './routing/destinations.js';
import { planRules, type Caller } from './routing/rules.js';
import { ANY, type ShareBuilder } from './shares.js';
import type { NodeView } from './view.js';

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
    const lname = names.gatewayListener(view.gatewayPort);
    const key = `gateway-listener${JSON.stringify([lname, view.gatewayPort])}`;
    const listener = c.cached(key, () =>
      encodeListener(gatewayListener(lname, view.gatewayPort, names.GATEWAY_ROUTE_CONFIG)),
    );
    return c.translation(view, skipped, {
      [CLUSTER_TYPE]: c.ownSet(`${view.key}\0cds`, CLUSTER_TYPE, set.clusters, clusters),
      [ENDPOINT_TYPE]: c.ownSet(`${view.key}\0eds`, ENDPOINT_TYPE, set.endpoints, endpoints),
      [LISTENER_TYPE]: c.ownSet(`${view.key}\0lds`, LISTENER_TYPE, set.listeners, [listener]),
      [ROUTE_TYPE]: c.ownSet(`${view.key}\0rds`, ROUTE_TYPE, set.routes, [rc]),
    });
  }
}
