// Schedules the re-polling of every key: each key is asked again an interval (plus jitter) after
// its last answer, never while its request is in flight, with a bound on requests in flight. When
// Polaris cannot be reached the pump pauses briefly instead of spinning through every key.
import { keyId, type DiscoverKey } from './keys.js';

/** PollOutcome is what one poll of a key came to. */
export type PollOutcome = 'answered' | 'failed' | 'unreachable';

export interface PollerOptions {
  /** Base re-poll interval after an answer. */
  readonly intervalMs: number;
  /** Up to this much random extra per re-poll, spreading load. */
  readonly jitterMs: number;
  readonly maxInFlight: number;
  /** Scheduling resolution. */
  readonly tickMs?: number;
  /** Pause after an `unreachable` outcome before sending again. */
  readonly pauseMs?: number;
  readonly random?: () => number;
  /** Sends the key's request and applies the answer. Must not reject. */
  readonly poll: (key: DiscoverKey) => Promise<PollOutcome>;
}

interface Entry {
  readonly key: DiscoverKey;
  state: 'scheduled' | 'ready' | 'inflight';
  slot: number;
  removed: boolean;
}

/** Poller owns the schedule of a set of keys; it knows nothing of what an answer means. */
export class Poller {
  private readonly entries = new Map<string, Entry>();
  private readonly slots = new Map<number, Set<string>>();
  private readonly ready = new Set<string>();
  private readonly tickMs: number;
  private readonly pauseMs: number;
  private readonly random: () => number;
  private inFlight = 0;
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private pumpQueued = false;
  private running = false;

  constructor(private readonly opts: PollerOptions) {
    this.tickMs = opts.tickMs ?? 50;
    this.pauseMs = opts.pauseMs ?? 250;
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
    this.queuePump();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** add starts polling a key now; adding a known key does nothing. */
  add(key: DiscoverKey): void {
    const id = keyId(key);
    if (this.entries.has(id)) return;
    this.entries.set(id, { key, state: 'ready', slot: 0, removed: false });
    this.ready.add(id);
    this.queuePump();
  }

  /** remove stops polling a key; an answer already in flight is still delivered to `poll`'s caller. */
  remove(id: string): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    e.removed = true;
    this.entries.delete(id);
    this.ready.delete(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  isInFlight(id: string): boolean {
    return this.entries.get(id)?.state === 'inflight';
  }

  get size(): number {
    return this.entries.size;
  }

  private schedule(id: string, e: Entry, at: number): void {
    const slot = Math.ceil(at / this.tickMs);
    e.state = 'scheduled';
    e.slot = slot;
    let set = this.slots.get(slot);
    if (set === undefined) this.slots.set(slot, (set = new Set()));
    set.add(id);
  }

  private tick(): void {
    const nowSlot = Math.floor(Date.now() / this.tickMs);
    for (const [slot, ids] of this.slots) {
      if (slot > nowSlot) continue;
      this.slots.delete(slot);
      for (const id of ids) {
        const e = this.entries.get(id);
        if (e === undefined || e.state !== 'scheduled' || e.slot !== slot) continue;
        e.state = 'ready';
        this.ready.add(id);
      }
    }
    this.pump();
  }

  private queuePump(): void {
    if (this.pumpQueued || !this.running) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.running || Date.now() < this.pausedUntil) return;
    for (const id of this.ready) {
      if (this.inFlight >= this.opts.maxInFlight || Date.now() < this.pausedUntil) break;
      this.ready.delete(id);
      const e = this.entries.get(id);
      if (e === undefined) continue;
      e.state = 'inflight';
      this.inFlight++;
      void this.opts.poll(e.key).then(
        (outcome) => this.done(id, e, outcome),
        () => this.done(id, e, 'failed'),
      );
    }
  }

  private done(id: string, e: Entry, outcome: PollOutcome): void {
    this.inFlight--;
    if (!e.removed) {
      if (outcome === 'unreachable') {
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + this.pauseMs);
        e.state = 'ready';
        this.ready.add(id);
      } else {
        this.schedule(id, e, Date.now() + this.opts.intervalMs + this.random() * this.opts.jitterMs);
      }
    }
    this.queuePump();
  }
}
