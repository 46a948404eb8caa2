// Snapshot: the immutable set of resources one group of nodes is served, with content-hash
// versions and bytes encoded once (invariants 1–3). Built by the translator side, read by the
// server side, never mutated after makeSnapshot returns.
import { createHash } from 'node:crypto';
import { compareKeys } from '../model/mesh.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, PUSH_ORDER, RATELIMIT_CONFIG_TYPE, ROUTE_TYPE, VHOST_TYPE, type TypeUrl } from './resource.js';
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
  /** The names of other resources this one points at, read from the message when it was encoded (refs.ts). */
  readonly refs: ResourceRefs;
}

/** contentVersion hashes bytes into a short, stable version string. */
export function contentVersion(...chunks: Array<Uint8Array | string>): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex').slice(0, 16);
}

/** encodeResource builds an EncodedResource from a message's encoded bytes and the references read from it. */
export function encodeResource(
  typeUrl: TypeUrl,
  name: string,
  bytes: Uint8Array,
  message: unknown,
  refs: ResourceRefs = NO_REFS,
): EncodedResource {
  const version = contentVersion(bytes);
  const any = encodeAny(typeUrl, bytes);
  const d = createHash('sha256').update(name).update('\0').update(version).digest();
  const lanes = new Uint32Array([d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)]);
  return { typeUrl, name, version, any, delta: encodeDeltaResource(name, version, any), message, lanes, refs };
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
  /** What the set's resources point at: per type, each name with how many name it; kept up to date by patches. */
  readonly refs: TypeRefs;
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

/** TypeRefs are the names a type set's resources point at, by the type named, with how many point at each. */
export type TypeRefs = ReadonlyMap<TypeUrl, ReadonlyMap<string, number>>;

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

/**
 * Tally is what a type set keeps of its resources as they come and go: the hash lanes, the byte
 * total and the references. A reference count map is copied from the set patched only when a
 * change touches it (most patches, e.g. of assignments, touch none).
 */
class Tally {
  readonly sum: Uint32Array;
  bytes: number;
  private readonly refs: Map<TypeUrl, ReadonlyMap<string, number>>;
  private readonly copied = new Set<TypeUrl>();
  constructor(from?: TypeResources) {
    this.sum = from ? new Uint32Array(from.sum) : new Uint32Array(4);
    this.bytes = from?.bytes ?? 0;
    this.refs = new Map(from?.refs);
  }
  add(r: EncodedResource): void {
    addLanes(this.sum, r, 1);
    this.bytes += r.any.length;
    if (r.refs !== NO_REFS) this.count(r.refs, 1);
  }
  remove(r: EncodedResource): void {
    addLanes(this.sum, r, -1);
    this.bytes -= r.any.length;
    if (r.refs !== NO_REFS) this.count(r.refs, -1);
  }
  private count(refs: ResourceRefs, sign: 1 | -1): void {
    for (const [t, names] of Object.entries(refs) as Array<[TypeUrl, readonly string[]]>) {
      let counts = this.refs.get(t) as Map<string, number> | undefined;
      if (!this.copied.has(t)) {
        this.refs.set(t, (counts = new Map(counts)));
        this.copied.add(t);
      }
      for (const n of names) {
        const c = (counts!.get(n) ?? 0) + sign;
        if (c === 0) counts!.delete(n);
        else counts!.set(n, c);
      }
    }
  }
  /** set is a type set with these items and this tally's version and totals. */
  set(items: ResourceMap<EncodedResource>): TypeResources {
    return { version: versionOf(this.sum), items, sum: this.sum, bytes: this.bytes, refs: this.refs };
  }
}

/** setVersion is the SotW version of any set of resources: equal sets get equal versions, in any order, on every replica (invariant 2). */
export function setVersion(resources: Iterable<EncodedResource>): string {
  const sum = new Uint32Array(4);
  for (const r of resources) addLanes(sum, r, 1);
  return versionOf(sum);
}

function checked(r: EncodedResource, typeUrl: TypeUrl): EncodedResource {
  if (r.typeUrl !== typeUrl) throw new TypeError(`snapshot: resource ${r.name} has type ${r.typeUrl}, expected ${typeUrl}`);
  return r;
}

/** typeSet sorts and checks one type's resources into a TypeResources. */
export function typeSet(typeUrl: TypeUrl, list: readonly EncodedResource[]): TypeResources {
  const sorted = [...list].sort((a, b) => compareKeys(a.name, b.name));
  const tally = new Tally();
  const entries: Array<[string, EncodedResource]> = [];
  for (let i = 0; i < sorted.length; i++) {
    const r = checked(sorted[i]!, typeUrl);
    if (i > 0 && sorted[i - 1]!.name === r.name) throw new TypeError(`snapshot: duplicate ${typeUrl} resource ${r.name}`);
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
export function patchTypeSet(prev: TypeResources, typeUrl: TypeUrl, upserts: readonly EncodedResource[], removes: readonly string[]): TypeResources {
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
    resources[t] = given === undefined ? emptyTypeSet(t) : Array.isArray(given) ? typeSet(t, given) : (given as TypeResources);
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

/** Types whose resources exist only to be named by others: one nothing names is a translation bug. */
const MUST_BE_NAMED: readonly TypeUrl[] = [ENDPOINT_TYPE, ROUTE_TYPE];

type Found = { readonly errors: readonly string[] };
type Resolved = Found & { readonly names: ReadonlySet<string> };

/**
 * ConsistencyCheck checks snapshots both ways, as go-control-plane's Snapshot.Consistent does one
 * way: every name a resource points at is a resource of the snapshot, and every assignment and
 * route configuration is named by some resource (clusters and listeners are roots). It reads the
 * references the type sets carry (TypeResources.refs) and remembers its findings per set, keyed
 * on the objects the result depends on, so a snapshot whose sets did not change, or changed only
 * in versions, costs lookups. One owner (the snapshot cache) keeps it.
 */
export class ConsistencyCheck {
  // Source set → target type → the target's names checked against, and what was missing.
  private readonly resolved = new WeakMap<TypeResources, Map<TypeUrl, Resolved>>();
  // Target names → the reference maps of the sources checked against, and what nothing named.
  private readonly named = new WeakMap<ReadonlySet<string>, Found & { readonly by: ReadonlyArray<unknown> }>();

  /** check lists what does not resolve in `snapshot`; empty when it is consistent. */
  check(snapshot: Snapshot): string[] {
    const errors: string[] = [];
    for (const type of PUSH_ORDER) {
      const set = snapshot.resources[type];
      for (const target of set.refs.keys()) {
        errors.push(...this.resolves(type, set, target, snapshot.resources[target]).errors);
      }
    }
    for (const type of MUST_BE_NAMED) errors.push(...this.isNamed(type, snapshot).errors);
    return errors;
  }

  private resolves(type: TypeUrl, set: TypeResources, target: TypeUrl, targets: TypeResources): Found {
    const names = namesOf(targets);
    let bySet = this.resolved.get(set);
    const hit = bySet?.get(target);
    if (hit?.names === names) return hit;
    const errors: string[] = [];
    for (const n of set.refs.get(target)!.keys()) {
      if (names.has(n)) continue;
      const from = [...set.items.values()].filter((r) => r.refs[target]?.includes(n)).map((r) => r.name);
      errors.push(`${SHORT[type]} ${from.join(', ')} names ${SHORT[target]} ${n}, which is not in the snapshot`);
    }
    if (!bySet) this.resolved.set(set, (bySet = new Map()));
    const found = { names, errors };
    bySet.set(target, found);
    return found;
  }

  private isNamed(type: TypeUrl, snapshot: Snapshot): Found {
    const names = namesOf(snapshot.resources[type]);
    const by = PUSH_ORDER.map((t) => snapshot.resources[t].refs.get(type));
    const hit = this.named.get(names);
    if (hit && hit.by.every((m, i) => m === by[i])) return hit;
    const errors: string[] = [];
    for (const n of names) if (!by.some((m) => m?.has(n))) errors.push(`${SHORT[type]} ${n}: no resource names it`);
    const found = { by, errors };
    this.named.set(names, found);
    return found;
  }
}

/**
 * sameShape says whether two snapshots have the same names and the same references in every type
 * (the same Sets and count maps: patches and layers pass them on while no name comes or goes), so
 * a consistency check of one holds for the other. A change to what resources say, not to what they
 * name, then costs no check: with one node group per service that is most changes.
 */
export function sameShape(a: Snapshot, b: Snapshot): boolean {
  for (const t of PUSH_ORDER) {
    const x = a.resources[t];
    const y = b.resources[t];
    if (x === y) continue;
    // What only a name reaches (`named`) is not checked, so it does not count either.
    if (namesOf(x) !== namesOf(y) || x.refs.size !== y.refs.size) return false;
    for (const [target, counts] of x.refs) if (y.refs.get(target) !== counts) return false;
  }
  return true;
}

/** consistent lists what does not resolve in one snapshot (see ConsistencyCheck), without remembering anything. */
export function consistent(snapshot: Snapshot): string[] {
  return new ConsistencyCheck().check(snapshot);
}
