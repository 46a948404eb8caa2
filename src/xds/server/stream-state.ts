// Per-stream, per-type state shared by SotW and Delta: which names the client wants (explicit
// names, wildcard, legacy wildcard), what it holds, what it must be sent again, what is held back
// for make-before-break, and whether a response is due. The protocols (sotw.ts, delta.ts), the
// removal guard (retain.ts), the warming gate (warming.ts) and the stream (stream.ts) change it
// only through the operations below; TypeSetViews keeps what every stream of a server shares.
// Rules:
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#how-the-client-specifies-what-resources-to-return
import { compareKeys } from '../../model/mesh.js';
import { diffMaps, type ResourceMap } from '../resource-map.js';
import { supportsWildcard, type TypeUrl } from '../resource.js';
import { lookup, namesOf, type EncodedResource, type TypeResources } from '../snapshot.js';
import { AckState, type SentRecord } from './ack.js';
import type { SharedNames } from './decode.js';

/** WILDCARD is the resource name that subscribes to whatever the server decides a node needs. */
export const WILDCARD = '*';

/**
 * A subscription of at most this many names is checked name by name when a snapshot changes
 * (TypeState.touchedBy), and indexed by name (wake-index.ts); a bigger one is visited on every change.
 */
export const FEW_NAMES = 64;

/** MISSING, as a held version, means the client was told (Delta `removed_resources`) the name does not exist. */
export const MISSING = '';

/** SubscriptionChange lists the names (and `*`) a request added to and removed from the subscription. */
export interface SubscriptionChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** SetDiff is what changed between two type sets of one type. */
export interface SetDiff {
  /** Names in both sets whose versions differ. */
  readonly changed: readonly string[];
  /** Resources of the second set that the first lacks. */
  readonly added: readonly EncodedResource[];
  /** Names of the first set that the second lacks. */
  readonly removed: readonly string[];
}

const sameVersion = (a: EncodedResource, b: EncodedResource): boolean => a.version === b.version;

/**
 * TypeSetViews are views of snapshot type sets computed once and shared by every stream of one
 * server: a set's resources as one name-ordered array, and what changed between two sets. Entries
 * hang off the sets (WeakMap) and go with them.
 */
export class TypeSetViews {
  private readonly diffs = new WeakMap<TypeResources, { readonly next: TypeResources; readonly diff: SetDiff }>();
  private readonly lists = new WeakMap<TypeResources, readonly EncodedResource[]>();

  /**
   * diff is what changed from `prev` to `next`, computed once per pair and shared by every stream
   * that held the first and now gets the second: a push then costs per change, not per stream × set.
   */
  diff(prev: TypeResources, next: TypeResources): SetDiff {
    const hit = this.diffs.get(prev);
    if (hit?.next === next) return hit.diff;
    const d = diffMaps(prev.items, next.items, sameVersion);
    const diff: SetDiff = { changed: d.changed, added: d.added.map(([, r]) => r), removed: d.removed };
    this.diffs.set(prev, { next, diff });
    return diff;
  }

  /** wholeList is every resource of a set in name order, one array per set, shared by wildcard streams. */
  wholeList(resources: TypeResources): readonly EncodedResource[] {
    let list = this.lists.get(resources);
    if (!list) this.lists.set(resources, (list = [...resources.items.values()]));
    return list;
  }
}

/**
 * Subscription is the set of names one type is subscribed to on one stream. Legacy wildcard: a
 * type whose requests never named anything is `*`; once a name (even `*`) was sent, an empty SotW
 * list means "nothing". Only the stream that owns it mutates it.
 */
export class Subscription {
  private wildcardOn = false;
  private named = false;
  // Envoy names every cluster's assignment in its EDS subscription: thousands of names per
  // stream. When they are exactly a snapshot set's names, that set's name Set is used instead
  // (copied on the next change), so a stream keeps no names of its own.
  private explicit: ReadonlySet<string> = new Set<string>();
  private owned = true;
  private lastShared?: SharedNames;

  /** wildcard is true while `*` (explicit or legacy) is subscribed. */
  get wildcard(): boolean {
    return this.wildcardOn;
  }

  /** names are the explicitly subscribed names, `*` excluded. Not to be modified. */
  get names(): ReadonlySet<string> {
    return this.explicit;
  }

  /** everNamed is true once a request of this type named anything, which ends legacy wildcard. */
  get everNamed(): boolean {
    return this.named;
  }

  /**
   * namesAre says whether the explicit names are exactly `names` (a snapshot set's name Set); when
   * they are, that Set stands for them from now on, until the subscription changes.
   */
  namesAre(names: ReadonlySet<string>): boolean {
    if (this.explicit === names) return true;
    if (this.explicit.size !== names.size) return false;
    for (const n of this.explicit) if (!names.has(n)) return false;
    this.explicit = names;
    this.owned = false;
    return true;
  }

  private mutable(): Set<string> {
    if (!this.owned) {
      this.explicit = new Set(this.explicit);
      this.owned = true;
    }
    return this.explicit as Set<string>;
  }

  /** covers says whether `name` is subscribed explicitly, or through a wildcard the type supports. */
  covers(name: string, typeUrl: TypeUrl): boolean {
    return this.explicit.has(name) || (this.wildcardOn && supportsWildcard(typeUrl));
  }

  /**
   * applySotw takes a SotW request's full `resource_names` list (and the decoder's SharedNames when
   * the list is one). Sequence from the protocol doc: [] → `*`; [*, A] → `*` + A; [A] → A;
   * [] → nothing (not wildcard again).
   */
  applySotw(names: readonly string[], shared?: SharedNames): SubscriptionChange {
    // The same shared list as last time: applying it again changes nothing.
    if (shared !== undefined && shared === this.lastShared) return { added: [], removed: [] };
    this.lastShared = shared;
    const added: string[] = [];
    const removed: string[] = [];
    let wildcard: boolean;
    if (names.length === 0) {
      wildcard = !this.named;
    } else {
      this.named = true;
      wildcard = names.includes(WILDCARD);
    }
    if (wildcard && !this.wildcardOn) added.push(WILDCARD);
    if (!wildcard && this.wildcardOn) removed.push(WILDCARD);
    this.wildcardOn = wildcard;
    // An ACK repeats the names it had: nothing to change, nothing to copy.
    const count = names.length - (wildcard && names.length > 0 ? 1 : 0);
    if (count === this.explicit.size && names.every((n) => n === WILDCARD || this.explicit.has(n))) {
      return { added, removed };
    }
    const next = new Set<string>();
    for (const n of names) if (n !== WILDCARD) next.add(n);
    for (const n of this.explicit) if (!next.has(n)) removed.push(n);
    for (const n of next) if (!this.explicit.has(n)) added.push(n);
    this.explicit = next;
    this.owned = true;
    return { added, removed };
  }

  /**
   * applyDelta takes a Delta request's subscribe and unsubscribe lists. Sequence from the protocol
   * doc: first request with nothing to subscribe → `*`; +A → `*` + A; -`*` → A; -A → nothing.
   * Subscribing is applied before unsubscribing; phantom unsubscribes are ignored.
   */
  applyDelta(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): SubscriptionChange {
    this.lastShared = undefined;
    const added: string[] = [];
    const removed: string[] = [];
    if (first && subscribe.length === 0 && !this.named) {
      this.wildcardOn = true;
      added.push(WILDCARD);
    }
    if (subscribe.length > 0) this.named = true;
    for (const n of subscribe) {
      if (n === WILDCARD) {
        if (!this.wildcardOn) added.push(WILDCARD);
        this.wildcardOn = true;
      } else if (!this.explicit.has(n)) {
        this.mutable().add(n);
        added.push(n);
      }
    }
    for (const n of unsubscribe) {
      if (n === WILDCARD) {
        if (this.wildcardOn) removed.push(WILDCARD);
        this.wildcardOn = false;
      } else if (this.explicit.has(n)) {
        this.mutable().delete(n);
        removed.push(n);
      }
    }
    return { added, removed };
  }
}

/**
 * Held is what the client holds as far as the server knows: name → resource version (MISSING for
 * names it was told do not exist). A client known to hold exactly a snapshot type set holds it by
 * reference, so a push to many streams copies nothing per stream; reading or changing single
 * entries turns it into entries of its own first.
 */
class Held {
  private readonly entries = new Map<string, string>();
  private set?: TypeResources;

  /** wholeSet is the snapshot type set the client holds exactly, if it does. */
  get wholeSet(): TypeResources | undefined {
    return this.set;
  }

  version(name: string): string | undefined {
    this.own();
    return this.entries.get(name);
  }

  /** peek is version(name) without taking a held set apart into entries. */
  peek(name: string): string | undefined {
    return this.set ? this.set.items.get(name)?.version : this.entries.get(name);
  }

  /** versions are every entry, name → version (MISSING included). */
  versions(): ReadonlyMap<string, string> {
    this.own();
    return this.entries;
  }

  holds(name: string): boolean {
    if (this.set) return this.set.items.has(name);
    const v = this.entries.get(name);
    return v !== undefined && v !== MISSING;
  }

  count(): number {
    if (this.set) return this.set.items.size;
    let n = 0;
    for (const v of this.entries.values()) if (v !== MISSING) n++;
    return n;
  }

  record(name: string, version: string): void {
    this.own();
    this.entries.set(name, version);
  }

  forget(name: string): void {
    this.own();
    this.entries.delete(name);
  }

  /** clear forgets everything: the client holds nothing of the type. */
  clear(): void {
    this.set = undefined;
    this.entries.clear();
  }

  /** holdSet says the client now holds exactly `set`. */
  holdSet(set: TypeResources): void {
    this.entries.clear();
    this.set = set;
  }

  /** prune forgets the names `keep` rejects. */
  prune(keep: (name: string) => boolean): void {
    this.own();
    for (const n of this.entries.keys()) if (!keep(n)) this.entries.delete(n);
  }

  private own(): void {
    const set = this.set;
    if (!set) return;
    this.set = undefined;
    this.entries.clear();
    for (const [n, r] of set.items) this.entries.set(n, r.version);
  }
}

/**
 * TypeState is everything a stream keeps for one type: the subscription, what the client holds,
 * names to send even if held, resources held back for make-before-break, the pending flag the
 * writer drains, ACK bookkeeping (`ack`) and counters. Only the owning stream uses it.
 */
export class TypeState {
  readonly ack = new AckState();
  private readonly sub = new Subscription();
  private readonly held = new Held();
  /** Names the next response carries even if the client holds them (new subscriptions, warming). */
  private readonly forced = new Set<string>();
  /** Resources removed from the snapshot but kept for this client until routes stop naming them. */
  private readonly retainedResources = new Map<string, EncodedResource>();
  private requestCount = 0;
  private responseCount = 0;
  private resourceCount = 0;
  private removalCount = 0;
  // The highest content nonce id this type was sent under (shared-responses.ts).
  private lastContentId = 0;
  // True from the first request until a response (or the decision that none is due) follows it.
  private firstDue = false;
  private pendingFlag = false;
  private pendingSinceAt = 0;

  constructor(
    readonly typeUrl: TypeUrl,
    /** The server's shared views of type sets. */
    readonly views: TypeSetViews = new TypeSetViews(),
  ) {}

  // ---------------------------------------------------------------- requests and subscription

  /** noteRequest counts a request of this type and says whether it was the first; the first is always answered. */
  noteRequest(): boolean {
    const first = this.requestCount === 0;
    this.requestCount++;
    if (first) this.firstDue = true;
    return first;
  }

  /** requests is how many requests of this type the stream has seen. */
  get requests(): number {
    return this.requestCount;
  }

  applySotw(names: readonly string[], shared?: SharedNames): SubscriptionChange {
    return this.sub.applySotw(names, shared);
  }

  applyDelta(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): SubscriptionChange {
    return this.sub.applyDelta(subscribe, unsubscribe, first);
  }

  /** wildcard is true while `*` is subscribed (explicitly or as legacy wildcard). */
  get wildcard(): boolean {
    return this.sub.wildcard;
  }

  /** wildcardCovers is true while `*` is subscribed and means something for this type (LDS, CDS). */
  get wildcardCovers(): boolean {
    return this.sub.wildcard && supportsWildcard(this.typeUrl);
  }

  /** subscribedNames are the explicitly subscribed names, `*` excluded. Not to be modified. */
  get subscribedNames(): ReadonlySet<string> {
    return this.sub.names;
  }

  /** inScope says whether the client's subscription covers `name` right now. */
  inScope(name: string): boolean {
    return this.sub.covers(name, this.typeUrl);
  }

  /** prune forgets held, forced, retained and parked names the subscription no longer covers. */
  prune(): void {
    const keep = (n: string): boolean => this.inScope(n);
    this.held.prune(keep);
    for (const n of this.forced) if (!keep(n)) this.forced.delete(n);
    for (const n of this.retainedResources.keys()) if (!keep(n)) this.retainedResources.delete(n);
    this.ack.pruneParked(keep);
  }

  // ---------------------------------------------------------------- what the client holds

  /** heldSet is the snapshot type set the client holds exactly, if it does (held by reference). */
  get heldSet(): TypeResources | undefined {
    return this.held.wholeSet;
  }

  /** heldVersion is the version of `name` the client holds, MISSING if told it does not exist, or undefined. */
  heldVersion(name: string): string | undefined {
    return this.held.version(name);
  }

  /** heldVersions are every name the client holds or was told is missing, with its version. */
  heldVersions(): ReadonlyMap<string, string> {
    return this.held.versions();
  }

  /** holds says whether the client holds `name` (at any version) as far as the server knows. */
  holds(name: string): boolean {
    return this.held.holds(name);
  }

  /** heldCount is how many resources the client holds. */
  heldCount(): number {
    return this.held.count();
  }

  /** holdsInitially records what a Delta client said it holds on its first request (initial_resource_versions). */
  holdsInitially(name: string, version: string): void {
    this.held.record(name, version);
  }

  // ---------------------------------------------------------------- sent again, held back

  /** force makes the next response carry `name` even if the client holds it. */
  force(name: string): void {
    this.forced.add(name);
  }

  /** forcedNames are the names the next response carries even if held. Not to be modified. */
  get forcedNames(): ReadonlySet<string> {
    return this.forced;
  }

  /** retain keeps `resource` for this client after the snapshot dropped it (make-before-break). */
  retain(resource: EncodedResource): void {
    this.retainedResources.set(resource.name, resource);
  }

  /** isRetained says whether `name` is held back for this client. */
  isRetained(name: string): boolean {
    return this.retainedResources.has(name);
  }

  /** retainedCount is how many removed resources are held back for this client. */
  get retainedCount(): number {
    return this.retainedResources.size;
  }

  /** unretainPresent stops holding back names `set` has again (by name too: on-demand clusters). */
  unretainPresent(set: TypeResources): void {
    for (const n of this.retainedResources.keys()) if (lookup(set, n)) this.retainedResources.delete(n);
  }

  /** releaseRetained lets every held-back removal go; it says whether there were any. */
  releaseRetained(): boolean {
    if (this.retainedResources.size === 0) return false;
    this.retainedResources.clear();
    return true;
  }

  // ---------------------------------------------------------------- what a new snapshot changes for this client

  /**
   * touchedBy says whether moving from type set `before` to `after` may change what a Delta client
   * that names few resources is due: false only when nothing is owed (no forced, held-back or
   * parked names, first response sent), the wildcard part (if any) is the same map, and every
   * subscribed name resolves in `after` to the version the client holds. On-demand sidecars name a
   * handful of the mesh's resources, so a change elsewhere costs them these lookups and no plan.
   * Anything it cannot rule out cheaply counts as touched (the plan then decides).
   */
  touchedBy(before: TypeResources, after: TypeResources): boolean {
    if (this.pendingFlag || this.firstDue || this.forced.size > 0 || this.retainedResources.size > 0) return true;
    if (this.ack.parkedCount > 0) return true;
    if (this.wildcardCovers && before.items !== after.items) return true;
    const names = this.sub.names;
    if (names.size > FEW_NAMES) return true;
    for (const n of names) {
      const held = this.held.peek(n);
      const r = lookup(after, n);
      // Gone or never there: due unless the client was told it is missing.
      if (r ? r.version !== held : held !== MISSING) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- responses

  /** firstResponseDue is true until the first response of this type is sent (or found not due). */
  get firstResponseDue(): boolean {
    return this.firstDue;
  }

  /**
   * desired is what the client should hold of this type: every subscribed name with its resource,
   * or undefined for an explicitly named resource that does not exist. Wildcard covers the whole
   * type only for types where wildcard means something (LDS, CDS). Retained resources stand in for
   * names the snapshot dropped. When that is exactly the snapshot set, its own map is returned
   * (the caller can tell by identity). Iteration order is unspecified; responses sort by name.
   */
  desired(resources: TypeResources): ResourceMap<EncodedResource | undefined> {
    const wildcard = this.wildcardCovers;
    const names = this.sub.names;
    const retained = this.retainedResources;
    // The common case (Envoy's wildcard LDS/CDS) shares the snapshot's own map: no per-stream copy.
    if (wildcard && names.size === 0 && retained.size === 0) return resources.items;
    // So does Envoy's EDS: it names exactly the snapshot's set. Sizes first, so a mismatch costs
    // nothing; once seen equal, the subscription uses the set's names and later checks are one comparison.
    const sameSize = !wildcard && retained.size === 0 && names.size === resources.items.size;
    if (sameSize && this.sub.namesAre(namesOf(resources))) return resources.items;
    const out = new Map<string, EncodedResource | undefined>();
    if (wildcard) for (const [n, r] of resources.items) out.set(n, r);
    for (const n of names) if (!out.has(n)) out.set(n, lookup(resources, n) ?? retained.get(n));
    for (const [n, r] of retained) if (!out.has(n) && (wildcard || names.has(n))) out.set(n, r);
    return out;
  }

  /** nothingDue records that a plan found no response due: forced names and the first-response duty are settled. */
  nothingDue(): void {
    this.forced.clear();
    this.firstDue = false;
  }

  /** parked records that the only response due was one the client rejected before: forced names are dropped. */
  parked(): void {
    this.forced.clear();
  }

  /**
   * sent records a response written under `record.nonce`. `holds` is what the client holds now:
   * a whole snapshot set (by reference), or per-name changes — `full` for a SotW full-state type,
   * whose response replaces everything held; names in `missing` are recorded as told missing
   * (MISSING) and names in `gone` forgotten.
   */
  sent(record: SentRecord, holds: SentHolds): void {
    if ('set' in holds) {
      this.held.holdSet(holds.set);
    } else {
      if (holds.full) this.held.clear();
      for (const r of holds.resources) this.held.record(r.name, r.version);
      for (const n of holds.missing ?? []) this.held.record(n, MISSING);
      for (const n of holds.gone ?? []) this.held.forget(n);
      if (holds.thenSet) this.held.holdSet(holds.thenSet);
    }
    this.forced.clear();
    this.firstDue = false;
    this.ack.recordSent(record);
  }

  /** claimContent says whether content id `id` is newer than any this type was sent under, and notes it. */
  claimContent(id: number): boolean {
    if (id <= this.lastContentId) return false;
    this.lastContentId = id;
    return true;
  }

  /** countResponse counts a response written and the resources and removals it carried. */
  countResponse(resources: number, removals: number): void {
    this.responseCount++;
    this.resourceCount += resources;
    this.removalCount += removals;
  }

  /** counts are the type's response counters, for /debug/syncz. */
  get counts(): { readonly responses: number; readonly resourcesSent: number; readonly removalsSent: number } {
    return { responses: this.responseCount, resourcesSent: this.resourceCount, removalsSent: this.removalCount };
  }

  // ---------------------------------------------------------------- pending

  /** markPending flags the type for the writer, keeping the oldest time for push-time metrics. */
  markPending(now: number): void {
    if (!this.pendingFlag) this.pendingSinceAt = now;
    this.pendingFlag = true;
  }

  /** pending is true while a response may be due; the writer computes it from the latest snapshot when it can write. */
  get pending(): boolean {
    return this.pendingFlag;
  }

  /** pendingSince is when the type became pending. */
  get pendingSince(): number {
    return this.pendingSinceAt;
  }

  /** takePending clears the pending flag: the writer is computing the response now. */
  takePending(): void {
    this.pendingFlag = false;
  }

  /** keepPending puts back a response that could not be written yet, keeping when it became due. */
  keepPending(): void {
    this.pendingFlag = true;
  }
}

/**
 * SentHolds is what the client holds after a response: exactly a snapshot set, or changes to what
 * it held (see TypeState.sent).
 */
export type SentHolds =
  | { readonly set: TypeResources }
  | {
      readonly full?: boolean;
      readonly resources: readonly EncodedResource[];
      readonly missing?: readonly string[];
      readonly gone?: readonly string[];
      /** After the changes, the client holds exactly this set (Delta, nothing held back). */
      readonly thenSet?: TypeResources;
    };

/** byName orders resources by name, the order every response uses (invariant 1). */
export function byName(a: EncodedResource, b: EncodedResource): number {
  return compareKeys(a.name, b.name);
}
