// The contract between the xDS server and whatever produces snapshots. The server knows neither
// Polaris nor the translator: it asks a ConfigWatcher for a node's snapshot and is told of changes.
import type { Node } from '../../gen/envoy/config/core/v3/base.js';
import type { Snapshot } from '../snapshot.js';

/** NodeWatch follows the snapshot of one node. */
export interface NodeWatch {
  /** The node's current snapshot, or undefined while none is built yet. */
  current(): Snapshot | undefined;
  /** close stops the watch; it is idempotent. */
  close(): void;
  /**
   * feed is shared by every watch that is always served the same snapshot (one node group): the
   * server hears of a group's change once and wakes only the streams it concerns (wake-index.ts).
   */
  readonly feed: SnapshotFeed;
}

/** SnapshotFeed announces the snapshot changes of one node group, once per change for all its watches. */
export interface SnapshotFeed {
  /** The group's current snapshot, or undefined while none is built yet. */
  current(): Snapshot | undefined;
  /**
   * subscribe registers a listener called, on a later tick, each time the group's snapshot
   * changes, with the snapshot announced before (undefined the first time) and the latest one.
   * Changes are debounced: one call may span several snapshots. It returns the way to unsubscribe.
   */
  subscribe(listener: (before: Snapshot | undefined, after: Snapshot) => void): () => void;
}

/** WatchOptions say what the asking stream can take. */
export interface WatchOptions {
  /** The stream speaks Delta: only then can a node be served on demand (VHDS is Delta only). */
  readonly incremental: boolean;
}

/** ConfigWatcher opens watches. It may throw a PolarisXdsError to refuse a node. */
export interface ConfigWatcher {
  watch(node: Node, opts?: WatchOptions): NodeWatch;
}
