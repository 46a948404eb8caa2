// Encoding helpers: every resource is built as a ts-proto message, encoded once, and wrapped in an
// EncodedResource (src/xds/snapshot.ts). Nested typed configs are Any messages encoded here too.
import { Cluster } from '../../gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '../../gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../../gen/envoy/config/route/v3/route.js';
import { VirtualHost } from '../../gen/envoy/config/route/v3/route_components.js';
import type { Any } from '../../gen/google/protobuf/any.js';
import type { Duration } from '../../gen/google/protobuf/duration.js';
import { clusterRefs, listenerRefs, routeConfigRefs, virtualHostRefs, type ResourceRefs } from '../refs.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../resource.js';
import { encodeResource, type EncodedResource } from '../snapshot.js';
import { bytesField, message, str } from '../wire.js';

/** Type URLs of the typed configs the translator emits inside resources. */
export const TYPED = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  originalDst: 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  httpInspector: 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  aggregateCluster: 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig',
} as const;

interface Encoder<T> {
  encode(message: T): { finish(): Uint8Array };
}

/** typedAny encodes a message into an Any. */
export function typedAny<T>(typeUrl: string, type: Encoder<T>, message: T): Any {
  return { typeUrl, value: Buffer.from(type.encode(message).finish()) };
}

/** emptyAny is an Any of a message with no fields set (e.g. the router filter's config). */
export function emptyAny(typeUrl: string): Any {
  return { typeUrl, value: Buffer.alloc(0) };
}

/** seconds builds a Duration. */
export function seconds(s: number): Duration {
  return { seconds: s, nanos: 0 };
}

/** encodeCluster encodes a Cluster into a shared EncodedResource. */
export function encodeCluster(c: Cluster): EncodedResource {
  return encodeResource(CLUSTER_TYPE, c.name, Cluster.encode(c).finish(), c, clusterRefs(c));
}

/** encodeLoadAssignment encodes a ClusterLoadAssignment into a shared EncodedResource. */
export function encodeLoadAssignment(cla: ClusterLoadAssignment): EncodedResource {
  return encodeResource(ENDPOINT_TYPE, cla.clusterName, ClusterLoadAssignment.encode(cla).finish(), cla);
}

/** encodeListener encodes a Listener into a shared EncodedResource. */
export function encodeListener(l: Listener): EncodedResource {
  return encodeResource(LISTENER_TYPE, l.name, Listener.encode(l).finish(), l, listenerRefs(l));
}

/** encodeRouteConfig encodes a RouteConfiguration into a shared EncodedResource. */
export function encodeRouteConfig(rc: RouteConfiguration): EncodedResource {
  const refs = routeConfigRefs(rc.virtualHosts.map(virtualHostRefs));
  return encodeResource(ROUTE_TYPE, rc.name, RouteConfiguration.encode(rc).finish(), rc, refs);
}

/** EncodedVirtualHost is a virtual host encoded once, to be spliced into route configurations. */
export interface EncodedVirtualHost {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly message: VirtualHost;
  /** The clusters its routes name. */
  readonly refs: ResourceRefs;
}

/** encodeVirtualHost encodes a VirtualHost for splicing. */
export function encodeVirtualHost(vh: VirtualHost): EncodedVirtualHost {
  return { name: vh.name, bytes: VirtualHost.encode(vh).finish(), message: vh, refs: virtualHostRefs(vh) };
}

/**
 * encodeRouteConfigParts builds a RouteConfiguration (name = 1, virtual_hosts = 2) from virtual
 * hosts encoded earlier: the bytes are the same as encoding the whole message, but an unchanged
 * virtual host is never encoded again.
 */
export function encodeRouteConfigParts(name: string, vhosts: readonly EncodedVirtualHost[]): EncodedResource {
  const bytes = message([str(1, name), ...vhosts.map((v) => bytesField(2, v.bytes))]);
  const decoded = RouteConfiguration.fromPartial({ name });
  decoded.virtualHosts = vhosts.map((v) => v.message);
  return encodeResource(ROUTE_TYPE, name, bytes, decoded, routeConfigRefs(vhosts.map((v) => v.refs)));
}
