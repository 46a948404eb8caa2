// A ConfigWatcher for xDS server tests: tests set snapshots directly, and can see how many watches
// are open. Builders make small, real Envoy resources (ts-proto encoded, once) for snapshots.
import { Cluster, Cluster_DiscoveryType } from '../../src/gen/envoy/config/cluster/v3/cluster.js';
import type { Node } from '../../src/gen/envoy/config/core/v3/base.js';
import { ApiVersion } from '../../src/gen/envoy/config/core/v3/config_source.js';
import { ClusterLoadAssignment } from '../../src/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../src/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../../src/gen/envoy/config/route/v3/route.js';
import { HttpConnectionManager } from '../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { Router } from '../../src/gen/envoy/extensions/filters/http/router/v3/router.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../src/xds/resource.js';
import { FeedAnnouncer, GroupFeed } from '../../src/xds/server/feed.js';
import type { ConfigWatcher, NodeWatch, SnapshotFeed } from '../../src/xds/server/watcher.js';
import { makeSnapshot, type EncodedResource, type Snapshot } from '../../src/xds/snapshot.js';
// The translator's encoders: they read each resource's references as the translator's resources do.
import {
  encodeCluster,
  encodeListener,
  encodeLoadAssignment,
  encodeRouteConfig,
} from '../../src/xds/translate/encode.js';

const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const ads = { configSourceSpecifier: { $case: 'ads' as const, value: {} }, resourceApiVersion: ApiVersion.V3 };

/** cluster is an EDS cluster over ADS; `timeoutS` changes its content (and version); 0 makes a cluster Envoy rejects. */
export function cluster(name: string, opts: { edsServiceName?: string; timeoutS?: number } = {}): EncodedResource {
  const msg = Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: ads, serviceName: opts.edsServiceName ?? '' },
    connectTimeout: { seconds: opts.timeoutS ?? 1, nanos: 0 },
  });
  return encodeCluster(msg);
}

/** endpoints is a ClusterLoadAssignment with one locality of 127.0.0.1 endpoints on `ports`. */
export function endpoints(name: string, ports: readonly number[] = [8080]): EncodedResource {
  const msg = ClusterLoadAssignment.fromPartial({
    clusterName: name,
    endpoints: [
      {
        locality: { region: 'r', zone: 'z', subZone: '' },
        lbEndpoints: ports.map((port) => ({
          hostIdentifier: {
            $case: 'endpoint' as const,
            value: {
              address: {
                address: {
                  $case: 'socketAddress' as const,
                  value: { address: '127.0.0.1', portSpecifier: { $case: 'portValue' as const, value: port } },
                },
              },
            },
          },
        })),
      },
    ],
  });
  return encodeLoadAssignment(msg);
}

/** listener is an API listener whose HTTP connection manager takes route `routeName` over ADS. */
export function listener(name: string, routeName: string, opts: { statPrefix?: string } = {}): EncodedResource {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: opts.statPrefix ?? name,
    routeSpecifier: { $case: 'rds', value: { configSource: ads, routeConfigName: routeName } },
    httpFilters: [
      {
        name: 'router',
        configType: {
          $case: 'typedConfig',
          value: { typeUrl: ROUTER_TYPE, value: Buffer.from(Router.encode(Router.fromPartial({})).finish()) },
        },
      },
    ],
  });
  const msg = Listener.fromPartial({
    name,
    apiListener: { apiListener: { typeUrl: HCM_TYPE, value: Buffer.from(HttpConnectionManager.encode(hcm).finish()) } },
  });
  return encodeListener(msg);
}

/**
 * httpListener is a real listener on 127.0.0.1:`port` (what Envoy accepts over LDS, unlike an API
 * listener) whose HTTP connection manager takes route `routeName` over ADS.
 */
export function httpListener(name: string, port: number, routeName: string): EncodedResource {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    routeSpecifier: { $case: 'rds', value: { configSource: ads, routeConfigName: routeName } },
    httpFilters: [
      {
        name: 'envoy.filters.http.router',
        configType: {
          $case: 'typedConfig',
          value: { typeUrl: ROUTER_TYPE, value: Buffer.from(Router.encode(Router.fromPartial({})).finish()) },
        },
      },
    ],
  });
  const msg = Listener.fromPartial({
    name,
    address: {
      address: {
        $case: 'socketAddress',
        value: { address: '127.0.0.1', portSpecifier: { $case: 'portValue', value: port } },
      },
    },
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            configType: {
              $case: 'typedConfig',
              value: { typeUrl: HCM_TYPE, value: Buffer.from(HttpConnectionManager.encode(hcm).finish()) },
            },
          },
        ],
      },
    ],
  });
  return encodeListener(msg);
}

/** route is a RouteConfiguration with one virtual host sending `/` to each of `clusters` in turn. */
export function route(name: string, clusters: readonly string[]): EncodedResource {
  const msg = RouteConfiguration.fromPartial({
    name,
    virtualHosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: clusters.map((c) => ({
          match: { pathSpecifier: { $case: 'prefix' as const, value: `/${c}` } },
          action: { $case: 'route' as const, value: { clusterSpecifier: { $case: 'cluster' as const, value: c } } },
        })),
      },
    ],
  });
  return encodeRouteConfig(msg);
}

/** MeshParts lists a snapshot's resources by type. */
export interface MeshParts {
  readonly clusters?: readonly EncodedResource[];
  readonly endpoints?: readonly EncodedResource[];
  readonly listeners?: readonly EncodedResource[];
  readonly routes?: readonly EncodedResource[];
}

/** snapshotOf builds a Snapshot from resources. */
export function snapshotOf(parts: MeshParts): Snapshot {
  return makeSnapshot({
    [CLUSTER_TYPE]: parts.clusters ?? [],
    [ENDPOINT_TYPE]: parts.endpoints ?? [],
    [LISTENER_TYPE]: parts.listeners ?? [],
    [ROUTE_TYPE]: parts.routes ?? [],
  });
}

/** simpleMesh: clusters with endpoints of the same names, one listener `l` and its route `r` to them. */
export function simpleMesh(
  clusterNames: readonly string[],
  opts: { routeTo?: readonly string[]; timeoutS?: number } = {},
): Snapshot {
  return snapshotOf({
    clusters: clusterNames.map((c) => cluster(c, { timeoutS: opts.timeoutS })),
    endpoints: clusterNames.map((c) => endpoints(c)),
    listeners: [listener('l', 'r')],
    routes: [route('r', opts.routeTo ?? clusterNames)],
  });
}

class FakeWatch implements NodeWatch {
  closed = false;
  constructor(
    readonly node: Node,
    private readonly owner: FakeWatcher,
    readonly feed: SnapshotFeed,
  ) {}
  current(): Snapshot | undefined {
    return this.owner.snapshotFor(this.node.id);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.release(this);
  }
}

/** FakeWatcher serves snapshots set by the test: one for every node, or one per node id. */
export class FakeWatcher implements ConfigWatcher {
  private shared?: Snapshot;
  private readonly perNode = new Map<string, Snapshot>();
  private readonly watches = new Set<FakeWatch>();
  // One feed per node id: watches of one node share it, as the streams of a node group do.
  private readonly feeds = new Map<string, GroupFeed>();
  private readonly announcer = new FeedAnnouncer();
  /** Every node a watch was opened for, in order. */
  readonly nodes: Node[] = [];
  /** When set, watch() throws what it returns for a node (a refusal). */
  refuse?: (node: Node) => Error | undefined;

  constructor(initial?: Snapshot) {
    this.shared = initial;
  }

  /** open is the number of watches not yet closed. */
  get open(): number {
    return this.watches.size;
  }

  snapshotFor(nodeId: string): Snapshot | undefined {
    return this.perNode.get(nodeId) ?? this.shared;
  }

  /** set replaces the snapshot (of one node, or of all) and tells the affected groups' feeds (on a later tick). */
  set(snapshot: Snapshot, nodeId?: string): void {
    if (nodeId === undefined) this.shared = snapshot;
    else this.perNode.set(nodeId, snapshot);
    for (const [id, feed] of this.feeds) if (nodeId === undefined || id === nodeId) feed.changed();
  }

  watch(node: Node): NodeWatch {
    const refusal = this.refuse?.(node);
    if (refusal) throw refusal;
    let feed = this.feeds.get(node.id);
    if (!feed) this.feeds.set(node.id, (feed = new GroupFeed(() => this.snapshotFor(node.id), this.announcer)));
    const w = new FakeWatch(node, this, feed);
    this.watches.add(w);
    this.nodes.push(node);
    return w;
  }

  release(w: FakeWatch): void {
    this.watches.delete(w);
  }
}
