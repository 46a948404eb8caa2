// Name → resource maps for snapshot type sets. A type set is immutable once built, yet a change
// to one service must not copy the other ten thousand entries, and the clusters of every sidecar
// group are the same shared set plus one or two of its own. So besides a plain Map there are:
// - ChunkedMap: entries in name order, cut into chunks; a patch copies only the chunks it touches,
//   and two versions share every untouched chunk (so their diff looks only at the rest);
// - LayeredMap: a shared base with a few entries of a group's own on top.
// All iterate in name order (invariant 1: same input, same bytes).
import { compareKeys } from '../model/mesh.js';

/** ResourceMap is the read side of a Map from name to value, iterating in name order. */
export interface ResourceMap<V> extends Iterable<[string, V]> {
  readonly size: number;
  get(name: string): V | undefined;
  has(name: string): boolean;
  keys(): Iterable<string>;
  values(): Iterable<V>;
}

/** Chunks hold about this many entries; a chunk is split at twice as many. */
const CHUNK = 256;

interface Chunk<V> {
  /** The chunk's lowest name. */
  readonly first: string;
  readonly map: ReadonlyMap<string, V>;
}

/** ChunkedMap is a persistent sorted map: `patch` returns a new map sharing untouched chunks. */
export class ChunkedMap<V> implements ResourceMap<V> {
  readonly size: number;

  private constructor(readonly chunks: readonly Chunk<V>[]) {
    let n = 0;
    for (const c of chunks) n += c.map.size;
    this.size = n;
  }

  /** fromSorted builds a map from entries already in name order with distinct names. */
  static fromSorted<V>(entries: ReadonlyArray<readonly [string, V]>): ChunkedMap<V> {
    const chunks: Chunk<V>[] = [];
    for (let i = 0; i < entries.length; i += CHUNK) chunks.push(chunkOf(entries.slice(i, i + CHUNK)));
    return new ChunkedMap(chunks);
  }

  /** patch sets `upserts` and deletes `removes` (an upserted name is not deleted). */
  patch(upserts: ReadonlyMap<string, V>, removes: Iterable<string>): ChunkedMap<V> {
    // Changes grouped by the chunk they land in; names below the first chunk go to the first.
    const touched = new Map<number, Array<[string, V | undefined]>>();
    const put = (name: string, value: V | undefined): void => {
      const i = Math.max(0, this.chunkIndex(name));
      let list = touched.get(i);
      if (!list) touched.set(i, (list = []));
      list.push([name, value]);
    };
    for (const [n, v] of upserts) put(n, v);
    for (const n of removes) if (!upserts.has(n) && this.has(n)) put(n, undefined);
    if (touched.size === 0) return this;
    const chunks: Chunk<V>[] = [];
    for (const [i, chunk] of this.chunks.entries()) {
      const changes = touched.get(i);
      if (!changes) chunks.push(chunk);
      else for (const c of rebuilt(chunk, changes)) chunks.push(c);
    }
    // An empty map has no chunk to land in.
    if (this.chunks.length === 0) for (const c of rebuilt(undefined, touched.get(0)!)) chunks.push(c);
    return new ChunkedMap(chunks);
  }

  get(name: string): V | undefined {
    const i = this.chunkIndex(name);
    return i < 0 ? undefined : this.chunks[i]!.map.get(name);
  }

  has(name: string): boolean {
    const i = this.chunkIndex(name);
    return i >= 0 && this.chunks[i]!.map.has(name);
  }

  *[Symbol.iterator](): Iterator<[string, V]> {
    for (const c of this.chunks) yield* c.map;
  }

  *keys(): Iterable<string> {
    for (const c of this.chunks) yield* c.map.keys();
  }

  *values(): Iterable<V> {
    for (const c of this.chunks) yield* c.map.values();
  }

  /** chunkIndex is the last chunk whose first name is ≤ `name`, or -1. */
  private chunkIndex(name: string): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(this.chunks[mid]!.first, name) <= 0) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}

function chunkOf<V>(entries: ReadonlyArray<readonly [string, V]>): Chunk<V> {
  return { first: entries[0]![0], map: new Map(entries) };
}

/** rebuilt merges sorted changes (value undefined = delete) into a chunk, splitting it if it grew too big. */
function rebuilt<V>(chunk: Chunk<V> | undefined, changes: Array<[string, V | undefined]>): Chunk<V>[] {
  changes.sort((a, b) => compareKeys(a[0], b[0]));
  const out: Array<[string, V]> = [];
  let j = 0;
  for (const [n, v] of chunk?.map ?? []) {
    while (j < changes.length && compareKeys(changes[j]![0], n) < 0) {
      const [cn, cv] = changes[j++]!;
      if (cv !== undefined) out.push([cn, cv]);
    }
    if (j < changes.length && changes[j]![0] === n) {
      const cv = changes[j++]![1];
      if (cv !== undefined) out.push([n, cv]);
    } else {
      out.push([n, v]);
    }
  }
  for (; j < changes.length; j++) if (changes[j]![1] !== undefined) out.push(changes[j] as [string, V]);
  if (out.length === 0) return [];
  if (out.length <= 2 * CHUNK) return [chunkOf(out)];
  const parts: Chunk<V>[] = [];
  for (let i = 0; i < out.length; i += CHUNK) parts.push(chunkOf(out.slice(i, i + CHUNK)));
  return parts;
}

/** LayeredMap is a shared base map with entries of its own on top (a top entry hides a base entry of the same name). */
export class LayeredMap<V> implements ResourceMap<V> {
  readonly size: number;
  private readonly topSorted: ReadonlyArray<[string, V]>;

  constructor(
    readonly base: ResourceMap<V>,
    readonly top: ReadonlyMap<string, V>,
  ) {
    let hidden = 0;
    for (const n of top.keys()) if (base.has(n)) hidden++;
    this.size = base.size + top.size - hidden;
    this.topSorted = [...top].sort((a, b) => compareKeys(a[0], b[0]));
  }

  get(name: string): V | undefined {
    return this.top.has(name) ? this.top.get(name) : this.base.get(name);
  }

  has(name: string): boolean {
    return this.top.has(name) || this.base.has(name);
  }

  *[Symbol.iterator](): Iterator<[string, V]> {
    const top = this.topSorted;
    let j = 0;
    for (const [n, v] of this.base) {
      while (j < top.length && compareKeys(top[j]![0], n) < 0) yield top[j++]!;
      if (j < top.length && top[j]![0] === n) yield top[j++]!;
      else yield [n, v];
    }
    while (j < top.length) yield top[j++]!;
  }

  *keys(): Iterable<string> {
    for (const [n] of this) yield n;
  }

  *values(): Iterable<V> {
    for (const [, v] of this) yield v;
  }
}

/** MapDiff is what changed from one map to another. */
export interface MapDiff<V> {
  /** Names in both whose values differ (by `same`). */
  readonly changed: readonly string[];
  /** Entries only in the second map. */
  readonly added: ReadonlyArray<readonly [string, V]>;
  /** Names only in the first map. */
  readonly removed: readonly string[];
}

/**
 * diffMaps compares two maps. Chunked maps skip the chunks they share and layered maps diff their
 * bases (then look only at the tops), so two versions of a big set cost what changed between them.
 */
export function diffMaps<V>(prev: ResourceMap<V>, next: ResourceMap<V>, same: (a: V, b: V) => boolean): MapDiff<V> {
  let candidates: Iterable<string>;
  if (prev instanceof ChunkedMap && next instanceof ChunkedMap) {
    const shared = new Set<object>(prev.chunks);
    const kept = new Set<object>();
    for (const c of next.chunks) if (shared.has(c)) kept.add(c);
    const names: string[] = [];
    for (const c of prev.chunks) if (!kept.has(c)) for (const n of c.map.keys()) names.push(n);
    for (const c of next.chunks) if (!kept.has(c)) for (const n of c.map.keys()) names.push(n);
    candidates = new Set(names);
  } else if (prev instanceof LayeredMap && next instanceof LayeredMap) {
    const d = diffMaps(prev.base, next.base, same);
    candidates = new Set([
      ...d.changed,
      ...d.added.map(([n]) => n),
      ...d.removed,
      ...prev.top.keys(),
      ...next.top.keys(),
    ]);
  } else {
    candidates = new Set([...prev.keys(), ...next.keys()]);
  }
  const changed: string[] = [];
  const added: Array<readonly [string, V]> = [];
  const removed: string[] = [];
  for (const n of candidates) {
    const a = prev.get(n);
    const b = next.get(n);
    if (a === undefined && b !== undefined) added.push([n, b]);
    else if (a !== undefined && b === undefined) removed.push(n);
    else if (a !== undefined && b !== undefined && !same(a, b)) changed.push(n);
  }
  changed.sort(compareKeys);
  added.sort((x, y) => compareKeys(x[0], y[0]));
  removed.sort(compareKeys);
  return { changed, added, removed };
}
