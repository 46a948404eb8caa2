// Every xDS type URL polaris-xds serves, the ADS send order, and which types need the full set in
// every State-of-the-World response. One module, so these rules live in one place.

export const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ENDPOINT_TYPE = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LISTENER_TYPE = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
/** VHDS: virtual hosts an on-demand sidecar asks for one by one (Delta only). */
export const VHOST_TYPE = 'type.googleapis.com/envoy.config.route.v3.VirtualHost';
/** The limits of envoyproxy/ratelimit (GLOBAL rate-limit rules), which it takes over SotW ADS. */
export const RATELIMIT_CONFIG_TYPE = 'type.googleapis.com/ratelimit.config.ratelimit.v3.RateLimitConfig';

export type ClusterType = typeof CLUSTER_TYPE;
export type EndpointType = typeof ENDPOINT_TYPE;
export type ListenerType = typeof LISTENER_TYPE;
export type RouteType = typeof ROUTE_TYPE;
export type VhostType = typeof VHOST_TYPE;
export type RateLimitConfigType = typeof RATELIMIT_CONFIG_TYPE;
export type TypeUrl = ClusterType | EndpointType | ListenerType | RouteType | VhostType | RateLimitConfigType;

/**
 * PUSH_ORDER is make-before-break: clusters, then their endpoints, then listeners, then routes,
 * then virtual hosts (VHDS after RDS)
 * (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#eventual-consistency-considerations).
 * The order of this list matters. The rate-limit service's configuration names none of the others
 * and only the limiter asks for it: it comes last.
 */
export const PUSH_ORDER: readonly TypeUrl[] = [
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  VHOST_TYPE,
  RATELIMIT_CONFIG_TYPE,
];

export const SHORT_NAMES: Readonly<Record<TypeUrl, string>> = {
  [CLUSTER_TYPE]: 'cds',
  [ENDPOINT_TYPE]: 'eds',
  [LISTENER_TYPE]: 'lds',
  [ROUTE_TYPE]: 'rds',
  [VHOST_TYPE]: 'vhds',
  [RATELIMIT_CONFIG_TYPE]: 'rls',
};

export function isTypeUrl(s: string): s is TypeUrl {
  return (
    s === CLUSTER_TYPE ||
    s === ENDPOINT_TYPE ||
    s === LISTENER_TYPE ||
    s === ROUTE_TYPE ||
    s === VHOST_TYPE ||
    s === RATELIMIT_CONFIG_TYPE
  );
}

/**
 * requiresFullStateInSotw: in SotW, LDS and CDS responses carry every resource the client
 * subscribes to, and a missing one means "deleted"; RDS and EDS responses may carry only the
 * changed ones (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#resource-updates).
 * envoyproxy/ratelimit subscribes to every RateLimitConfig (wildcard) and replaces its whole
 * configuration with each response's resources, so it too needs the full set every time.
 */
export function requiresFullStateInSotw(typeUrl: TypeUrl): boolean {
  return typeUrl === CLUSTER_TYPE || typeUrl === LISTENER_TYPE || typeUrl === RATELIMIT_CONFIG_TYPE;
}

/** supportsWildcard: only LDS, CDS and the rate-limit configuration have a meaningful wildcard subscription. */
export function supportsWildcard(typeUrl: TypeUrl): boolean {
  return requiresFullStateInSotw(typeUrl);
}
