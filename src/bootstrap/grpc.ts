// The xDS bootstrap for proxyless gRPC clients (GRPC_XDS_BOOTSTRAP / GRPC_XDS_BOOTSTRAP_CONFIG).
import { META } from '../xds/node.js';

export interface GrpcBootstrapOptions {
  readonly xdsAddress: string;
  readonly nodeId: string;
  readonly namespace: string;
  readonly service: string;
  readonly locality?: { region?: string; zone?: string; subZone?: string };
}

/** grpcBootstrap returns the bootstrap JSON object; grpc-js requires `node.locality`, so it is always set. */
export function grpcBootstrap(o: GrpcBootstrapOptions): Record<string, unknown> {
  const metadata: Record<string, string> = {};
  if (o.namespace) metadata[META.serviceNamespace] = o.namespace;
  if (o.service) metadata[META.serviceName] = o.service;
  return {
    xds_servers: [{ server_uri: o.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: o.nodeId,
      cluster: o.service || 'polaris-xds',
      metadata,
      locality: { region: o.locality?.region ?? '', zone: o.locality?.zone ?? '', sub_zone: o.locality?.subZone ?? '' },
    },
  };
}
