// WakeIndex: which streams a node group's new snapshot concerns. A stream that names a few
// resources of a type (an on-demand sidecar's virtual hosts, clusters, assignments) is indexed by
// those names and woken only when one of them changed, appeared or went away; one whose wildcard
// covers a type, when that type's wildcard part changed; every other stream (SotW, long name
// lists) on every change. Each indexed name keeps the version it resolved to when last looked at,
// and a change looks each name up once per group, not once per stream. Names are looked up, not
// diffed: on-demand virtual hosts resolve lazily and a set cannot list them (translate/on-demand.ts).
// A stream that is not woken keeps its last snapshot: whenever it acts (a request, an ACK, a
// timer) it first catches up with its group's current one (stream.ts), so nothing it asks for is
// answered from an old snapshot. One index per server; streams leave it when they close.
import type { TypeUrl } from '../resource.js';
import { lookup, type Snapshot } from '../snapshot.js';
import { FEW_NAMES, type TypeSetViews } from './stream-state.js';
import type { SnapshotFeed } from './watcher.js';

/** Wakeable is what the index knows of a stream. */
export interface Wakeable {
  /** wake tells the stream its group's snapshot changed in a way that may concern it. */
  wake(): void;
}

// Woken streams run back to back for at most this long, then yield to the event loop (a push of
// large responses to thousands of streams must not hold off I/O for seconds, nor write more than
// the pending-bytes budget holds before HTTP/2 flushes any of it). The slice is one per turn of the
// event loop, shared by every group announced in that turn.
const WAKE_SLICE_MS = 100;

interface TypeEntry {
  readonly wildcard: boolean;
  /** The indexed names; undefined when there are too many to index (the stream is then always woken). */
  readonly names: ReadonlySet<string> | undefined;
}

interface StreamEntry {
  readonly stream: Wakeable;
  readonly feed: FeedEntry;
  /** Woken on every change, whatever it names (SotW). */
  readonly always: boolean;
  readonly types: Map<TypeUrl, TypeEntry>;
  queued: boolean;
  dropped: boolean;
}

interface NameEntry {
  readonly streams: Set<StreamEntry>;
  /** The version the name resolved to when last looked at (MISSING_VERSION: nothing). */
  version: string;
}

const MISSING_VERSION = '';

interface FeedEntry {
  readonly key: SnapshotFeed;
  readonly unsubscribe: () => void;
  readonly members: Set<StreamEntry>;
  /** Streams woken on every change. */
  readonly always: Set<StreamEntry>;
  /** Per type, streams whose wildcard covers it. */
  readonly wildcard: Map<TypeUrl, Set<StreamEntry>>;
  /** Per type, name → streams that subscribe to it and the name's last version. */
  readonly byName: Map<TypeUrl, Map<string, NameEntry>>;
}

export class WakeIndex {
  private readonly feeds = new Map<SnapshotFeed, FeedEntry>();
  private readonly streams = new Map<Wakeable, StreamEntry>();
  private readonly due: StreamEntry[] = [];
  private dueHead = 0;
  // A drain is running or scheduled: woken streams join its queue.
  private draining = false;
  // When this turn's slice began; undefined once the turn is over.
  private sliceStart: number | undefined;

  constructor(
    private readonly views: TypeSetViews,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** track adds a stream that follows `feed`; `always` streams are woken on every change. */
  track(stream: Wakeable, feed: SnapshotFeed, always: boolean): void {
    if (this.streams.has(stream)) return;
    let f = this.feeds.get(feed);
    if (!f) {
      let entry: FeedEntry | undefined;
      const unsubscribe = feed.subscribe((before, after) => entry && this.announce(entry, before, after));
      entry = {
        key: feed,
        unsubscribe,
        members: new Set(),
        always: new Set(),
        wildcard: new Map(),
        byName: new Map(),
      };
      f = entry;
      this.feeds.set(feed, f);
    }
    const e: StreamEntry = { stream, feed: f, always, types: new Map(), queued: false, dropped: false };
    this.streams.set(stream, e);
    f.members.add(e);
    if (always) f.always.add(e);
  }

  /**
   * follow records a type's subscription after a request changed it: whether its wildcard covers
   * the type, and the names it subscribes to.
   */
  follow(stream: Wakeable, typeUrl: TypeUrl, wildcard: boolean, names: ReadonlySet<string>): void {
    const e = this.streams.get(stream);
    if (!e) return;
    const f = e.feed;
    const prev = e.types.get(typeUrl);
    const indexed = names.size <= FEW_NAMES ? names : undefined;
    // Most requests (ACKs) leave the subscription as it was.
    if (prev?.wildcard === wildcard && (indexed ? sameNames(prev.names, indexed) : !prev.names)) return;
    if (prev?.wildcard !== wildcard) {
      if (wildcard) setOf(f.wildcard, typeUrl).add(e);
      else removeFrom(f.wildcard, typeUrl, e);
    }
    const byName = prev?.names || indexed ? mapOf(f.byName, typeUrl) : undefined;
    if (prev?.names) {
      for (const n of prev.names) if (!indexed?.has(n)) unindex(byName!, n, e);
    }
    if (indexed) {
      // A name new to the group starts at what it resolves to now: the stream is sent that (it
      // catches up with the current snapshot before it answers), and later changes are measured from it.
      const now = f.key.current();
      for (const n of indexed) {
        if (prev?.names?.has(n)) continue;
        let entry = byName!.get(n);
        if (!entry) byName!.set(n, (entry = { streams: new Set(), version: versionIn(now, typeUrl, n) }));
        entry.streams.add(e);
      }
    }
    if (byName?.size === 0) f.byName.delete(typeUrl);
    e.types.set(typeUrl, { wildcard, names: indexed && new Set(indexed) });
    if (e.always || [...e.types.values()].some((t) => !t.names)) f.always.add(e);
    else f.always.delete(e);
  }

  /** drop removes a stream (it closed); its group's entry goes with its last stream. */
  drop(stream: Wakeable): void {
    const e = this.streams.get(stream);
    if (!e) return;
    e.dropped = true;
    this.streams.delete(stream);
    const f = e.feed;
    f.members.delete(e);
    f.always.delete(e);
    for (const [typeUrl, t] of e.types) {
      if (t.wildcard) removeFrom(f.wildcard, typeUrl, e);
      const byName = f.byName.get(typeUrl);
      if (t.names && byName) {
        for (const n of t.names) unindex(byName, n, e);
        if (byName.size === 0) f.byName.delete(typeUrl);
      }
    }
    if (f.members.size === 0) {
      f.unsubscribe();
      this.feeds.delete(f.key);
    }
  }

  /** size counts what the index holds: followed groups, streams, and (type, name) entries. */
  size(): { readonly feeds: number; readonly streams: number; readonly names: number } {
    let names = 0;
    for (const f of this.feeds.values()) for (const m of f.byName.values()) names += m.size;
    return { feeds: this.feeds.size, streams: this.streams.size, names };
  }

  /** announce queues the streams a group's change concerns and wakes them (the feed calls it on a later tick). */
  private announce(f: FeedEntry, before: Snapshot | undefined, after: Snapshot): void {
    this.concerned(f, before, after);
    if (!this.draining && this.dueHead < this.due.length) this.drain();
  }

  private concerned(f: FeedEntry, before: Snapshot | undefined, after: Snapshot): void {
    if (!before) {
      for (const e of f.members) this.queue(e);
      return;
    }
    for (const e of f.always) this.queue(e);
    for (const [typeUrl, streams] of f.wildcard) {
      const b = before.resources[typeUrl];
      const a = after.resources[typeUrl];
      if (b?.version === a?.version) continue;
      const d = b && a ? this.views.diff(b, a) : undefined;
      if (!d || d.changed.length > 0 || d.added.length > 0 || d.removed.length > 0)
        for (const e of streams) this.queue(e);
    }
    for (const [typeUrl, byName] of f.byName) {
      const b = before.resources[typeUrl];
      const a = after.resources[typeUrl];
      if (b?.version === a?.version) continue;
      for (const [n, entry] of byName) {
        const version = versionIn(after, typeUrl, n);
        if (version === entry.version) continue;
        entry.version = version;
        for (const e of entry.streams) this.queue(e);
      }
    }
  }

  private queue(e: StreamEntry): void {
    if (e.queued || e.dropped) return;
    e.queued = true;
    this.due.push(e);
  }

  private readonly drain = (): void => {
    this.draining = true;
    // Groups announced one after another in one turn drain one after another: they share its slice.
    if (this.sliceStart === undefined) {
      this.sliceStart = this.now();
      setImmediate(this.endSlice);
    }
    while (this.dueHead < this.due.length) {
      if (this.now() - this.sliceStart >= WAKE_SLICE_MS) {
        // After endSlice (scheduled first), so the rest starts a slice of its own.
        setImmediate(this.drain);
        return;
      }
      const e = this.due[this.dueHead++]!;
      e.queued = false;
      if (!e.dropped) e.stream.wake();
    }
    this.due.length = 0;
    this.dueHead = 0;
    this.draining = false;
  };

  private readonly endSlice = (): void => {
    this.sliceStart = undefined;
  };
}

function setOf<K, V>(m: Map<K, Set<V>>, k: K): Set<V> {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  return s;
}

function mapOf<K, K2, V>(m: Map<K, Map<K2, V>>, k: K): Map<K2, V> {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Map()));
  return s;
}

function sameNames(a: ReadonlySet<string> | undefined, b: ReadonlySet<string>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const n of b) if (!a.has(n)) return false;
  return true;
}

function versionIn(snapshot: Snapshot | undefined, typeUrl: TypeUrl, name: string): string {
  const set = snapshot?.resources[typeUrl];
  return (set && lookup(set, name)?.version) ?? MISSING_VERSION;
}

function unindex(byName: Map<string, NameEntry>, name: string, e: StreamEntry): void {
  const entry = byName.get(name);
  if (!entry) return;
  entry.streams.delete(e);
  if (entry.streams.size === 0) byName.delete(name);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}
