// Envoy bootstraps for sidecars and gateways that get everything else over ADS from polaris-xds.
// The node id and metadata follow Polaris's conventions so the same bootstrap works against
// Polaris's own xds-v3 server.
import { META } from '../xds/node.js';
import { RATELIMIT_SERVICE_CLUSTER } from '../xds/translate/ratelimit-global.js';

export interface EnvoyBootstrapOptions {
  /** host:port of polaris-xds. */
  readonly xdsAddress: string;
  readonly nodeId: string;
  readonly namespace: string;
  readonly service: string;
  /** host:port of Envoy's own admin listener. */
  readonly adminAddress: string;
  readonly delta: boolean;
  /** A sidecar that holds only what it calls (VHDS + on-demand CDS); needs `delta`. */
  readonly onDemand?: boolean;
  readonly gateway: boolean;
  readonly bindPorts?: readonly number[];
  /** Listener ports when 15001/15006 are taken (several Envoys on one host). */
  readonly outboundPort?: number;
  readonly inboundPort?: number;
  readonly locality?: { region?: string; zone?: string; subZone?: string };
  /** TLS to polaris-xds: CA to verify it, and an optional client certificate for mTLS. */
  readonly tls?: { ca: string; cert?: string; key?: string; sni?: string };
  /** host:port of the rate-limit service's gRPC listener (envoyproxy/ratelimit), for GLOBAL rate limits. */
  readonly rateLimitAddress?: string;
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  if (i <= 0) throw new Error(`expected host:port, got ${JSON.stringify(s)}`);
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$/;

/**
 * rateLimitCluster is the rate-limit service's cluster (gRPC, so HTTP/2), under the fixed name the
 * translator's rate-limit filters name; the node metadata tells polaris-xds the node has it.
 */
function rateLimitCluster(address: string): Record<string, unknown> {
  const rls = splitHostPort(address);
  return {
    name: RATELIMIT_SERVICE_CLUSTER,
    type: IP_LITERAL.test(rls.host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '0.25s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: RATELIMIT_SERVICE_CLUSTER,
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: rls.host, port_value: rls.port } } } }] },
      ],
    },
  };
}

/** envoyBootstrap returns the bootstrap as a plain object (print it as YAML or JSON). */
export function envoyBootstrap(o: EnvoyBootstrapOptions): Record<string, unknown> {
  const xds = splitHostPort(o.xdsAddress);
  const admin = splitHostPort(o.adminAddress);
  const metadata: Record<string, string> = o.gateway
    ? { [META.gatewayNamespace]: o.namespace, [META.gatewayService]: o.service }
    : { [META.serviceNamespace]: o.namespace, [META.serviceName]: o.service };
  if (o.bindPorts?.length) metadata[META.bindPorts] = o.bindPorts.join(',');
  if (o.outboundPort) metadata[META.outboundPort] = String(o.outboundPort);
  if (o.inboundPort) metadata[META.inboundPort] = String(o.inboundPort);
  metadata[META.internalListeners] = 'true';
  if (o.rateLimitAddress) metadata[META.rateLimitService] = 'true';
  if (o.onDemand) {
    if (!o.delta || o.gateway) throw new Error('envoyBootstrap: onDemand is for Delta sidecars');
    metadata[META.openOnDemand] = 'true';
  }
  const cluster: Record<string, unknown> = {
    name: 'polaris_xds_server',
    type: IP_LITERAL.test(xds.host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: {
          // Keepalive notices a dead control plane; Envoy then reconnects and keeps its config meanwhile.
          http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } },
        },
      },
    },
    upstream_connection_options: { tcp_keepalive: {} },
    load_assignment: {
      cluster_name: 'polaris_xds_server',
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: xds.host, port_value: xds.port } } } }] },
      ],
    },
  };
  if (o.tls) {
    const ctx: Record<string, unknown> = {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: {
        validation_context: { trusted_ca: { filename: o.tls.ca } },
        ...(o.tls.cert && o.tls.key
          ? {
              tls_certificates: [{ certificate_chain: { filename: o.tls.cert }, private_key: { filename: o.tls.key } }],
            }
          : {}),
        alpn_protocols: ['h2'],
      },
    };
    if (o.tls.sni) ctx.sni = o.tls.sni;
    cluster.transport_socket = { name: 'envoy.transport_sockets.tls', typed_config: ctx };
  }
  const node: Record<string, unknown> = { id: o.nodeId, cluster: o.service || 'polaris-xds', metadata };
  if (o.locality && (o.locality.region || o.locality.zone || o.locality.subZone)) {
    node.locality = {
      region: o.locality.region ?? '',
      zone: o.locality.zone ?? '',
      sub_zone: o.locality.subZone ?? '',
    };
  }
  return {
    node,
    admin: { address: { socket_address: { address: admin.host, port_value: admin.port } } },
    dynamic_resources: {
      ads_config: {
        api_type: o.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: 'polaris_xds_server' } }],
      },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: { clusters: o.rateLimitAddress ? [cluster, rateLimitCluster(o.rateLimitAddress)] : [cluster] },
    // Internal listeners carry service-level circuit breakers (docs/governance.md); the node says it has them.
    bootstrap_extensions: [
      {
        name: 'envoy.bootstrap.internal_listener',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener',
        },
      },
    ],
  };
}
