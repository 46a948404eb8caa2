// What the syncer asks Polaris for: one key per (type, namespace, service). SERVICES keys come
// from configuration; the per-service keys (one per ServiceKind) come from the SERVICES answers.
import { DiscoverRequest_DiscoverRequestType, type DiscoverRequest } from '../gen/v1/discover.js';

/** ServiceKind is a Discover type polled once per service; src/sync/kinds.ts says how each answer becomes model. */
export type ServiceKind = 'INSTANCE' | 'ROUTING' | 'RATE_LIMIT' | 'CIRCUIT_BREAKER' | 'FAULT_DETECTOR';

export type KeyType = 'SERVICES' | ServiceKind;

/**
 * DiscoverKey names one thing polled from Polaris. SERVICES keys have an empty `service`; an empty namespace there
 * means all namespaces.
 */
export interface DiscoverKey {
  readonly type: KeyType;
  readonly namespace: string;
  readonly service: string;
}

const WIRE_TYPE: Record<KeyType, DiscoverRequest_DiscoverRequestType> = {
  SERVICES: DiscoverRequest_DiscoverRequestType.SERVICES,
  INSTANCE: DiscoverRequest_DiscoverRequestType.INSTANCE,
  ROUTING: DiscoverRequest_DiscoverRequestType.ROUTING,
  RATE_LIMIT: DiscoverRequest_DiscoverRequestType.RATE_LIMIT,
  CIRCUIT_BREAKER: DiscoverRequest_DiscoverRequestType.CIRCUIT_BREAKER,
  FAULT_DETECTOR: DiscoverRequest_DiscoverRequestType.FAULT_DETECTOR,
};

/** SERVICE_KINDS are the per-service kinds, in the order they are polled. */
export const SERVICE_KINDS: readonly ServiceKind[] = [
  'INSTANCE',
  'ROUTING',
  'RATE_LIMIT',
  'CIRCUIT_BREAKER',
  'FAULT_DETECTOR',
];

/** keyId is the map key of a DiscoverKey: `TYPE namespace/service`. */
export function keyId(k: DiscoverKey): string {
  return `${k.type} ${k.namespace}/${k.service}`;
}

/** serviceKeys are the per-service keys of one service, one per ServiceKind. */
export function serviceKeys(namespace: string, service: string): DiscoverKey[] {
  return SERVICE_KINDS.map((type) => ({ type, namespace, service }));
}

/** wireType is the DiscoverRequestType number of a key type. */
export function wireType(t: KeyType): DiscoverRequest_DiscoverRequestType {
  return WIRE_TYPE[t];
}

/** discoverRequest builds the request for a key, carrying the revision held for it. */
export function discoverRequest(k: DiscoverKey, revision: string): DiscoverRequest {
  return {
    type: WIRE_TYPE[k.type],
    service: { namespace: k.namespace, name: k.service, revision, metadata: {}, exportTo: [] },
  };
}

/** servicesKeys are the SERVICES keys for the configured namespaces (none configured = one all-namespaces key). */
export function servicesKeys(namespaces: readonly string[]): DiscoverKey[] {
  const unique = [...new Set(namespaces)].sort();
  return unique.length === 0
    ? [{ type: 'SERVICES', namespace: '', service: '' }]
    : unique.map((namespace) => ({ type: 'SERVICES', namespace, service: '' }));
}
