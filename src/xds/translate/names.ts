// Resource names. The ones Polaris's own xds-v3 server uses are kept exactly, so sidecars set up
// for it work unchanged (shared/reference/polaris-xds-anchor.md §2.1); the rest are ours.

/** PASSTHROUGH_CLUSTER forwards to the connection's original destination (sidecars only). */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';

/** OUTBOUND_ROUTE_CONFIG is the sidecar's outbound route configuration. */
export const OUTBOUND_ROUTE_CONFIG = 'polaris-outbound-router';

/** GATEWAY_ROUTE_CONFIG is a gateway's route configuration (the name Polaris meant to serve). */
export const GATEWAY_ROUTE_CONFIG = 'polaris-outbound-router-gateway';

/**
 * GATEWAY_ENTRY_ROUTE_CONFIG is the route configuration of a gateway whose own service has rate limits: the rules'
 * routes, all to GATEWAY_INNER (gateway.ts).
 */
export const GATEWAY_ENTRY_ROUTE_CONFIG = 'polaris-gateway-entry';

/** GATEWAY_INNER names the internal listener behind a rate-limited gateway's entry, and the cluster to it. */
export const GATEWAY_INNER = 'polaris-gateway-inner';

/** outboundCluster names the EDS cluster (and its ClusterLoadAssignment) of a whole service. */
export function outboundCluster(namespace: string, service: string): string {
  return `OUTBOUND|${namespace}|${service}`;
}

/**
 * ruleCluster names the cluster a routing rule sends traffic to: the destination service's
 * outbound name plus a digest of the rule's destination groups, so equal destinations share it.
 */
export function ruleCluster(namespace: string, service: string, digest: string): string {
  return `${outboundCluster(namespace, service)}|${digest}`;
}

/** inboundCluster names the local (127.0.0.1) cluster of a sidecar's own service; `port` picks one port. */
export function inboundCluster(namespace: string, service: string, port?: number): string {
  return port === undefined ? `INBOUND|${namespace}|${service}` : `INBOUND|${namespace}|${service}|${port}`;
}

/**
 * concurrencyCluster names the cluster a narrowed CONCURRENCY rule's routes go to: `cluster` (the inbound cluster, or
 * a gateway's cluster to its inner listener) with the rule's own `max_requests`; `rule`: the rule's id in names.
 */
export function concurrencyCluster(cluster: string, rule: string): string {
  return `${cluster}|concurrency|${rule}`;
}

/** inboundRouteConfig names the route configuration of a sidecar's inbound listener; `port` picks one port. */
export function inboundRouteConfig(namespace: string, service: string, port?: number): string {
  const base = `polaris-inbound-cluster|${service}.${namespace}`;
  return port === undefined ? base : `${base}|${port}`;
}

/** outboundListener names the sidecar's outbound listener (`OUTBOUND_15001` by default). */
export function outboundListener(port: number): string {
  return `OUTBOUND_${port}`;
}

/** inboundListener names the sidecar's inbound listener (`<svc>.<ns>_INBOUND_15006` by default). */
export function inboundListener(namespace: string, service: string, port: number): string {
  return `${service}.${namespace}_INBOUND_${port}`;
}

/** gatewayListener names a gateway's listener. */
export function gatewayListener(port: number): string {
  return `GATEWAY_${port}`;
}

/**
 * proxylessRouteConfig names the route configuration of one service for proxyless gRPC clients:
 * one small configuration per service, so a client fetches only what it dials. `<svc>.<ns>` as
 * Polaris writes it; when either name has a dot that form is ambiguous (`a.b` in `c` and `a` in
 * `b.c`), so such services use `<ns>/<svc>` (Polaris names have no `/`).
 */
export function proxylessRouteConfig(namespace: string, service: string): string {
  return namespace.includes('.') || service.includes('.')
    ? `${OUTBOUND_ROUTE_CONFIG}/${namespace}/${service}`
    : `${OUTBOUND_ROUTE_CONFIG}/${service}.${namespace}`;
}

/** HOST_SUFFIXES are the Kubernetes-style forms a service is reachable by, after `<svc>.<ns>`. */
const HOST_SUFFIXES = ['', '.svc', '.svc.cluster', '.svc.cluster.local'] as const;

/**
 * HostName is one name a service answers to, as a virtual host domain or a proxyless listener
 * name. `rank` settles clashes between services: 0 for the namespaced forms, 1 for the short form
 * that only callers in the same namespace use.
 */
export interface HostName {
  readonly name: string;
  readonly rank: 0 | 1;
}

/**
 * hostNames lists the names of a service: `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster`,
 * `svc.ns.svc.cluster.local`, plus `svc` when the caller shares its namespace, each also with
 * `:<port>` for every port. Case is kept; callers lowercase for domains.
 */
export function hostNames(
  namespace: string,
  service: string,
  ports: readonly number[],
  sameNamespace: boolean,
): HostName[] {
  const out: HostName[] = [];
  const add = (base: string, rank: 0 | 1): void => {
    out.push({ name: base, rank });
    for (const p of ports) out.push({ name: `${base}:${p}`, rank });
  };
  for (const suffix of HOST_SUFFIXES) add(`${service}.${namespace}${suffix}`, 0);
  if (sameNamespace) add(service, 1);
  return out;
}

/**
 * breakerCluster names the cluster a caller's routes go to while a SERVICE-level (no `scope`) or
 * METHOD-level (`scope` = `method:<rule id>`) circuit breaker is in effect (service-breaker.ts);
 * `part` names its halves: `upstream` (the one host standing for the service) and `fallback`.
 */
export function breakerCluster(
  namespace: string,
  service: string,
  scope: string,
  part?: 'upstream' | 'fallback',
): string {
  const base = scope === '' ? `BREAKER|${namespace}|${service}` : `BREAKER|${namespace}|${service}|${scope}`;
  return part === undefined ? base : `${base}|${part}`;
}

/** breakerListener names an internal listener (and its route configuration) of a breaker. */
export function breakerListener(
  namespace: string,
  service: string,
  scope: string,
  part: 'upstream' | 'fallback',
): string {
  return `breaker-${part}|${namespace}|${service}${scope === '' ? '' : `|${scope}`}`;
}
