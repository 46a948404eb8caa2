// Make-before-break on removal (xds_protocol "Eventual consistency considerations"; invariant 4):
// clusters, and their endpoints, that a new snapshot drops stay with the client until the
// listeners and routes of the push are ACKed, so no route names a cluster the client no longer has.
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, VHOST_TYPE, type TypeUrl } from '../resource.js';
import { lookup, type Snapshot } from '../snapshot.js';
import { MISSING, type TypeState } from './stream-state.js';

const HELD_BACK = [CLUSTER_TYPE, ENDPOINT_TYPE] as const;
// VHDS virtual hosts route too: an on-demand sidecar's clusters wait for them as well.
const ROUTING = [LISTENER_TYPE, ROUTE_TYPE, VHOST_TYPE] as const;

/**
 * RemovalGuard holds back removals for one stream. It reads the stream's TypeStates, holds
 * resources back in them (TypeState.retain) and marks them pending, and owns one timer, cleared
 * by close().
 */
export class RemovalGuard {
  private timer?: NodeJS.Timeout;

  /**
   * @param types the stream's type states, read live
   * @param maxHoldMs longest hold for a client that never ACKs its routes
   * @param onTimeout called when that hold ran out and removals were released
   */
  constructor(
    private readonly types: ReadonlyMap<TypeUrl, TypeState>,
    private readonly maxHoldMs: number,
    private readonly onTimeout: () => void,
  ) {}

  /**
   * hold runs when the stream moves from snapshot `prev` to `next`: names that came back are no
   * longer held; names the client holds that `next` drops are held, with their `prev` resource,
   * unless listeners and routes cannot change in this push (then removal goes out at once).
   */
  hold(prev: Snapshot, next: Snapshot): void {
    // Runs for every stream on every push: plain loops, no work while nothing is held.
    for (const type of HELD_BACK) {
      const t = this.types.get(type);
      if (t && t.retainedCount > 0) t.unretainPresent(next.resources[type]);
    }
    if (!this.routesMayChange(prev, next)) return;
    let held = 0;
    for (const type of HELD_BACK) {
      const t = this.types.get(type);
      if (!t) continue;
      const before = prev.resources[type];
      const after = next.resources[type];
      const heldSet = t.heldSet;
      if (heldSet) {
        // The client holds a whole snapshot set: what it loses is that set's diff (shared by every
        // such stream), and the set stays held by reference.
        for (const n of t.views.diff(heldSet, next.resources[type]).removed) {
          const r = heldSet.items.get(n);
          if (r && !t.isRetained(n) && t.inScope(n)) t.retain(r);
        }
      } else {
        for (const [n, version] of t.heldVersions()) {
          if (version === MISSING || lookup(after, n) || t.isRetained(n)) continue;
          const r = lookup(before, n);
          if (r && t.inScope(n)) t.retain(r);
        }
      }
      held += t.retainedCount;
    }
    if (held > 0) this.arm();
  }

  private routesMayChange(prev: Snapshot, next: Snapshot): boolean {
    for (const type of ROUTING) {
      const t = this.types.get(type);
      if (
        t !== undefined &&
        t.requests > 0 &&
        (prev.resources[type].version !== next.resources[type].version || t.pending || !t.ack.settled())
      )
        return true;
    }
    return false;
  }

  /**
   * releaseIfSettled lets held removals go once every listener and route response was written and
   * ACKed; it marks clusters and endpoints pending and returns true if it released anything.
   */
  releaseIfSettled(now: number): boolean {
    if (!this.holding()) return false;
    for (const type of ROUTING) {
      const t = this.types.get(type);
      if (t && (t.pending || !t.ack.settled())) return false;
    }
    this.release(now);
    return true;
  }

  /** close stops the timer; the guard is not used afterwards. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private holding(): boolean {
    return HELD_BACK.some((type) => (this.types.get(type)?.retainedCount ?? 0) > 0);
  }

  private release(now: number): void {
    for (const type of HELD_BACK) {
      const t = this.types.get(type);
      if (t?.releaseRetained()) t.markPending(now);
    }
    this.close();
  }

  /** arm bounds the hold; even when it runs out, removals wait until the routes were written. */
  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.holding()) return;
      if (ROUTING.some((type) => this.types.get(type)?.pending)) return this.arm();
      this.release(Date.now());
      this.onTimeout();
    }, this.maxHoldMs);
    this.timer.unref();
  }
}
