// The sidecar builder: a sidecar is served its OutboundSet (shares.ts) behind one outbound
// listener and route configuration with a passthrough, plus its own inbound listener, clusters and
// route configurations for the service it fronts (with that service's rate limits).
import { serviceKey, type MeshState, type Service } from '../../model/mesh.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, VHOST_TYPE } from '../resource.js';
import { makeSnapshot, type EncodedResource } from '../snapshot.js';
import type { Own, Translation, TranslatorCaches } from './caches.js';
import type { OutboundSet } from './outbound.js';
import { sameItems } from './memo.js';
import { inboundCluster, passthroughCluster, speaksHttp2 } from './cds.js';
import {
  encodeCluster,
  encodeListener,
  encodeRouteConfigParts,
  encodeVirtualHost,
  type EncodedVirtualHost,
} from './encode.js';
import { inboundListener, outboundListener, type InboundChain } from './lds.js';
import * as names from './names.js';
import { passthroughVirtualHost, virtualHost } from './rds.js';
import { EMPTY_RATE_LIMIT_PLAN, limitedRoutes } from './ratelimit.js';
import { onDemandFilter } from './on-demand.js';
import { callerAddressStamp, callerIdentityStamp } from './caller.js';
import type { ShareBuilder } from './shares.js';
import type { NodeView } from './view.js';

interface GroupKeys {
  readonly cds: string;
  readonly lds: string;
  readonly rds: string;
  /** The key of the service the group fronts. */
  readonly self: string | undefined;
}

/**
 * sameInboundInputs says whether the group's own resources built from `a` hold for `b`: inbound() reads the service's
 * instances (ports, protocol, their count) and rate limits, besides its name. A rule open to every caller sits in every
 * service's outbound rules, so changing one makes every Service object new while these parts stay the same objects.
 */
function sameInboundInputs(a: Service | undefined, b: Service | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.instances === b.instances && a.rateLimits === b.rateLimits && a.name === b.name && a.namespace === b.namespace
  );
}

/** Built is a group's last translation and what it was made from. */
interface Built {
  readonly set: OutboundSet;
  readonly self: Service | undefined;
  readonly translation: Translation;
}

/**
 * onlyAssignmentsMoved says whether a group translated from `a` gets, from `b`, the same sets but
 * its assignments (and, on demand, its VHDS answers, which read the set's virtual hosts by name):
 * a one-instance change patches `endpoints` alone.
 */
function onlyAssignmentsMoved(a: OutboundSet, b: OutboundSet, onDemand: boolean): boolean {
  return (
    a.clusters === b.clusters &&
    a.listeners === b.listeners &&
    a.routes === b.routes &&
    sameItems(a.skipped, b.skipped) &&
    (onDemand || (a.hosts === b.hosts && a.claims === b.claims))
  );
}

/** SidecarBuilder translates sidecar views; it keeps the passthrough resources, made once. */
export class SidecarBuilder {
  private passthrough?: EncodedResource;
  private passthroughHost?: EncodedVirtualHost;

  // Cache keys of a group, made once per view (dropped with it): a rebuild visits every group, and
  // looking up strings already hashed keeps that visit cheap.
  private readonly viewKeys = new WeakMap<NodeView, GroupKeys>();
  // Each group's last translation (dropped with its view): a change that moved only assignments
  // swaps them in without rebuilding the group's sets, so a rebuild visits a group in a few lookups.
  private readonly built = new WeakMap<NodeView, Built>();

  constructor(
    private readonly c: TranslatorCaches,
    private readonly shares: ShareBuilder,
  ) {}

  private keysOf(view: NodeView): GroupKeys {
    let k = this.viewKeys.get(view);
    if (!k) {
      k = {
        cds: `${view.key}\0cds`,
        lds: `${view.key}\0lds`,
        rds: `${view.key}\0rds`,
        self: view.service === '' ? undefined : serviceKey(view.namespace, view.service),
      };
      this.viewKeys.set(view, k);
    }
    return k;
  }

  translate(mesh: MeshState, view: NodeView): Translation {
    const set = this.shares.outboundFor(mesh, view, 'envoy');
    const keys = this.keysOf(view);
    const self = keys.self === undefined ? undefined : mesh.services.get(keys.self);
    const prior = this.built.get(view);
    if (prior && sameInboundInputs(prior.self, self) && onlyAssignmentsMoved(prior.set, set, view.onDemand)) {
      if (prior.set === set) return prior.translation;
      const last = prior.translation.snapshot.resources;
      const endpoints = set.endpoints;
      const vhosts = view.onDemand ? this.c.onDemand.virtualHosts(set) : last[VHOST_TYPE];
      const translation =
        last[ENDPOINT_TYPE] === endpoints && last[VHOST_TYPE] === vhosts
          ? prior.translation
          : {
              snapshot: makeSnapshot({ ...last, [ENDPOINT_TYPE]: endpoints, [VHOST_TYPE]: vhosts }),
              skipped: prior.translation.skipped,
            };
      this.built.set(view, { set, self, translation });
      return translation;
    }
    const sets = this.buildSets(view, set, keys, self);
    const translation = this.c.translation(view, sets.skipped, sets.sets);
    this.built.set(view, { set, self, translation });
    return translation;
  }

  private buildSets(
    view: NodeView,
    set: OutboundSet,
    keys: GroupKeys,
    self: Service | undefined,
  ): { sets: Parameters<TranslatorCaches['translation']>[2]; skipped: Translation['skipped'] } {
    const c = this.c;
    const passthrough = (this.passthrough ??= encodeCluster(passthroughCluster()));
    const passthroughHost = (this.passthroughHost ??= encodeVirtualHost(passthroughVirtualHost()));
    // Every sidecar with this outbound set shares one outbound route configuration; an on-demand
    // sidecar's has no virtual hosts (they come one by one over VHDS, on-demand.ts).
    let rc = view.onDemand ? c.onDemand.outboundRouteConfig() : c.outboundRoutes.get(set.hosts);
    if (!rc)
      c.outboundRoutes.set(
        set.hosts,
        (rc = encodeRouteConfigParts(names.OUTBOUND_ROUTE_CONFIG, [...set.hosts, passthroughHost])),
      );
    // A group's own resources depend on its view, its own service (the same object while
    // unchanged) and the outbound route configuration: most changes reuse them as they are.
    const last = c.sidecarOwns.get(view.key);
    let own: Own;
    if (last && last.view === view && sameInboundInputs(last.self, self) && last.rc === rc) {
      own = last.own;
    } else {
      const lname = names.outboundListener(view.outboundPort);
      own = { clusters: [passthrough], routes: [rc], listeners: [], skipped: [] };
      // The listener names the node's service as the caller of what it sends (caller.ts).
      const id = [lname, view.outboundPort, view.onDemand, view.namespace, view.service];
      const key = `outbound-listener${JSON.stringify(id)}`;
      const extra = {
        ...(view.onDemand ? { filters: [onDemandFilter()] } : {}),
        early: [callerIdentityStamp(view.namespace, view.service)],
      };
      own.listeners.push(
        c.cached(key, () =>
          encodeListener(outboundListener(lname, view.outboundPort, names.OUTBOUND_ROUTE_CONFIG, extra)),
        ),
      );
      this.inbound(self, view, own);
      c.sidecarOwns.set(view.key, { view, self, rc, own });
    }
    if (view.onDemand) {
      // Its own clusters to the wildcard, every outbound cluster by name (ODCDS), virtual hosts by name (VHDS).
      const wildcard = c.ownSet(keys.cds, CLUSTER_TYPE, undefined, [
        ...own.clusters,
        ...c.onDemand.breakerClusters(set),
      ]);
      return {
        skipped: c.withSkips(set.skipped, own),
        sets: {
          [CLUSTER_TYPE]: c.onDemand.clusters(wildcard, set.clusters),
          [ENDPOINT_TYPE]: set.endpoints,
          [LISTENER_TYPE]: c.ownSet(keys.lds, LISTENER_TYPE, set.listeners, own.listeners),
          [ROUTE_TYPE]: c.ownSet(keys.rds, ROUTE_TYPE, set.routes, own.routes),
          [VHOST_TYPE]: c.onDemand.virtualHosts(set),
        },
      };
    }
    return {
      skipped: c.withSkips(set.skipped, own),
      sets: {
        [CLUSTER_TYPE]: c.ownSet(keys.cds, CLUSTER_TYPE, set.clusters, own.clusters),
        [ENDPOINT_TYPE]: set.endpoints,
        // Shares add listeners and routes only for service-level breakers (internal listeners).
        [LISTENER_TYPE]: c.ownSet(keys.lds, LISTENER_TYPE, set.listeners, own.listeners),
        [ROUTE_TYPE]: c.ownSet(keys.rds, ROUTE_TYPE, set.routes, own.routes),
      },
    };
  }

  /** inbound adds the inbound listener, clusters and route configurations of the service the sidecar fronts. */
  private inbound(self: Service | undefined, view: NodeView, own: Own): void {
    if (view.service === '') return;
    const ports = self && this.c.ports(self).length > 0 ? this.c.ports(self) : view.bindPorts;
    if (ports.length === 0) return;
    const c = this.c;
    const http2 = self ? speaksHttp2(self.instances) : false;
    const { namespace: ns, service: svc } = view;
    // GLOBAL rules need the rate-limit service's cluster, which the node's bootstrap says it has.
    const limits = self ? c.rateLimitPlans.planFor(self, view.rateLimitService) : EMPTY_RATE_LIMIT_PLAN;
    own.skipped.push(...limits.skipped);
    const chains: InboundChain[] = [];
    const cluster = (name: string, clusterPorts: readonly number[], maxRequests: number | undefined): void => {
      const id = JSON.stringify([name, clusterPorts, http2, maxRequests ?? null]);
      own.clusters.push(
        c.cached(`inbound-cluster${id}`, () => encodeCluster(inboundCluster(name, clusterPorts, http2, maxRequests))),
      );
    };
    const add = (port: number | undefined, clusterPorts: readonly number[]): void => {
      const clusterName = names.inboundCluster(ns, svc, port);
      const rcName = names.inboundRouteConfig(ns, svc, port);
      cluster(clusterName, clusterPorts, limits.maxRequests);
      // A narrowed CONCURRENCY rule's routes go to a cluster of its own, to the same application.
      for (const n of limits.narrowedConcurrency)
        cluster(names.concurrencyCluster(clusterName, n.id), clusterPorts, n.maxRequests);
      own.routes.push(
        c.cached(`inbound-rc${JSON.stringify([rcName, clusterName])}${limits.key}`, () => {
          const routes = limitedRoutes(limits, clusterName);
          return encodeRouteConfigParts(rcName, [
            encodeVirtualHost(virtualHost(names.inboundCluster(ns, svc), ['*'], routes)),
          ]);
        }),
      );
      chains.push({ port, routeConfigName: rcName });
    };
    if (ports.length > 1) for (const p of ports) add(p, [p]);
    add(undefined, ports);
    const lname = names.inboundListener(ns, svc, view.inboundPort);
    const extra = {
      filters: limits.filters,
      ...(limits.localReply ? { localReply: limits.localReply } : {}),
      early: [callerAddressStamp()],
    };
    const key = `inbound-listener${JSON.stringify([lname, view.inboundPort, chains])}${limits.key}`;
    own.listeners.push(c.cached(key, () => encodeListener(inboundListener(lname, view.inboundPort, chains, extra))));
  }
}
