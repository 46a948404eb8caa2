import type { MeshState } from '../model/mesh.js';

/** SourceStatus is what /readyz and /debug report about a source. */
export interface SourceStatus {
  /** True once the source has a complete state to serve (first full sync, file read, or disk cache). */
  readonly ready: boolean;
  /** Why it is not ready, or where the served state comes from when it is. */
  readonly reason: string;
  /** Where the current state came from: `polaris`, `file`, `disk-cache`, or `none`. */
  readonly origin: string;
  readonly lastSuccess?: Date;
}

/**
 * MeshSource produces MeshState snapshots. Implementations: the Polaris syncer and the YAML file
 * source. A source never publishes an emptier state because its upstream failed (invariant 5).
 */
export interface MeshSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The latest state, or undefined before the first one. */
  current(): MeshState | undefined;
  /** Calls `listener` with each new state, on a later tick. Returns an unsubscribe function. */
  subscribe(listener: (state: MeshState) => void): () => void;
  status(): SourceStatus;
}
