// Cluster warming and what the server does about it. Envoy activates a new EDS cluster only when
// its ClusterLoadAssignment arrives, and finishes warming an updated cluster only when an
// assignment arrives after it, even an unchanged one (xds_protocol "Resource warming"). Routes are
// not warmed: a route naming a cluster still warming fails its requests with 503. So listeners and
// routes wait until the assignments of the clusters just sent are on the wire
// (xds_protocol "Eventual consistency considerations": LDS and RDS after CDS and EDS).
import { CLUSTER_TYPE, ENDPOINT_TYPE, type TypeUrl } from '../resource.js';
import type { EncodedResource, Snapshot } from '../snapshot.js';
import type { TypeState } from './stream-state.js';

/**
 * edsNameOf is the EDS resource name of a cluster (its `eds_cluster_config.service_name`, else its
 * name, as Envoy resolves it), or undefined for a cluster that does not take endpoints from EDS.
 * Read from the references the resource carries (refs.ts).
 */
export function edsNameOf(cluster: EncodedResource): string | undefined {
  return cluster.refs[ENDPOINT_TYPE]?.[0];
}

/**
 * WarmingGate holds listeners and routes back while a new EDS cluster sent on the stream has not
 * had its assignment written yet, for at most `maxHoldMs` (a client that never asks for those
 * endpoints must not freeze its routes). It applies only to a client subscribed to every cluster
 * (wildcard CDS, as Envoy is) that asks for endpoints: a client that names its clusters (gRPC)
 * learns them from its routes, so its routes cannot wait, and it does not use a route before its
 * clusters are ready anyway. It tracks only the clusters still awaited, so a check costs in their
 * number, not in the size of the mesh. It owns one timer, cleared by close().
 */
export class WarmingGate {
  /** EDS names of clusters sent on the stream whose assignments were not written yet. */
  private readonly awaiting = new Set<string>();
  private expired = false;
  private timer?: NodeJS.Timeout;

  /**
   * @param types the stream's type states, read live
   * @param maxHoldMs longest hold
   * @param onTimeout called when a hold ran out, so the stream writes what waited
   */
  constructor(
    private readonly types: ReadonlyMap<TypeUrl, TypeState>,
    private readonly maxHoldMs: number,
    private readonly onTimeout: () => void,
  ) {}

  /** clustersSent notes clusters a response just carried that the client did not hold. */
  clustersSent(added: readonly EncodedResource[]): void {
    for (const c of added) {
      const eds = edsNameOf(c);
      if (eds !== undefined) this.awaiting.add(eds);
    }
  }

  /** open says whether listeners and routes may be written now. */
  open(snapshot: Snapshot): boolean {
    if (this.awaiting.size === 0) return this.release();
    const cds = this.types.get(CLUSTER_TYPE);
    const eds = this.types.get(ENDPOINT_TYPE);
    if (!cds?.wildcard || !eds || eds.requests === 0) return this.release();
    const assignments = snapshot.resources[ENDPOINT_TYPE].items;
    for (const n of this.awaiting) {
      const a = assignments.get(n);
      // Gone from the mesh, written, or (Delta) rejected before and parked: nothing more to wait for.
      if (!a || eds.holds(n) || eds.ack.parkedVersionOf(n) === a.version) this.awaiting.delete(n);
    }
    if (this.awaiting.size === 0 || this.expired) {
      this.awaiting.clear();
      return this.release();
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.expired = true;
        this.onTimeout();
      }, this.maxHoldMs);
      this.timer.unref();
    }
    return false;
  }

  /** close stops the timer; the gate is not used afterwards. */
  close(): void {
    this.release();
  }

  private release(): true {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.expired = false;
    return true;
  }
}
