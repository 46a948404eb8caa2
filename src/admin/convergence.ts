// Convergence time: from the moment the source published a mesh change to the moment a client
// ACKed a version built from it. Pure bookkeeping; the caller supplies every time.

// Builds remembered to attribute late ACKs; a client slower than this many rebuilds is not measured.
const MAX_BUILDS = 64;

interface Build {
  /** When the first mesh change folded into this build was published. */
  readonly changedAt: number;
  readonly builtAt: number;
}

/** ConvergenceClock remembers recent rebuilds and the mesh changes behind them. */
export class ConvergenceClock {
  private pendingSince?: number;
  private readonly builds: Build[] = [];

  /** meshChanged notes a published mesh state; a burst of them counts from the first. */
  meshChanged(at: number): void {
    this.pendingSince ??= at;
  }

  /** built notes a rebuild of every snapshot from the latest mesh state. */
  built(at: number): void {
    if (this.pendingSince === undefined) return;
    this.builds.push({ changedAt: this.pendingSince, builtAt: at });
    this.pendingSince = undefined;
    if (this.builds.length > MAX_BUILDS) this.builds.shift();
  }

  /**
   * seconds is the convergence time of an ACK at `ackedAt` of a response written at `sentAt`, or
   * undefined when that ACK is not a convergence: the client had ACKed nothing of this type
   * before (`previousAckAt` undefined: a first sync), or no rebuild happened between its previous
   * ACK and the response (a subscription change, not a mesh change).
   */
  seconds(sentAt: number, ackedAt: number, previousAckAt: number | undefined): number | undefined {
    if (previousAckAt === undefined) return undefined;
    for (let i = this.builds.length - 1; i >= 0; i--) {
      const b = this.builds[i]!;
      if (b.builtAt > sentAt) continue;
      return b.builtAt > previousAckAt ? Math.max(0, ackedAt - b.changedAt) / 1000 : undefined;
    }
    return undefined;
  }
}
