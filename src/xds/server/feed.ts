// GroupFeed: the SnapshotFeed of one node group, for whatever owns the group's snapshot (the
// snapshot cache, test watchers). The owner says when the snapshot changed; the feed announces it
// on a later tick, once for every listener, however many changes came in between.
import type { Snapshot } from '../snapshot.js';
import type { SnapshotFeed } from './watcher.js';

type FeedListener = (before: Snapshot | undefined, after: Snapshot) => void;

/** FeedAnnouncer runs the announcements of every group that changed in one rebuild on one later tick. */
export class FeedAnnouncer {
  private due: GroupFeed[] = [];

  schedule(feed: GroupFeed): void {
    if (this.due.push(feed) === 1) setImmediate(this.run);
  }

  private readonly run = (): void => {
    const due = this.due;
    this.due = [];
    for (const feed of due) feed.announce();
  };
}

export class GroupFeed implements SnapshotFeed {
  private readonly listeners = new Set<FeedListener>();
  private announced?: Snapshot;
  private scheduled = false;

  constructor(
    /** The group's snapshot now. */
    readonly current: () => Snapshot | undefined,
    private readonly announcer: FeedAnnouncer,
    private readonly onListenerError: (err: unknown) => void = () => {},
  ) {}

  subscribe(listener: FeedListener): () => void {
    // A first listener starts from what the group is served now: what came before is not its concern.
    if (this.listeners.size === 0) this.announced = this.current();
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** changed says the group's snapshot changed: listeners hear of it on a later tick. */
  changed(): void {
    if (this.scheduled || this.listeners.size === 0) return;
    this.scheduled = true;
    this.announcer.schedule(this);
  }

  /** announce tells the listeners of a change since they last heard, if any; the announcer calls it. */
  announce(): void {
    this.scheduled = false;
    const after = this.current();
    const before = this.announced;
    if (!after || after === before) return;
    this.announced = after;
    for (const listener of [...this.listeners]) {
      try {
        listener(before, after);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
