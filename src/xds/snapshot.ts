// Snapshot: the immutable set of resources one group of nodes is served, with content-hash
// versions and bytes encoded once (invariants 1–3). Built by the translator side, read by the
// server side, never mutated after makeSnapshot returns.
import { createHash } from 'node:crypto';
import { compareKeys } from '../model/mesh.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  PUSH_ORDER,
  RATELIMIT_CONFIG_TYPE,
  ROUTE_TYPE,
  VHOST_TYPE,
  type TypeUrl,
} from './resource.js';
import { NO_REFS, type ResourceRefs } from './refs.js';
import { ChunkedMap, LayeredMap, type ResourceMap } from './resource-map.js';
import { encodeAny, encodeDeltaResource } from './wire.js';

/**
 * EncodedResource is one resource, encoded once. `any` is a google.protobuf.Any; `delta` is an
 * envoy.service.discovery.v3.Resource wrapping it. Both are shared by every stream.
 */
export interface EncodedResource {
  readonly typeUrl: TypeUrl;
  readonly name: string;
  /** Content hash of the encoded message: equal bytes give equal versions on every replica. */
  readonly version: string;
  readonly any: Buffer;
  readonly delta: Buffer;
  /** The decoded form, for /debug/config_dump. */
  readonly message: unknown;
  /** Hash of (name, version) in four 32-bit lanes: this resource's share of a set's version. */
  readonly lanes: Readonly<Uint32Array>;
  /** The names of other resources this one points at, read from its message once, when first asked (refs.ts). */
  readonly refs: ResourceRefs;
}

/** contentVersion hashes bytes into a short, stable version string. */
export function contentVersion(...chunks: Array<Uint8Array | string>): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex').slice(0, 16);
}

/**
 * encodeResource builds an EncodedResource from a message's encoded bytes; `refs` reads the names
 * it points at, called at most once, when the references are first asked for.
 */
export function encodeResource(
  typeUrl: TypeUrl,
  name: string,
  bytes: Uint8Array,
  message: unknown,
  refs: () => ResourceRefs = () => NO_REFS,
): EncodedResource {
  const version = contentVersion(bytes);
  const any = encodeAny(typeUrl, bytes);
  const d = createHash('sha256').update(name).update('\0').update(version).digest();
  const lanes = new Uint32Array([d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)]);
  let read: ResourceRefs | undefined;
  return {
    typeUrl,
    name,
    version,
    any,
    delta: encodeDeltaResource(name, version, any),
    message,
    lanes,
    get refs(): ResourceRefs {
      return (read ??= refs());
    },
  };
}

/** TypeResources is one type's resources in a snapshot, by name, iterating in name order. */
export interface TypeResources {
  /** Multiset hash of every (name, version) pair: the SotW version of the whole set. */
  readonly version: string;
  readonly items: ResourceMap<EncodedResource>;
  /** The hash's lanes, so a patched or layered set gets its version from the changes alone. */
  readonly sum: Readonly<Uint32Array>;
  /** Encoded size of the set (sum of each resource's Any), kept up to date by patches so metrics never walk a set. */
  readonly bytes: number;
  /**
   * On-demand sidecars: resources a client gets only by naming them (on-demand clusters, VHDS
   * virtual hosts). A wildcard covers `items` alone; a name is looked up in `items`, then here.
   * `version` then also covers what `named` holds, so a change to it reaches the streams.
   */
  readonly named?: ResourceMap<EncodedResource>;
}

/** lookup finds a resource of a set by name: among what a wildcard covers, then among what only a name reaches. */
export function lookup(set: TypeResources, name: string): EncodedResource | undefined {
  return set.items.get(name) ?? set.named?.get(name);
}

/** Sets at least this big are chunked, so patches share what they do not touch. */
const CHUNKED_FROM = 512;

function versionOf(sum: Readonly<Uint32Array>): string {
  let v = '';
  for (const lane of sum) v += lane.toString(16).padStart(8, '0');
  return v;
}

function addLanes(sum: Uint32Array, r: EncodedResource, sign: 1 | -1): void {
  for (let i = 0; i < 4; i++) sum[i] = (sum[i]! + sign * r.lanes[i]!) >>> 0;
}

/** Tally is what a type set keeps of its resources as they come and go: the hash lanes and the byte total. */
class Tally {
  readonly sum: Uint32Array;
  bytes: number;
  constructor(from?: TypeResources) {
    this.sum = from ? new Uint32Array(from.sum) : new Uint32Array(4);
    this.bytes = from?.bytes ?? 0;
  }
  add(r: EncodedResource): void {
    addLanes(this.sum, r, 1);
    this.bytes += r.any.length;
  }
  remove(r: EncodedResource): void {
    addLanes(this.sum, r, -1);
    this.bytes -= r.any.length;
  }
  /** set is a type set with these items and this tally's version and totals. */
  set(items: ResourceMap<EncodedResource>): TypeResources {
    return { version: versionOf(this.sum), items, sum: this.sum, bytes: this.bytes };
  }
}

/**
 * setVersion is the SotW version of any set of resources: equal sets get equal versions, in any order, on every replica
 * (invariant 2).
 */
export function setVersion(resources: Iterable<EncodedResource>): string {
  const sum = new Uint32Array(4);
  for (const r of resources) addLanes(sum, r, 1);
  return versionOf(sum);
}

function checked(r: EncodedResource, typeUrl: TypeUrl): EncodedResource {
  if (r.typeUrl !== typeUrl)
    throw new TypeError(`snapshot: resource ${r.name} has type ${r.typeUrl}, expected ${typeUrl}`);
  return r;
}

/** typeSet sorts and checks one type's resources into a TypeResources. */
export function typeSet(typeUrl: TypeUrl, list: readonly EncodedResource[]): TypeResources {
  const sorted = [...list].sort((a, b) => compareKeys(a.name, b.name));
  const tally = new Tally();
  const entries: Array<[string, EncodedResource]> = [];
  for (let i = 0; i < sorted.length; i++) {
    const r = checked(sorted[i]!, typeUrl);
    if (i > 0 && sorted[i - 1]!.name === r.name)
      throw new TypeError(`snapshot: duplicate ${typeUrl} resource ${r.name}`);
    tally.add(r);
    entries.push([r.name, r]);
  }
  return tally.set(itemsOf(entries));
}

/** itemsOf holds entries already in name order: chunked when big, so later patches share what they leave alone. */
function itemsOf(entries: ReadonlyArray<readonly [string, EncodedResource]>): ResourceMap<EncodedResource> {
  return entries.length >= CHUNKED_FROM ? ChunkedMap.fromSorted(entries) : new Map(entries);
}

/**
 * patchTypeSet returns `prev` with `upserts` set and `removes` deleted (an upserted name is not
 * deleted). Its cost is the change, not the set: the version is updated from the changed
 * entries, and a chunked set copies only the chunks the change lands in.
 */
export function patchTypeSet(
  prev: TypeResources,
  typeUrl: TypeUrl,
  upserts: readonly EncodedResource[],
  removes: readonly string[],
): TypeResources {
  const tally = new Tally(prev);
  const set = new Map<string, EncodedResource>();
  const upserted = new Set<string>();
  for (const r of upserts) {
    upserted.add(checked(r, typeUrl).name);
    // A name given twice: the later resource wins, and only it counts in the version.
    const old = set.get(r.name) ?? prev.items.get(r.name);
    if (old === r) continue;
    if (old) tally.remove(old);
    tally.add(r);
    set.set(r.name, r);
  }
  const gone: string[] = [];
  for (const n of new Set(removes)) {
    const old = upserted.has(n) ? undefined : prev.items.get(n);
    if (!old) continue;
    tally.remove(old);
    gone.push(n);
  }
  if (set.size === 0 && gone.length === 0) return prev;
  let items: ResourceMap<EncodedResource>;
  if (prev.items instanceof ChunkedMap) {
    items = prev.items.patch(set, gone);
  } else {
    const merged = new Map(prev.items);
    for (const n of gone) merged.delete(n);
    for (const r of set.values()) merged.set(r.name, r);
    items = itemsOf([...merged].sort((a, b) => compareKeys(a[0], b[0])));
  }
  const next = tally.set(items);
  const names = nameSets.get(prev);
  if (names && items.size === prev.items.size && gone.length === 0) nameSets.set(next, names);
  return next;
}

// The names of a type set, as a Set streams can share (Subscription.share); a patch that adds and
// removes no name passes its predecessor's on, so the streams that share it keep matching.
const nameSets = new WeakMap<TypeResources, ReadonlySet<string>>();

/** namesOf is the set of a type set's names, made once per set (or inherited from the set it was patched from). */
export function namesOf(resources: TypeResources): ReadonlySet<string> {
  let names = nameSets.get(resources);
  if (!names) nameSets.set(resources, (names = new Set(resources.items.keys())));
  return names;
}

/** layerTypeSet puts a group's own resources over a shared set; the result costs the top, not the base. */
export function layerTypeSet(base: TypeResources, typeUrl: TypeUrl, top: readonly EncodedResource[]): TypeResources {
  if (top.length === 0) return base;
  const tally = new Tally(base);
  const own = new Map<string, EncodedResource>();
  for (const r of top) {
    if (own.has(checked(r, typeUrl).name)) throw new TypeError(`snapshot: duplicate ${typeUrl} resource ${r.name}`);
    own.set(r.name, r);
    const hidden = base.items.get(r.name);
    if (hidden) tally.remove(hidden);
    tally.add(r);
  }
  return tally.set(new LayeredMap(base.items, own));
}

const empties = new Map<TypeUrl, TypeResources>();

/** emptyTypeSet is the one empty set of a type, shared by every snapshot that has none. */
export function emptyTypeSet(typeUrl: TypeUrl): TypeResources {
  let e = empties.get(typeUrl);
  if (!e) empties.set(typeUrl, (e = typeSet(typeUrl, [])));
  return e;
}

/** Snapshot holds every type's resources for one node group. */
export interface Snapshot {
  readonly resources: Readonly<Record<TypeUrl, TypeResources>>;
}

/** makeSnapshot sorts, checks and freezes per-type resources (lists or ready type sets) into a Snapshot. */
export function makeSnapshot(byType: Partial<Record<TypeUrl, readonly EncodedResource[] | TypeResources>>): Snapshot {
  const resources = {} as Record<TypeUrl, TypeResources>;
  for (const t of PUSH_ORDER) {
    const given = byType[t];
    resources[t] =
      given === undefined ? emptyTypeSet(t) : Array.isArray(given) ? typeSet(t, given) : (given as TypeResources);
  }
  return Object.freeze({ resources: Object.freeze(resources) });
}

const SHORT: Readonly<Record<TypeUrl, string>> = {
  [CLUSTER_TYPE]: 'cluster',
  [ENDPOINT_TYPE]: 'endpoints',
  [LISTENER_TYPE]: 'listener',
  [ROUTE_TYPE]: 'route',
  [VHOST_TYPE]: 'virtual host',
  [RATELIMIT_CONFIG_TYPE]: 'rate-limit config',
};

/** Types whose resources name no other resource (refs.ts reads none from them). */
const POINT_AT_NOTHING: readonly TypeUrl[] = [ENDPOINT_TYPE];

/** listsNothing: a set no wildcard covers and no walk sees (an on-demand VHDS set, resolved per name). */
function listsNothing(set: TypeResources): boolean {
  return set.items.size === 0 && (set.named?.size ?? 0) === 0;
}

/** Types whose resources exist only to be named by others: one nothing names is a translation bug. */
const MUST_BE_NAMED: readonly TypeUrl[] = [ENDPOINT_TYPE, ROUTE_TYPE];

type Names = ReadonlySet<string>;

/**
 * ConsistencyCheck checks snapshots both ways, as go-control-plane's Snapshot.Consistent does one
 * way: every name a resource points at is a resource of the snapshot, and every assignment and
 * route configuration is named by some resource (clusters and listeners are roots). A node
 * group's type sets are shared sets with a few resources of the group's own on top (LayeredMap),
 * so the check is split the same way: what the shared part names is checked against the shared
 * part of the target once, for every group alike, and remembered while those objects stay (a set
 * patched in versions only keeps its name Set); each group adds only its own few resources. One
 * owner (the snapshot cache) keeps it.
 */
export class ConsistencyCheck {
  // Shared items → per type, the names their resources point at.
  private readonly sharedRefs = new WeakMap<object, ReadonlyMap<TypeUrl, Names>>();
  // Names pointed at → the shared names checked against, and those not among them.
  private readonly unresolved = new WeakMap<object, { readonly names: Names; readonly missing: string[] }>();
  // Shared names → the name sets checked against, and the names none of them holds.
  private readonly unnamed = new WeakMap<Names, { readonly by: readonly Names[]; readonly missing: string[] }>();
  // The shared part of a layered set, as a set whose names can be taken (namesOf), once per items object.
  private readonly sharedSets = new WeakMap<object, TypeResources>();

  /**
   * carriesOver says whether `next` passes whenever `prev` did, without walking it: each of its
   * type sets is `prev`'s, or a set of resources that point at nothing (assignments) under the same
   * names Set (a patch that changed versions only, as a one-instance change does), or an on-demand
   * VHDS set that lists nothing (its answers are made when asked for). References and the names
   * they reach are then what they were. A rebuild calls it for every node group.
   */
  carriesOver(prev: Snapshot, next: Snapshot): boolean {
    for (const type of PUSH_ORDER) {
      const a = prev.resources[type];
      const b = next.resources[type];
      if (a === b) continue;
      if (listsNothing(a) && listsNothing(b)) continue;
      if (POINT_AT_NOTHING.includes(type) && !a.named && !b.named && namesOf(a) === namesOf(b)) continue;
      return false;
    }
    return true;
  }

  /** check lists what does not resolve in `snapshot`; empty when it is consistent. */
  check(snapshot: Snapshot): string[] {
    const errors: string[] = [];
    for (const type of PUSH_ORDER) {
      const set = snapshot.resources[type];
      const { shared, own } = split(set.items);
      // What only a name reaches (on-demand clusters) points at resources too.
      for (const items of set.named ? [shared, set.named] : [shared]) {
        for (const [target, names] of this.refsOf(items)) this.resolve(errors, snapshot, type, target, names);
      }
      for (const r of own) {
        for (const [target, names] of Object.entries(r.refs) as Array<[TypeUrl, readonly string[]]>) {
          this.resolve(errors, snapshot, type, target, names);
        }
      }
    }
    for (const type of MUST_BE_NAMED) this.named(errors, snapshot, type);
    // A group's resource may hide a shared one of the same name: what was found is confirmed (or
    // corrected) by walking every resource, which costs only when something is wrong.
    return errors.length === 0 ? errors : exactCheck(snapshot);
  }

  private sharedSet(set: TypeResources): TypeResources {
    if (!(set.items instanceof LayeredMap)) return set;
    const items = split(set.items).shared;
    let s = this.sharedSets.get(items);
    if (!s) this.sharedSets.set(items, (s = { version: '', items, sum: new Uint32Array(4), bytes: 0 }));
    return s;
  }

  /** refsOf gathers what the resources of shared items point at, once per items object. */
  private refsOf(items: ResourceMap<EncodedResource>): ReadonlyMap<TypeUrl, Names> {
    let out = this.sharedRefs.get(items) as Map<TypeUrl, Set<string>> | undefined;
    if (out) return out;
    out = new Map();
    for (const r of items.values()) {
      for (const [t, names] of Object.entries(r.refs) as Array<[TypeUrl, readonly string[]]>) {
        let into = out.get(t);
        if (!into) out.set(t, (into = new Set()));
        for (const n of names) into.add(n);
      }
    }
    this.sharedRefs.set(items, out);
    return out;
  }

  /** resolve adds an error for every name in `names` that the snapshot's `target` set lacks. */
  private resolve(
    errors: string[],
    snapshot: Snapshot,
    type: TypeUrl,
    target: TypeUrl,
    names: Names | readonly string[],
  ): void {
    const shared = namesOf(this.sharedSet(snapshot.resources[target]));
    let hit = this.unresolved.get(names);
    if (hit?.names !== shared) {
      const missing: string[] = [];
      for (const n of names) if (!shared.has(n)) missing.push(n);
      this.unresolved.set(names, (hit = { names: shared, missing }));
    }
    for (const n of hit.missing) {
      if (lookup(snapshot.resources[target], n)) continue;
      errors.push(`${SHORT[type]} resources name ${SHORT[target]} ${n}, which is not in the snapshot`);
    }
  }

  /** named adds an error for every resource of `type` that no resource of the snapshot points at. */
  private named(errors: string[], snapshot: Snapshot, type: TypeUrl): void {
    const set = snapshot.resources[type];
    const shared = namesOf(this.sharedSet(set));
    const bySets: Names[] = [];
    const byOwn: string[] = [];
    for (const t of PUSH_ORDER) {
      const from = snapshot.resources[t];
      const { shared: items, own } = split(from.items);
      for (const part of from.named ? [items, from.named] : [items]) {
        const n = this.refsOf(part).get(type);
        if (n) bySets.push(n);
      }
      for (const r of own) byOwn.push(...(r.refs[type] ?? []));
    }
    let hit = this.unnamed.get(shared);
    if (!hit || hit.by.length !== bySets.length || !hit.by.every((m, i) => m === bySets[i])) {
      const missing: string[] = [];
      for (const n of shared) if (!bySets.some((m) => m.has(n))) missing.push(n);
      this.unnamed.set(shared, (hit = { by: bySets, missing }));
    }
    const own = new Set(byOwn);
    const { own: top } = split(set.items);
    for (const n of [...hit.missing, ...top.map((r) => r.name)]) {
      if (!own.has(n) && !bySets.some((m) => m.has(n))) errors.push(`${SHORT[type]} ${n}: no resource names it`);
    }
  }
}

/** split is a set's items as its shared part and the resources a group put on top of it. */
function split(items: ResourceMap<EncodedResource>): { shared: ResourceMap<EncodedResource>; own: EncodedResource[] } {
  if (!(items instanceof LayeredMap)) return { shared: items, own: [] };
  const inner = split(items.base);
  return { shared: inner.shared, own: [...inner.own, ...items.top.values()] };
}

/** exactCheck is the check without any sharing: every resource of the snapshot, walked once. */
function exactCheck(snapshot: Snapshot): string[] {
  const errors: string[] = [];
  const named = new Map<TypeUrl, Set<string>>();
  for (const type of PUSH_ORDER) {
    const set = snapshot.resources[type];
    for (const r of [...set.items.values(), ...(set.named?.values() ?? [])]) {
      for (const [target, names] of Object.entries(r.refs) as Array<[TypeUrl, readonly string[]]>) {
        let into = named.get(target);
        if (!into) named.set(target, (into = new Set()));
        for (const n of names) {
          into.add(n);
          if (!lookup(snapshot.resources[target], n)) {
            errors.push(`${SHORT[type]} ${r.name} names ${SHORT[target]} ${n}, which is not in the snapshot`);
          }
        }
      }
    }
  }
  for (const type of MUST_BE_NAMED) {
    for (const n of snapshot.resources[type].items.keys()) {
      if (!named.get(type)?.has(n)) errors.push(`${SHORT[type]} ${n}: no resource names it`);
    }
  }
  return errors;
}

/** consistent lists what does not resolve in one snapshot (see ConsistencyCheck), without remembering anything. */
export function consistent(snapshot: Snapshot): string[] {
  return new ConsistencyCheck().check(snapshot);
}
