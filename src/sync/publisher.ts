// Hands MeshStates to subscribers on a later tick. States published before the tick collapse into
// the latest one, and a throwing subscriber neither stops the others nor the source.
import type { Logger } from 'pino';
import type { MeshState } from '../model/mesh.js';

/** Publisher keeps the current state and notifies subscribers of new ones. */
export class Publisher {
  private state: MeshState | undefined;
  private readonly listeners = new Set<(s: MeshState) => void>();
  private queued = false;

  constructor(private readonly logger: Logger) {}

  current(): MeshState | undefined {
    return this.state;
  }

  /**
   * publish makes `state` current; listeners see it (or a later one) on a later tick. Re-publishing the current object
   * does nothing.
   */
  publish(state: MeshState): void {
    if (state === this.state) return;
    this.state = state;
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      const s = this.state!;
      for (const l of [...this.listeners]) {
        try {
          l(s);
        } catch (err) {
          this.logger.error({ err }, 'mesh state subscriber threw');
        }
      }
    });
  }

  subscribe(listener: (s: MeshState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
