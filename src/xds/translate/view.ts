// NodeView: the part of a node's identity that changes what it is served. Nodes with equal views
// (equal `key`) get the same snapshot, so all sidecars of one service share one.
import type { Locality } from '../../model/mesh.js';
import { META, parsePort, type NodeInfo, type RunType } from '../node.js';

/** Node metadata keys of our own (Polaris has no equivalent); values are port numbers. */
export const VIEW_META = {
  outboundPort: 'polaris-xds.io/outbound-port',
  inboundPort: 'polaris-xds.io/inbound-port',
  gatewayPort: 'polaris-xds.io/gateway-port',
} as const;

export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_INBOUND_PORT = 15006;
/** A gateway listens where Polaris's injected Envoys listen for outbound traffic. */
export const DEFAULT_GATEWAY_PORT = 15001;

/**
 * NodeView is what the translator needs to know about a node. `service`/`namespace` name the
 * node's own service: the caller identity routing rules are matched against, and (sidecars) the
 * service behind the inbound listener.
 */
export interface NodeView {
  /** Equal keys mean equal snapshots. */
  readonly key: string;
  readonly runType: RunType;
  readonly namespace: string;
  /** Empty when the node did not say; then only rules open to any caller apply. */
  readonly service: string;
  /**
   * The node's locality, used only by services that ask for nearby routing. Undefined when the
   * node sent none, so nodes without one share snapshots regardless of where they run.
   */
  readonly locality?: Locality;
  /** Sidecars: inbound ports to use when the own service has no instances. */
  readonly bindPorts: readonly number[];
  /** Sidecars: the outbound and inbound listener ports. Gateways: `gatewayPort`. */
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly gatewayPort: number;
  /** Envoy sidecars and gateways whose bootstrap loads internal listeners (META.internalListeners). */
  readonly internalListeners: boolean;
  /**
   * Sidecars and gateways whose bootstrap has the rate-limit service's cluster (META.rateLimitService): GLOBAL rate
   * limits apply.
   */
  readonly rateLimitService: boolean;
  /** Sidecars on Delta that asked to hold only what they call (META.openOnDemand; node.ts). */
  readonly onDemand: boolean;
}

function hasLocality(l: Locality): boolean {
  return l.region !== '' || l.zone !== '' || l.campus !== '';
}

/**
 * nodeView derives a NodeView from a parsed node. Fields that do not apply to its run type are left at neutral values,
 * so they do not split groups.
 */
export function nodeView(node: NodeInfo): NodeView {
  const sidecar = node.runType === 'sidecar';
  const gateway = node.runType === 'gateway';
  const locality = hasLocality(node.locality) ? { ...node.locality } : undefined;
  const view = {
    runType: node.runType,
    namespace: node.namespace,
    service: node.service,
    locality,
    bindPorts: sidecar ? [...node.bindPorts] : [],
    outboundPort: sidecar ? parsePort(node.metadata[VIEW_META.outboundPort], DEFAULT_OUTBOUND_PORT) : 0,
    inboundPort: sidecar ? parsePort(node.metadata[VIEW_META.inboundPort], DEFAULT_INBOUND_PORT) : 0,
    // A gateway's listener is where its outbound traffic enters, so `outbound-port` (what
    // `polaris-xds bootstrap --gateway --outbound-port P` sets) counts when `gateway-port` is absent.
    gatewayPort: gateway
      ? parsePort(
          node.metadata[VIEW_META.gatewayPort],
          parsePort(node.metadata[VIEW_META.outboundPort], DEFAULT_GATEWAY_PORT),
        )
      : 0,
    internalListeners: (sidecar || gateway) && node.metadata[META.internalListeners] === 'true',
    rateLimitService: (sidecar || gateway) && node.metadata[META.rateLimitService] === 'true',
    onDemand: sidecar && node.onDemand,
  };
  const key = JSON.stringify([
    view.runType,
    view.namespace,
    view.service,
    locality ? [locality.region, locality.zone, locality.campus] : null,
    view.bindPorts,
    view.outboundPort,
    view.inboundPort,
    view.gatewayPort,
    view.internalListeners,
    view.rateLimitService,
    view.onDemand,
  ]);
  return Object.freeze({ key, ...view });
}
