// SnapshotCache implements the server's ConfigWatcher on top of a stream of MeshStates: it groups
// nodes by what they are served (NodeView.key), builds one snapshot per group, and announces its
// changes on the group's feed (the server wakes the streams they concern). Mesh changes are
// debounced: a quiet period, bounded by a maximum delay, so a burst of registry events becomes one
// push. Every new snapshot is checked (snapshot.ts ConsistencyCheck) before it is published: one
// whose references do not resolve is a translation bug, and the group keeps its last good snapshot
// meanwhile.
import type { Node } from '../gen/envoy/config/core/v3/base.js';
import type { Logger } from '../log.js';
import type { MeshState } from '../model/mesh.js';
import { parseNode, type NodeInfo } from './node.js';
import { PUSH_ORDER } from './resource.js';
import { FeedAnnouncer, GroupFeed } from './server/feed.js';
import type { ConfigWatcher, NodeWatch, SnapshotFeed, WatchOptions } from './server/watcher.js';
import { ConsistencyCheck, type Snapshot } from './snapshot.js';

/** Translation is what one translation pass yields for one group. */
export interface Translation {
  readonly snapshot: Snapshot;
  readonly skipped: readonly unknown[];
}

/** Translator is the part of the translator this cache needs. */
export interface Translator<V extends { readonly key: string }> {
  nodeView(node: NodeInfo): V;
  translate(mesh: MeshState, view: V): Translation;
}

export interface SnapshotCacheOptions<V extends { readonly key: string }> {
  readonly translator: Translator<V>;
  readonly logger: Logger;
  readonly debounceMs: number;
  readonly debounceMaxMs: number;
  /**
   * Milliseconds on a monotonic clock (default `performance.now`). Timers are the global ones,
   * looked up at each call, so tests drive both with `t.mock.timers` and a `now` reading `Date.now`.
   */
  readonly now?: () => number;
  /** Called after each rebuild with the time it took, for metrics. */
  readonly onBuild?: (info: { groups: number; millis: number }) => void;
  /** Called when a group's new snapshot is refused as inconsistent, for metrics. */
  readonly onRefused?: (info: { group: string; errors: readonly string[] }) => void;
}

/** Refusal is why a group's newest snapshot was not published; the group keeps its last good one. */
export interface Refusal {
  /** Epoch milliseconds. */
  readonly at: number;
  readonly errors: readonly string[];
}

interface Group<V> {
  readonly view: V;
  readonly watches: Set<GroupWatch<V>>;
  /** Announces the group's changes once to the server, which wakes the streams they concern. */
  readonly feed: GroupFeed;
  translation?: Translation;
  /** Set while the group's newest translation is refused (inconsistent). */
  refused?: Refusal;
}

class GroupWatch<V> implements NodeWatch {
  closed = false;
  constructor(
    readonly group: Group<V>,
    readonly node: NodeInfo,
    private readonly release: (w: GroupWatch<V>) => void,
  ) {}
  current(): Snapshot | undefined {
    return this.group.translation?.snapshot;
  }
  get feed(): SnapshotFeed {
    return this.group.feed;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release(this);
  }
}

function sameSnapshot(a: Snapshot | undefined, b: Snapshot): boolean {
  return !!a && PUSH_ORDER.every((t) => a.resources[t].version === b.resources[t].version);
}

/** SnapshotCache is the ConfigWatcher the xDS server is given. */
export class SnapshotCache<V extends { readonly key: string }> implements ConfigWatcher {
  private readonly groups = new Map<string, Group<V>>();
  private mesh?: MeshState;
  private quietTimer?: NodeJS.Timeout;
  private maxTimer?: NodeJS.Timeout;
  private leading?: NodeJS.Immediate;
  private lastRebuild = -Infinity;
  private readonly consistency = new ConsistencyCheck();
  private readonly announcer = new FeedAnnouncer();

  private readonly now: () => number;

  constructor(private readonly opts: SnapshotCacheOptions<V>) {
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * setMesh takes a new MeshState. A change after a quiet spell is applied on the next tick; one
   * that follows a rebuild within `debounceMs` waits for the burst to go quiet (at most
   * `debounceMaxMs`), so a lone change costs no wait and a burst becomes few pushes.
   */
  setMesh(mesh: MeshState): void {
    const first = this.mesh === undefined;
    this.mesh = mesh;
    if (first) {
      this.rebuild();
      return;
    }
    // A rebuild is due on the next tick; it will read this mesh.
    if (this.leading !== undefined) return;
    if (this.quietTimer === undefined && this.now() - this.lastRebuild >= this.opts.debounceMs) {
      this.leading = setImmediate(() => this.rebuild());
      return;
    }
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.rebuild(), this.opts.debounceMs);
    this.maxTimer ??= setTimeout(() => this.rebuild(), this.opts.debounceMaxMs);
  }

  watch(node: Node, opts?: WatchOptions): NodeWatch {
    const parsed = parseNode(node);
    // On demand needs VHDS, which is Delta only: a SotW stream of such a node gets the full state.
    const info = parsed.onDemand && opts?.incremental === false ? { ...parsed, onDemand: false } : parsed;
    const view = this.opts.translator.nodeView(info);
    let group = this.groups.get(view.key);
    if (!group) {
      const g: Group<V> = {
        view,
        watches: new Set(),
        feed: new GroupFeed(
          () => g.translation?.snapshot,
          this.announcer,
          (err) => this.opts.logger.error({ err, group: view.key }, 'snapshot listener failed'),
        ),
      };
      group = g;
      this.groups.set(view.key, group);
      if (this.mesh) this.accept(group, this.translate(group));
    }
    const w = new GroupWatch(group, info, (gw) => this.release(gw));
    group.watches.add(w);
    return w;
  }

  /** groupCount is the number of node groups with at least one open watch. */
  groupCount(): number {
    return this.groups.size;
  }

  /** nodes lists every watched node with its group key, and why its group's newest snapshot was refused if it was. */
  nodes(): Array<{ node: NodeInfo; group: string; refused?: Refusal }> {
    const out: Array<{ node: NodeInfo; group: string; refused?: Refusal }> = [];
    for (const [key, g] of this.groups) {
      for (const w of g.watches) out.push({ node: w.node, group: key, ...(g.refused ? { refused: g.refused } : {}) });
    }
    return out;
  }

  /** translationFor returns the snapshot and skip reasons a node would be served, building it if needed. */
  translationFor(info: NodeInfo): Translation | undefined {
    if (!this.mesh) return undefined;
    const view = this.opts.translator.nodeView(info);
    return this.groups.get(view.key)?.translation ?? this.opts.translator.translate(this.mesh, view);
  }

  /** skipped gathers the skip reasons of every live group, deduplicated. */
  skipped(): unknown[] {
    const seen = new Map<string, unknown>();
    for (const g of this.groups.values()) for (const s of g.translation?.skipped ?? []) seen.set(JSON.stringify(s), s);
    return [...seen.values()];
  }

  stop(): void {
    clearTimeout(this.quietTimer);
    clearTimeout(this.maxTimer);
    clearImmediate(this.leading);
  }

  private release(w: GroupWatch<V>): void {
    const g = w.group;
    g.watches.delete(w);
    // A group with no watches is dropped; its resources stay shared through the translator's memo.
    if (g.watches.size === 0 && this.groups.get(g.view.key) === g) this.groups.delete(g.view.key);
  }

  /**
   * accept makes `next` the group's translation if its snapshot is consistent, and says whether it
   * did; an inconsistent one is logged, counted and shown on /debug/syncz, and the group keeps the
   * last good snapshot (or has none yet).
   */
  private accept(g: Group<V>, next: Translation): boolean {
    if (next === g.translation) return true;
    // The group's last snapshot passed; one with the same names and references passes too.
    if (g.translation && !g.refused && this.consistency.carriesOver(g.translation.snapshot, next.snapshot)) {
      g.translation = next;
      return true;
    }
    // The check remembers what it found per shared set: a snapshot that changed only in versions costs lookups.
    const errors = this.consistency.check(next.snapshot);
    if (errors.length === 0) {
      g.translation = next;
      g.refused = undefined;
      return true;
    }
    g.refused = { at: Date.now(), errors };
    const served = g.translation ? 'the last good snapshot stays' : 'nothing is served to the group yet';
    this.opts.logger.error({ group: g.view.key, errors }, `inconsistent snapshot refused; ${served}`);
    this.opts.onRefused?.({ group: g.view.key, errors });
    return false;
  }

  private translate(group: Group<V>): Translation {
    return this.opts.translator.translate(this.mesh!, group.view);
  }

  private rebuild(): void {
    clearTimeout(this.quietTimer);
    clearTimeout(this.maxTimer);
    clearImmediate(this.leading);
    this.quietTimer = undefined;
    this.maxTimer = undefined;
    this.leading = undefined;
    if (!this.mesh) return;
    this.lastRebuild = this.now();
    const started = this.lastRebuild;
    const changed: Group<V>[] = [];
    for (const g of this.groups.values()) {
      let next: Translation;
      try {
        next = this.translate(g);
      } catch (err) {
        // A translation bug must not take the last good config away from anyone (invariant 5).
        this.opts.logger.error({ err, group: g.view.key }, 'translation failed; keeping the previous snapshot');
        continue;
      }
      const before = g.translation?.snapshot;
      if (!this.accept(g, next)) continue;
      if (!sameSnapshot(before, next.snapshot)) changed.push(g);
    }
    this.opts.onBuild?.({ groups: this.groups.size, millis: this.now() - started });
    for (const g of changed) g.feed.changed();
  }
}
