// References between xDS resources, read from the messages once when a resource is encoded (as
// go-control-plane's GetResourceReferences does): a cluster points at its EDS assignment, the
// clusters of an aggregate, and the internal listeners it connects to; a listener at route
// configurations (HTTP connection managers, API listeners) and clusters (TCP proxy, a rate-limit
// service); a route configuration at the clusters its routes name. Snapshots check them
// (snapshot.ts consistent); the server's warming gate reads a cluster's assignment from them.
import { type Cluster, Cluster_DiscoveryType } from '../gen/envoy/config/cluster/v3/cluster.js';
import type { Listener } from '../gen/envoy/config/listener/v3/listener.js';
import type { Filter, FilterChain } from '../gen/envoy/config/listener/v3/listener_components.js';
import type { Route, VirtualHost } from '../gen/envoy/config/route/v3/route_components.js';
import { ClusterConfig } from '../gen/envoy/extensions/clusters/aggregate/v3/cluster.js';
// biome-ignore format: the generated module path is long on its own
import {
  HttpConnectionManager,
} from '../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { TcpProxy } from '../gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import type { Any } from '../gen/google/protobuf/any.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, type TypeUrl } from './resource.js';

/** ResourceRefs are the names one resource points at, by the type of the resources named. */
export type ResourceRefs = Readonly<Partial<Record<TypeUrl, readonly string[]>>>;

/** NO_REFS is the references of a resource that names no other. */
export const NO_REFS: ResourceRefs = Object.freeze({});

const TYPED_HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TYPED_TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const TYPED_AGGREGATE = 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig';

/** RefsBuilder gathers names by type, each once, in the order first seen. */
class RefsBuilder {
  private readonly byType = new Map<TypeUrl, Set<string>>();

  add(type: TypeUrl, name: string | undefined): void {
    if (name === undefined || name === '') return;
    let names = this.byType.get(type);
    if (!names) this.byType.set(type, (names = new Set()));
    names.add(name);
  }

  build(): ResourceRefs {
    if (this.byType.size === 0) return NO_REFS;
    const out: Partial<Record<TypeUrl, readonly string[]>> = {};
    for (const [t, names] of this.byType) out[t] = Object.freeze([...names]);
    return Object.freeze(out);
  }
}

/** clusterRefs are a cluster's references: its EDS assignment, an aggregate's clusters, internal listeners. */
export function clusterRefs(c: Cluster): ResourceRefs {
  const b = new RefsBuilder();
  const d = c.clusterDiscoveryType;
  if (d?.$case === 'type' && d.value === Cluster_DiscoveryType.EDS) {
    b.add(ENDPOINT_TYPE, c.edsClusterConfig?.serviceName || c.name);
  }
  if (d?.$case === 'clusterType' && d.value.typedConfig?.typeUrl === TYPED_AGGREGATE) {
    for (const name of ClusterConfig.decode(d.value.typedConfig.value).clusters) b.add(CLUSTER_TYPE, name);
  }
  for (const locality of c.loadAssignment?.endpoints ?? []) {
    for (const lb of locality.lbEndpoints) {
      const host = lb.hostIdentifier?.$case === 'endpoint' ? lb.hostIdentifier.value.address?.address : undefined;
      if (host?.$case !== 'envoyInternalAddress') continue;
      const spec = host.value.addressNameSpecifier;
      if (spec?.$case === 'serverListenerName') b.add(LISTENER_TYPE, spec.value);
    }
  }
  return b.build();
}

function routeClusters(b: RefsBuilder, route: Route): void {
  if (route.action?.$case !== 'route') return;
  const spec = route.action.value.clusterSpecifier;
  if (spec?.$case === 'cluster') b.add(CLUSTER_TYPE, spec.value);
  if (spec?.$case === 'weightedClusters') for (const w of spec.value.clusters) b.add(CLUSTER_TYPE, w.name);
}

function hostClusters(b: RefsBuilder, vh: VirtualHost): void {
  for (const route of vh.routes) routeClusters(b, route);
}

/** virtualHostRefs are the clusters a virtual host's routes name. */
export function virtualHostRefs(vh: VirtualHost): ResourceRefs {
  const b = new RefsBuilder();
  hostClusters(b, vh);
  return b.build();
}

/** routeConfigRefs merges the references of a route configuration's virtual hosts. */
export function routeConfigRefs(hosts: readonly ResourceRefs[]): ResourceRefs {
  const b = new RefsBuilder();
  for (const refs of hosts)
    for (const [t, names] of Object.entries(refs) as Array<[TypeUrl, readonly string[]]>) {
      for (const n of names) b.add(t, n);
    }
  return b.build();
}

function hcmRefs(b: RefsBuilder, hcm: HttpConnectionManager): void {
  const r = hcm.routeSpecifier;
  if (r?.$case === 'rds') b.add(ROUTE_TYPE, r.value.routeConfigName);
  if (r?.$case === 'routeConfig') for (const vh of r.value.virtualHosts) hostClusters(b, vh);
}

function typedRefs(b: RefsBuilder, config: Any | undefined): void {
  if (config?.typeUrl === TYPED_HCM) hcmRefs(b, HttpConnectionManager.decode(config.value));
  if (config?.typeUrl === TYPED_TCP_PROXY) {
    const spec = TcpProxy.decode(config.value).clusterSpecifier;
    if (spec?.$case === 'cluster') b.add(CLUSTER_TYPE, spec.value);
    if (spec?.$case === 'weightedClusters') for (const w of spec.value.clusters) b.add(CLUSTER_TYPE, w.name);
  }
}

function filterConfig(f: Filter): Any | undefined {
  return f.configType?.$case === 'typedConfig' ? f.configType.value : undefined;
}

/** listenerRefs are the route configurations and clusters a listener's filters (or API listener) name. */
export function listenerRefs(l: Listener): ResourceRefs {
  const b = new RefsBuilder();
  typedRefs(b, l.apiListener?.apiListener);
  const chains: FilterChain[] = l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains;
  for (const chain of chains) for (const f of chain.filters) typedRefs(b, filterConfig(f));
  return b.build();
}
