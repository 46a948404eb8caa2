// Per-stream, per-type subscription state shared by SotW and Delta: which names the client wants
// (explicit names, wildcard, legacy wildcard), what it was last sent, and what is pending.
// Rules: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#how-the-client-specifies-what-resources-to-return
import { compareKeys } from '../../model/mesh.js';
import { diffMaps, type ResourceMap } from '../resource-map.js';
import { supportsWildcard, type TypeUrl } from '../resource.js';
import { lookup, namesOf, type EncodedResource, type TypeResources } from '../snapshot.js';
import { AckState } from './ack.js';

/** WILDCARD is the resource name that subscribes to whatever the server decides a node needs. */
export const WILDCARD = '*';

/** MISSING, as a held version, means the client was told (Delta `removed_resources`) the name does not exist. */
export const MISSING = '';

/** SubscriptionChange lists the names (and `*`) a request added to and removed from the subscription. */
export interface SubscriptionChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
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
  // stream. When they are exactly a snapshot set's names, that set's name Set is shared instead
  // (copied on the next change), so a stream keeps no names of its own.
  private explicit: ReadonlySet<string> = new Set<string>();
  private owned = true;
  private lastList?: readonly string[];

  /** wildcard is true while `*` (explicit or legacy) is subscribed. */
  get wildcard(): boolean {
    return this.wildcardOn;
  }

  /** names are the explicitly subscribed names, `*` excluded. */
  get names(): ReadonlySet<string> {
    return this.explicit;
  }

  /** share replaces the explicit names by an equal shared set (the caller checked they are equal). */
  share(names: ReadonlySet<string>): void {
    this.explicit = names;
    this.owned = false;
  }

  private mutable(): Set<string> {
    if (!this.owned) {
      this.explicit = new Set(this.explicit);
      this.owned = true;
    }
    return this.explicit as Set<string>;
  }

  /** everNamed is true once a request of this type named anything, which ends legacy wildcard. */
  get everNamed(): boolean {
    return this.named;
  }

  /** covers says whether `name` is subscribed explicitly, or through a wildcard the type supports. */
  covers(name: string, typeUrl: TypeUrl): boolean {
    return this.explicit.has(name) || (this.wildcardOn && supportsWildcard(typeUrl));
  }

  /**
   * applySotw takes a SotW request's full `resource_names` list. Sequence from the protocol doc:
   * [] → `*`; [*, A] → `*` + A; [A] → A; [] → nothing (not wildcard again).
   */
  applySotw(names: readonly string[]): SubscriptionChange {
    // The same (shared, decoded-once) list as last time: applying it again changes nothing.
    if (names === this.lastList) return { added: [], removed: [] };
    this.lastList = names;
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
    if (count === this.explicit.size && names.every((n) => n === WILDCARD || this.explicit.has(n))) return { added, removed };
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
    this.lastList = undefined;
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
 * TypeState is everything a stream keeps for one type: the subscription, what the client holds
 * (name → version, MISSING for names it was told do not exist), names to send even if held, the
 * pending flag the writer drains, clusters held back for make-before-break, and ACK bookkeeping.
 */
export class TypeState {
  readonly sub = new Subscription();
  /**
   * What the client holds as far as the server knows: name → resource version (or MISSING). While
   * `heldSet` is set, it stands for this map instead (call materialize() before using `sent`).
   */
  readonly sent = new Map<string, string>();
  /**
   * SotW wildcard LDS/CDS: the client holds exactly this snapshot type set. Kept by reference so a
   * push to many streams copies nothing per stream.
   */
  heldSet?: TypeResources;
  /** Names the next response carries even if the client holds them (new subscriptions, warming). */
  readonly force = new Set<string>();
  /** Resources removed from the snapshot but kept for this client until routes stop naming them. */
  readonly retained = new Map<string, EncodedResource>();
  readonly ack = new AckState();
  /** Requests of this type seen on the stream. */
  requests = 0;
  /** Responses of this type written on the stream, the resources they carried, and Delta removals. */
  responses = 0;
  resourcesSent = 0;
  removalsSent = 0;
  /** The highest content nonce id this type was sent under (shared-responses.ts). */
  lastContentId = 0;
  /** True until the first response of this type is sent: the first request is always answered. */
  firstResponseDue = false;
  /** A response may be due; the writer computes it from the latest snapshot when it can write. */
  pending = false;
  pendingSince = 0;

  constructor(readonly typeUrl: TypeUrl) {}

  /** markPending flags the type for the writer, keeping the oldest time for push-time metrics. */
  markPending(now: number): void {
    if (!this.pending) this.pendingSince = now;
    this.pending = true;
  }

  /** inScope says whether the client's subscription covers `name` right now. */
  inScope(name: string): boolean {
    return this.sub.covers(name, this.typeUrl);
  }

  /** materialize turns `heldSet` back into entries of `sent`. */
  materialize(): void {
    const set = this.heldSet;
    if (!set) return;
    this.heldSet = undefined;
    this.sent.clear();
    for (const [n, r] of set.items) this.sent.set(n, r.version);
  }

  /** holds says whether the client holds `name` (at any version) as far as the server knows. */
  holds(name: string): boolean {
    if (this.heldSet) return this.heldSet.items.has(name);
    const v = this.sent.get(name);
    return v !== undefined && v !== MISSING;
  }

  /** heldCount is how many resources the client holds. */
  heldCount(): number {
    if (this.heldSet) return this.heldSet.items.size;
    let n = 0;
    for (const v of this.sent.values()) if (v !== MISSING) n++;
    return n;
  }

  /** prune forgets held, forced and retained names the subscription no longer covers. */
  prune(): void {
    this.materialize();
    for (const n of this.sent.keys()) if (!this.inScope(n)) this.sent.delete(n);
    for (const n of this.force) if (!this.inScope(n)) this.force.delete(n);
    for (const n of this.retained.keys()) if (!this.inScope(n)) this.retained.delete(n);
    for (const n of this.ack.parked.keys()) if (!this.inScope(n)) this.ack.parked.delete(n);
  }
}

/**
 * desired is what the client should hold of one type: every subscribed name with its resource,
 * or undefined for an explicitly named resource that does not exist. Wildcard covers the whole
 * type only for types where wildcard means something (LDS, CDS). Retained resources stand in for
 * names the snapshot dropped. Iteration order is unspecified; responses sort by name.
 */
export function desired(t: TypeState, resources: TypeResources): ResourceMap<EncodedResource | undefined> {
  const wildcard = t.sub.wildcard && supportsWildcard(t.typeUrl);
  // The common case (Envoy's wildcard LDS/CDS) shares the snapshot's own map: no per-stream copy.
  if (wildcard && t.sub.names.size === 0 && t.retained.size === 0) return resources.items;
  // So does Envoy's EDS: it names exactly the snapshot's set. Sizes first, so a mismatch costs nothing;
  // once seen equal, the stream shares the set's names and later checks are one comparison.
  if (!wildcard && t.retained.size === 0 && t.sub.names.size === resources.items.size) {
    const names = namesOf(resources);
    if (t.sub.names === names) return resources.items;
    let all = true;
    for (const n of t.sub.names) {
      if (names.has(n)) continue;
      all = false;
      break;
    }
    if (all) {
      t.sub.share(names);
      return resources.items;
    }
  }
  const out = new Map<string, EncodedResource | undefined>();
  if (wildcard) for (const [n, r] of resources.items) out.set(n, r);
  for (const n of t.sub.names) if (!out.has(n)) out.set(n, lookup(resources, n) ?? t.retained.get(n));
  for (const [n, r] of t.retained) if (!out.has(n) && (wildcard || t.sub.names.has(n))) out.set(n, r);
  return out;
}

/** byName orders resources by name, the order every response uses (invariant 1). */
export function byName(a: EncodedResource, b: EncodedResource): number {
  return compareKeys(a.name, b.name);
}

// What changed between two type sets, computed once per pair and shared by every stream that held
// the first and now gets the second: the cost of a push is then per change, not per stream × set.
const diffs = new WeakMap<TypeResources, { readonly next: TypeResources; readonly changed: readonly string[]; readonly added: readonly EncodedResource[]; readonly removed: readonly string[] }>();

const sameVersion = (a: EncodedResource, b: EncodedResource): boolean => a.version === b.version;

function diff(prev: TypeResources, next: TypeResources) {
  const hit = diffs.get(prev);
  if (hit?.next === next) return hit;
  const d = diffMaps(prev.items, next.items, sameVersion);
  const out = { next, changed: d.changed, added: d.added.map(([, r]) => r), removed: d.removed };
  diffs.set(prev, out);
  return out;
}

/** changedBetween lists names in both sets whose versions differ. */
export function changedBetween(prev: TypeResources, next: TypeResources): readonly string[] {
  return diff(prev, next).changed;
}

/** addedBetween lists resources of `next` that `prev` lacks. */
export function addedBetween(prev: TypeResources, next: TypeResources): readonly EncodedResource[] {
  return diff(prev, next).added;
}

/** removedBetween lists names of `prev` that `next` lacks. */
export function removedBetween(prev: TypeResources, next: TypeResources): readonly string[] {
  return diff(prev, next).removed;
}
