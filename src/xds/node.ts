// Node identity: who is asking, parsed the way Polaris's own xds-v3 server does so that
// polaris-controller-injected sidecars work unchanged (shared/reference/polaris-xds-anchor.md §1.4).
import type { Node } from '../gen/envoy/config/core/v3/base.js';
import type { Locality } from '../model/mesh.js';

/** `ratelimit` is envoyproxy/ratelimit asking for its limits (node id `ratelimit~<name>`). */
export type RunType = 'sidecar' | 'gateway' | 'proxyless' | 'ratelimit';

/** NodeInfo is the parsed identity of one xDS client. */
export interface NodeInfo {
  readonly id: string;
  readonly runType: RunType;
  /** Namespace the node lives in: metadata overrides the one in the node id. */
  readonly namespace: string;
  /** The node's own service (sidecar: the service it fronts; gateway: the gateway service). */
  readonly service: string;
  readonly ip: string;
  /** Inbound ports from `sidecar.polarismesh.cn/bindPorts`, used when the service has no instances. */
  readonly bindPorts: readonly number[];
  /** Sidecar listener ports: Polaris's fixed 15001/15006 unless the node's metadata moves them. */
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly tlsMode: 'none' | 'strict' | 'permissive';
  readonly locality: Locality;
  /** Node metadata flattened to strings. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly userAgent: string;
  readonly clientFeatures: readonly string[];
  /**
   * The node asked to hold only what it calls (META.openOnDemand = "true"). Parsed from metadata;
   * whoever opens the node's watch clears it for a client that cannot have it (SotW: no VHDS).
   */
  readonly onDemand: boolean;
}

export const META = {
  serviceName: 'sidecar.polarismesh.cn/serviceName',
  serviceNamespace: 'sidecar.polarismesh.cn/serviceNamespace',
  bindPorts: 'sidecar.polarismesh.cn/bindPorts',
  tlsMode: 'polarismesh.cn/tls-mode',
  gatewayNamespace: 'gateway.polarismesh.cn/serviceNamespace',
  gatewayService: 'gateway.polarismesh.cn/serviceName',
  legacyGatewayNamespace: 'gateway_namespace',
  legacyGatewayService: 'gateway_service',
  // Our own keys (Polaris has none for this): several Envoys on one host need their own ports.
  outboundPort: 'polaris-xds.io/outbound-port',
  inboundPort: 'polaris-xds.io/inbound-port',
  /** "true" when the bootstrap loads Envoy's internal listener extension (what service-level circuit breakers need). */
  internalListeners: 'polaris-xds.io/internal-listeners',
  /** "true" when the bootstrap has the rate-limit service's cluster (what GLOBAL rate limits need). */
  rateLimitService: 'polaris-xds.io/ratelimit-service',
  /** Polaris's key: "true" makes a sidecar fetch virtual hosts and clusters on demand (VHDS + ODCDS). */
  openOnDemand: 'sidecar.polarismesh.cn/openOnDemand',
} as const;

/** A node id starting with this is the rate-limit service (envoyproxy/ratelimit's CONFIG_GRPC_XDS_NODE_ID). */
export const RATELIMIT_NODE_PREFIX = 'ratelimit~';

export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_INBOUND_PORT = 15006;

// `[<runType>~]<ns>/<uuid>~<ip>`, the form polaris-controller writes (`${NAMESPACE}/$(uuidgen)~$(hostname -i)`).
const NODE_ID = /^(?:(\S+?)~)?(\S+)\/([^~]+)~([^~]+)$/;

/** ParsedNodeId is the part of the identity carried in `node.id`. */
export interface ParsedNodeId {
  readonly runType: string;
  readonly namespace: string;
  readonly uuid: string;
  readonly ip: string;
}

/** parseNodeId splits a Polaris-style node id; it returns undefined for ids of any other form. */
export function parseNodeId(id: string): ParsedNodeId | undefined {
  const m = NODE_ID.exec(id);
  if (!m) return undefined;
  return { runType: m[1] ?? 'sidecar', namespace: m[2]!, uuid: m[3]!, ip: m[4]! };
}

function flatten(metadata: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!metadata) return out;
  for (const key of Object.keys(metadata).sort()) {
    const v = metadata[key];
    if (v === null || v === undefined) continue;
    // Numbers are written as integers and booleans as "true"/"false", as Polaris does.
    out[key] =
      typeof v === 'string'
        ? v
        : typeof v === 'number'
          ? String(Math.trunc(v))
          : typeof v === 'boolean'
            ? String(v)
            : JSON.stringify(v);
  }
  return out;
}

/** parsePort reads a node metadata port (1–65535), or gives `fallback`. */
export function parsePort(s: string | undefined, fallback: number): number {
  const n = Number(s);
  return s !== undefined && Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
}

function parsePorts(s: string | undefined): number[] {
  if (!s) return [];
  const ports = s
    .split(',')
    .map((p) => Number(p.trim()))
    .filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
  return [...new Set(ports)].sort((a, b) => a - b);
}

/**
 * parseNode derives NodeInfo from an xDS Node. Any id is accepted: a node whose id is not in
 * Polaris's form is served as a sidecar of the namespace and service its metadata names (or none).
 * A gRPC client (user agent `gRPC …`, which grpc-js and the other gRPC libraries send) is proxyless.
 */
export function parseNode(
  node: Pick<Node, 'id' | 'metadata' | 'locality' | 'userAgentName' | 'clientFeatures'>,
): NodeInfo {
  const metadata = flatten(node.metadata);
  const parsed = parseNodeId(node.id);
  const userAgent = node.userAgentName ?? '';
  let runType: RunType = 'sidecar';
  if (node.id.startsWith(RATELIMIT_NODE_PREFIX)) runType = 'ratelimit';
  else if (/^grpc/i.test(userAgent)) runType = 'proxyless';
  else if (parsed?.runType === 'gateway') runType = 'gateway';
  const namespace =
    (runType === 'gateway' ? (metadata[META.gatewayNamespace] ?? metadata[META.legacyGatewayNamespace]) : undefined) ??
    metadata[META.serviceNamespace] ??
    parsed?.namespace ??
    '';
  const service =
    (runType === 'gateway' ? (metadata[META.gatewayService] ?? metadata[META.legacyGatewayService]) : undefined) ??
    metadata[META.serviceName] ??
    '';
  const tls = metadata[META.tlsMode];
  return {
    id: node.id,
    runType,
    namespace,
    service,
    ip: parsed?.ip ?? '',
    bindPorts: parsePorts(metadata[META.bindPorts]),
    outboundPort: parsePort(metadata[META.outboundPort], DEFAULT_OUTBOUND_PORT),
    inboundPort: parsePort(metadata[META.inboundPort], DEFAULT_INBOUND_PORT),
    tlsMode: tls === 'strict' || tls === 'permissive' ? tls : 'none',
    locality: {
      region: node.locality?.region ?? '',
      zone: node.locality?.zone ?? '',
      campus: node.locality?.subZone ?? '',
    },
    metadata,
    userAgent,
    clientFeatures: [...(node.clientFeatures ?? [])],
    onDemand: runType === 'sidecar' && metadata[META.openOnDemand] === 'true',
  };
}
