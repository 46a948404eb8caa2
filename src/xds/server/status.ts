// The read-only status view behind /debug/syncz: per stream (node) and type, what was sent, what
// the client ACKed, and its last NACK. Built on demand from stream state; plain JSON-ready data.
import type { StreamMode } from './protocol.js';
import type { TypeState } from './stream-state.js';

// A status row lists at most this many subscribed names; `subscribedNames` gives the count.
const MAX_LISTED_NAMES = 100;

/** NackStatus is the last rejection of a type. */
export interface NackStatus {
  readonly version: string;
  readonly nonce: string;
  readonly code: number;
  readonly message: string;
  readonly at: string;
}

/** TypeStatus is one type on one stream. Times are ISO-8601. */
export interface TypeStatus {
  readonly typeUrl: string;
  readonly wildcard: boolean;
  readonly subscribedNames: number;
  /** Up to 100 explicitly subscribed names, sorted. */
  readonly names: readonly string[];
  /** Resources the client holds as far as the server knows. */
  readonly resources: number;
  /**
   * What the latest response carried, as the client received it: SotW's version_info (the type
   * set's content version), Delta's system_version_info (the nonce).
   */
  readonly sentVersion?: string;
  /** The content version of the type set the latest response was built from; replicas agree on it. */
  readonly contentVersion?: string;
  readonly sentNonce?: string;
  readonly sentAt?: string;
  /** What the ACKed response carried: SotW the version_info the client ACKed with, Delta its system_version_info. */
  readonly ackedVersion?: string;
  readonly ackedNonce?: string;
  readonly ackedAt?: string;
  readonly lastNack?: NackStatus;
  /** A response is due but not yet written (snapshot pending or stream backpressure). */
  readonly pending: boolean;
  /** Responses of this type written on this stream, the resources they carried, and Delta removals. */
  readonly responses: number;
  readonly resourcesSent: number;
  readonly removalsSent: number;
}

/** StreamCounters count one stream's traffic. */
export interface StreamCounters {
  readonly requests: number;
  readonly responses: number;
  readonly bytesSent: number;
  readonly acks: number;
  readonly nacks: number;
  readonly expiredNonces: number;
  readonly resendsSuppressed: number;
  readonly writesBlocked: number;
}

/** NodeStatus is one ADS stream: the node on it, its mode and every type it asked for. */
export interface NodeStatus {
  readonly streamId: number;
  /** Empty until the first request latches the node. */
  readonly nodeId: string;
  readonly cluster: string;
  readonly mode: StreamMode;
  readonly peer: string;
  readonly connectedSince: string;
  /** True while the stream waits for the client to read (coalescing meanwhile). */
  readonly blocked: boolean;
  /** Keyed by type URL. */
  readonly types: Readonly<Record<string, TypeStatus>>;
  readonly counters: StreamCounters;
  /** On-demand sidecars (those that asked for VHDS): what they hold of what they fetch one by one. */
  readonly onDemand?: OnDemandStatus;
}

/**
 * OnDemandStatus counts what an on-demand sidecar holds: virtual hosts (VHDS) and clusters (wildcard and on-demand
 * together).
 */
export interface OnDemandStatus {
  readonly virtualHosts: number;
  readonly clusters: number;
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** typeStatus describes one type's state. */
export function typeStatus(t: TypeState): TypeStatus {
  const a = t.ack;
  return {
    typeUrl: t.typeUrl,
    wildcard: t.wildcard,
    subscribedNames: t.subscribedNames.size,
    names: [...t.subscribedNames].sort().slice(0, MAX_LISTED_NAMES),
    resources: t.heldCount(),
    sentVersion: a.last?.wireVersion,
    contentVersion: a.last?.version,
    sentNonce: a.last?.nonce,
    sentAt: iso(a.last?.at),
    ackedVersion: a.ackedWireVersion,
    ackedNonce: a.ackedNonce,
    ackedAt: iso(a.ackedAt),
    lastNack: a.lastNack && { ...a.lastNack, at: iso(a.lastNack.at)! },
    pending: t.pending,
    ...t.counts,
  };
}

/** sortStatuses orders status rows by node id, then stream id. */
export function sortStatuses(rows: NodeStatus[]): NodeStatus[] {
  return rows.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.streamId - b.streamId));
}

/** isoTime formats epoch milliseconds for the status view. */
export { iso as isoTime };
