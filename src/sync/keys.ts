// What the syncer asks Polaris for: one key per (type, namespace, service). SERVICES keys come
// from configuration; INSTANCE and ROUTING keys come from the SERVICES answers.
import { DiscoverRequest_DiscoverRequestType, type DiscoverRequest } from '../gen/v1/discover.js';

export type KeyType = 'SERVICES' | 'INSTANCE' | 'ROUTING';

/** DiscoverKey names one thing polled from Polaris. SERVICES keys have an empty `service`; an empty namespace there means all namespaces. */
export interface DiscoverKey {
  readonly type: KeyType;
  readonly namespace: string;
  readonly service: string;
}

const WIRE_TYPE: Record<KeyType, DiscoverRequest_DiscoverRequestType> = {
  SERVICES: DiscoverRequest_DiscoverRequestType.SERVICES,
  INSTANCE: DiscoverRequest_DiscoverRequestType.INSTANCE,
  ROUTING: DiscoverRequest_DiscoverRequestType.ROUTING,
};

/** keyId is the map key of a DiscoverKey: `TYPE namespace/service`. */
export function keyId(k: DiscoverKey): string {
  return `${k.type} ${k.namespace}/${k.service}`;
}

/** wireType is the DiscoverRequestType number of a key type. */
export function wireType(t: KeyType): DiscoverRequest_DiscoverRequestType {
  return WIRE_TYPE[t];
}

/** discoverRequest builds the request for a key, carrying the revision held for it. */
export function discoverRequest(k: DiscoverKey, revision: string): DiscoverRequest {
  return { type: WIRE_TYPE[k.type], service: { namespace: k.namespace, name: k.service, revision, metadata: {}, exportTo: [] } };
}

/** servicesKeys are the SERVICES keys for the configured namespaces (none configured = one all-namespaces key). */
export function servicesKeys(namespaces: readonly string[]): DiscoverKey[] {
  const unique = [...new Set(namespaces)].sort();
  return unique.length === 0 ? [{ type: 'SERVICES', namespace: '', service: '' }] : unique.map((namespace) => ({ type: 'SERVICES', namespace, service: '' }));
}
