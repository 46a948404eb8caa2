// Resource maps and type sets, by randomized property tests against plain reference Maps:
// ChunkedMap (patches, sharing of untouched chunks, persistence of old versions), LayeredMap,
// diffMaps against a brute-force diff, and typeSet/patchTypeSet/layerTypeSet versions against
// sets built from scratch and setVersion. Seeded, so every run checks the same cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareKeys } from '../../../src/model/mesh.js';
import { CLUSTER_TYPE } from '../../../src/xds/resource.js';
import { ChunkedMap, diffMaps, LayeredMap, type MapDiff, type ResourceMap } from '../../../src/xds/resource-map.js';
import {
  encodeResource,
  layerTypeSet,
  patchTypeSet,
  setVersion,
  typeSet,
  type EncodedResource,
  type TypeResources,
} from '../../../src/xds/snapshot.js';
import { Rand } from '../../support/random.js';

// ---------------------------------------------------------------- randomness

// Characters chosen so that code-unit order differs from locale order (case, punctuation, a
// surrogate pair vs a high BMP character); space is kept out so names below every generated
// one can be made.
const ALPHABET = ['-', '0', '9', 'A', 'Z', '_', 'a', 'z', '|', 'é', '\uffee', '😀'];

function randomName(r: Rand): string {
  let s = '';
  const len = 1 + r.int(6);
  for (let i = 0; i < len; i++) s += r.pick(ALPHABET);
  return s;
}

/** A name sorting before every name in `keys` (or any name when there are none). */
function nameBelow(r: Rand, keys: Iterable<string>): string {
  let min: string | undefined;
  for (const k of keys) if (min === undefined || compareKeys(k, min) < 0) min = k;
  if (min === undefined) return randomName(r);
  // A proper prefix sorts first; so does a leading space (below every alphabet character).
  return min.length > 1 && r.chance(0.5) ? min.slice(0, 1 + r.int(min.length - 1)) : ` ${randomName(r)}`;
}

// ---------------------------------------------------------------- reference model

interface Val {
  readonly v: number;
}

/** Values compare by `v`, so an upsert may bring a new object that is still "the same". */
const sameVal = (a: Val, b: Val): boolean => a.v === b.v;

function sortedEntries<V>(m: ReadonlyMap<string, V>): Array<[string, V]> {
  return [...m].sort((a, b) => compareKeys(a[0], b[0]));
}

/** checkMap asserts that a ResourceMap holds exactly `ref`, in name order. */
function checkMap<V>(
  actual: ResourceMap<V>,
  ref: ReadonlyMap<string, V>,
  probes: readonly string[],
  what: string,
): void {
  const want = sortedEntries(ref);
  assert.equal(actual.size, ref.size, `${what}: size`);
  const got = [...actual];
  assert.equal(got.length, want.length, `${what}: iteration length`);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i]![0], want[i]![0], `${what}: name #${i}`);
    assert.equal(got[i]![1], want[i]![1], `${what}: value of ${want[i]![0]}`);
  }
  assert.deepEqual(
    [...actual.keys()],
    want.map(([k]) => k),
    `${what}: keys()`,
  );
  const values = [...actual.values()];
  assert.equal(values.length, want.length, `${what}: values() length`);
  for (let i = 0; i < want.length; i++) assert.equal(values[i], want[i]![1], `${what}: values()[${i}]`);
  for (const [k, v] of want) {
    assert.equal(actual.get(k), v, `${what}: get(${JSON.stringify(k)})`);
    assert.equal(actual.has(k), true, `${what}: has(${JSON.stringify(k)})`);
  }
  for (const p of probes) {
    assert.equal(actual.get(p), ref.get(p), `${what}: get(${JSON.stringify(p)}) probe`);
    assert.equal(actual.has(p), ref.has(p), `${what}: has(${JSON.stringify(p)}) probe`);
  }
}

/** checkChunks asserts ChunkedMap's own invariants: non-empty chunks, each first name its lowest, chunks in order and bounded. */
function checkChunks<V>(m: ChunkedMap<V>, what: string): void {
  let last: string | undefined;
  for (const [i, c] of m.chunks.entries()) {
    assert.ok(c.map.size > 0, `${what}: chunk ${i} is empty`);
    assert.ok(c.map.size <= 512, `${what}: chunk ${i} has ${c.map.size} entries`);
    const first = c.map.keys().next().value as string;
    assert.equal(c.first, first, `${what}: chunk ${i} first`);
    if (last !== undefined)
      assert.ok(compareKeys(last, first) < 0, `${what}: chunk ${i} starts before the previous chunk ends`);
    for (const k of c.map.keys()) last = k;
  }
}

/** bruteDiff is diffMaps by definition: every name of either map. */
function bruteDiff<V>(
  prev: ReadonlyMap<string, V>,
  next: ReadonlyMap<string, V>,
  same: (a: V, b: V) => boolean,
): MapDiff<V> {
  const changed: string[] = [];
  const added: Array<readonly [string, V]> = [];
  const removed: string[] = [];
  for (const [k, v] of next) {
    const old = prev.get(k);
    if (old === undefined) added.push([k, v]);
    else if (!same(old, v)) changed.push(k);
  }
  for (const k of prev.keys()) if (!next.has(k)) removed.push(k);
  changed.sort(compareKeys);
  added.sort((a, b) => compareKeys(a[0], b[0]));
  removed.sort(compareKeys);
  return { changed, added, removed };
}

function checkDiff<V>(
  prev: ResourceMap<V>,
  next: ResourceMap<V>,
  refPrev: ReadonlyMap<string, V>,
  refNext: ReadonlyMap<string, V>,
  same: (a: V, b: V) => boolean,
  what: string,
): void {
  const got = diffMaps(prev, next, same);
  const want = bruteDiff(refPrev, refNext, same);
  assert.deepEqual(got.changed, want.changed, `${what}: changed`);
  assert.deepEqual(got.removed, want.removed, `${what}: removed`);
  assert.equal(got.added.length, want.added.length, `${what}: added count`);
  got.added.forEach(([k, v], i) => {
    assert.equal(k, want.added[i]![0], `${what}: added #${i}`);
    assert.equal(v, want.added[i]![1], `${what}: added value of ${k}`);
  });
}

// ---------------------------------------------------------------- random patches

interface Patch {
  readonly upserts: Map<string, Val>;
  readonly removes: string[];
}

let counter = 0;
const val = (v = counter++): Val => ({ v });

/**
 * randomPatch draws a patch for a map currently holding `ref`: small or large, upserting new and
 * existing names (sometimes with an equal value), names below the first, removing present and
 * absent names (some also upserted), occasionally everything.
 */
function randomPatch(r: Rand, ref: ReadonlyMap<string, Val>): Patch {
  const keys = [...ref.keys()];
  const upserts = new Map<string, Val>();
  const removes: string[] = [];
  const mode = r.float();
  if (mode < 0.04) {
    // Empty the map, perhaps keeping a few names alive by upserting them.
    removes.push(...keys);
    for (let i = r.int(3); i > 0 && keys.length > 0; i--) upserts.set(r.pick(keys), val());
    return { upserts, removes };
  }
  if (mode < 0.1 && ref.size < 3000) {
    // Grow a lot at once: past the split size of a chunk.
    const n = 300 + r.int(900);
    for (let i = 0; i < n; i++) upserts.set(randomName(r), val());
    return { upserts, removes };
  }
  if (mode < 0.14 && ref.size > 200) {
    // Shrink a lot at once.
    for (const k of keys) if (r.chance(0.6)) removes.push(k);
    return { upserts, removes };
  }
  if (mode < 0.16) return { upserts, removes: r.chance(0.5) ? [] : [`${randomName(r)}\u0000absent`] };
  const n = 1 + (r.chance(0.8) ? r.int(6) : r.int(120));
  for (let i = 0; i < n; i++) {
    const op = r.float();
    if (op < 0.3) upserts.set(randomName(r), val());
    else if (op < 0.45 && keys.length > 0) {
      const k = r.pick(keys);
      // Half the time a new object with the old value: "same" for diffMaps, yet a new object.
      upserts.set(k, r.chance(0.5) ? val(ref.get(k)!.v) : val());
    } else if (op < 0.55) upserts.set(nameBelow(r, [...keys, ...upserts.keys()]), val());
    else if (op < 0.85 && keys.length > 0) removes.push(r.pick(keys));
    else if (op < 0.92) removes.push(randomName(r));
    else if (upserts.size > 0) removes.push(r.pick([...upserts.keys()]));
  }
  return { upserts, removes };
}

function applyRef<V>(
  ref: ReadonlyMap<string, V>,
  upserts: ReadonlyMap<string, V>,
  removes: Iterable<string>,
): Map<string, V> {
  const out = new Map(ref);
  for (const k of removes) if (!upserts.has(k)) out.delete(k);
  for (const [k, v] of upserts) out.set(k, v);
  return out;
}

function initialEntries(r: Rand, n: number): Map<string, Val> {
  const m = new Map<string, Val>();
  while (m.size < n) m.set(randomName(r) + (r.chance(0.5) ? String(m.size) : ''), val());
  return m;
}

/** lastChunkTouched: which chunks of `m` a patch lands in, by the rule "the last chunk whose first name is ≤ the name, else the first". */
function touchedChunks<V>(m: ChunkedMap<V>, names: Iterable<string>): Set<number> {
  const out = new Set<number>();
  for (const n of names) {
    let idx = 0;
    m.chunks.forEach((c, i) => {
      if (compareKeys(c.first, n) <= 0) idx = i;
    });
    out.add(idx);
  }
  return out;
}

interface Version {
  readonly map: ChunkedMap<Val>;
  readonly ref: Map<string, Val>;
}

/** evolve runs `steps` random patches from an initial map of `size` entries, checking each version; returns them all. */
function evolve(seed: number, size: number, steps: number): Version[] {
  const r = new Rand(seed);
  const start = initialEntries(r, size);
  let ref = start;
  let map = ChunkedMap.fromSorted(sortedEntries(start));
  checkMap(map, ref, [nameBelow(r, ref.keys()), randomName(r)], `seed ${seed} fromSorted(${size})`);
  checkChunks(map, `seed ${seed} fromSorted(${size})`);
  const versions: Version[] = [{ map, ref }];
  for (let step = 0; step < steps; step++) {
    const what = `seed ${seed} step ${step}`;
    const { upserts, removes } = randomPatch(r, ref);
    const nextRef = applyRef(ref, upserts, removes);
    const next = map.patch(upserts, removes);
    const effective = [...upserts.keys(), ...removes.filter((k) => ref.has(k) && !upserts.has(k))];
    if (effective.length === 0) assert.equal(next, map, `${what}: a patch changing nothing returns the same map`);
    const probes = [
      nameBelow(r, nextRef.keys()),
      randomName(r),
      ...removes.slice(0, 5),
      ...[...upserts.keys()].slice(0, 5),
    ];
    checkMap(next, nextRef, probes, what);
    checkChunks(next, what);
    // The previous version is untouched by the patch.
    checkMap(map, ref, probes, `${what} (previous version)`);
    // Chunks the patch does not land in are shared with the previous version.
    const touched = touchedChunks(map, effective);
    const kept = new Set(next.chunks);
    map.chunks.forEach((c, i) => {
      if (!touched.has(i)) assert.ok(kept.has(c), `${what}: untouched chunk ${i} is not shared`);
    });
    // diffMaps on consecutive versions (they share chunks) equals the brute-force diff, both ways.
    checkDiff(map, next, ref, nextRef, sameVal, `${what} diff`);
    checkDiff(next, map, nextRef, ref, sameVal, `${what} reverse diff`);
    map = next;
    ref = nextRef;
    versions.push({ map, ref });
  }
  return versions;
}

// ---------------------------------------------------------------- ChunkedMap

test('ChunkedMap equals a reference Map through random patches (sizes 0 to ~3000, below-first names, emptying, splits)', () => {
  let maxSize = 0;
  let sawEmptyAfterNonEmpty = false;
  let maxChunks = 0;
  for (const [seed, size] of [
    [1, 0],
    [2, 1],
    [3, 255],
    [4, 256],
    [5, 257],
    [6, 600],
    [7, 1500],
    [8, 2900],
  ] as const) {
    const versions = evolve(seed, size, 70);
    for (let i = 1; i < versions.length; i++) {
      maxSize = Math.max(maxSize, versions[i]!.ref.size);
      maxChunks = Math.max(maxChunks, versions[i]!.map.chunks.length);
      if (versions[i]!.ref.size === 0 && versions[i - 1]!.ref.size > 0) sawEmptyAfterNonEmpty = true;
    }
  }
  // The random walk did reach the cases it is meant to cover.
  assert.ok(maxSize >= 2500, `largest map ${maxSize}`);
  assert.ok(maxChunks >= 8, `most chunks ${maxChunks}`);
  assert.ok(sawEmptyAfterNonEmpty, 'some patch emptied a map');
});

test('ChunkedMap.fromSorted of no entries is empty, and patching it adds entries', () => {
  const empty = ChunkedMap.fromSorted<Val>([]);
  checkMap(empty, new Map(), ['a', ''], 'empty');
  assert.equal(empty.patch(new Map(), ['a']), empty);
  const a = val();
  const one = empty.patch(new Map([['a', a]]), []);
  checkMap(one, new Map([['a', a]]), ['b', ''], 'one');
  checkMap(empty, new Map(), ['a'], 'empty after patch');
});

test('diffMaps on unrelated and distant ChunkedMaps equals the brute-force diff', () => {
  const a = evolve(11, 800, 25);
  const b = evolve(12, 1300, 25);
  const pairs: Array<[Version, Version, string]> = [
    [a[0]!, b[0]!, 'unrelated'],
    [a[25]!, b[25]!, 'unrelated, patched'],
    [a[0]!, a[25]!, 'first and last'],
    [a[25]!, a[3]!, 'last and fourth'],
    [a[10]!, a[10]!, 'identical'],
  ];
  // Two branches from one version share chunks without one being a patch of the other.
  const r = new Rand(13);
  const base = a[12]!;
  const left = randomPatch(r, base.ref);
  const right = randomPatch(r, base.ref);
  pairs.push([
    { map: base.map.patch(left.upserts, left.removes), ref: applyRef(base.ref, left.upserts, left.removes) },
    { map: base.map.patch(right.upserts, right.removes), ref: applyRef(base.ref, right.upserts, right.removes) },
    'sibling branches',
  ]);
  for (const [p, n, what] of pairs) checkDiff(p.map, n.map, p.ref, n.ref, sameVal, what);
  const same = diffMaps(a[10]!.map, a[10]!.map, sameVal);
  assert.deepEqual([same.changed, same.added, same.removed], [[], [], []]);
});

// ---------------------------------------------------------------- LayeredMap

function randomTop(r: Rand, base: ReadonlyMap<string, Val>): Map<string, Val> {
  const top = new Map<string, Val>();
  const keys = [...base.keys()];
  const n = r.int(12);
  for (let i = 0; i < n; i++) {
    const op = r.float();
    if (op < 0.35 && keys.length > 0) {
      // Hide a base entry, sometimes with an equal value.
      const k = r.pick(keys);
      top.set(k, r.chance(0.3) ? val(base.get(k)!.v) : val());
    } else if (op < 0.5) top.set(nameBelow(r, [...keys, ...top.keys()]), val());
    else top.set(randomName(r), val());
  }
  return top;
}

function merged(base: ReadonlyMap<string, Val>, top: ReadonlyMap<string, Val>): Map<string, Val> {
  const m = new Map(base);
  for (const [k, v] of top) m.set(k, v);
  return m;
}

test('LayeredMap equals its base merged with its top (the top hides the base), over chunked, plain and layered bases', () => {
  const r = new Rand(21);
  const versions = [...evolve(22, 0, 20), ...evolve(23, 1200, 20)];
  for (const [i, v] of versions.entries()) {
    const bases: Array<[ResourceMap<Val>, string]> = [
      [v.map, 'chunked'],
      [new Map(sortedEntries(v.ref)), 'plain'],
    ];
    for (const [base, kind] of bases) {
      const top = randomTop(r, v.ref);
      const layered = new LayeredMap(base, top);
      const ref = merged(v.ref, top);
      checkMap(layered, ref, [nameBelow(r, ref.keys()), randomName(r), ...top.keys()], `version ${i} over ${kind}`);
      // A layer over a layer.
      const top2 = randomTop(r, ref);
      checkMap(
        new LayeredMap(layered, top2),
        merged(ref, top2),
        [randomName(r)],
        `version ${i} two layers over ${kind}`,
      );
    }
  }
  checkMap(new LayeredMap(new Map<string, Val>(), new Map()), new Map(), ['a'], 'empty over empty');
});

// ---------------------------------------------------------------- diffMaps across kinds

test('diffMaps equals the brute-force diff for layered, mixed and plain maps', () => {
  const r = new Rand(31);
  const versions = evolve(32, 700, 30);
  const other = evolve(33, 300, 5);
  let checked = 0;
  for (let i = 1; i < versions.length; i++) {
    const p = versions[i - 1]!;
    const n = versions[i]!;
    const topP = randomTop(r, p.ref);
    // Same top, new top, top with a name only in the next base, and an emptied top.
    const topN = r.chance(0.3) ? topP : r.chance(0.5) ? randomTop(r, n.ref) : new Map<string, Val>();
    const lp = new LayeredMap(p.map, topP);
    const ln = new LayeredMap(n.map, topN);
    const mp = merged(p.ref, topP);
    const mn = merged(n.ref, topN);
    const plainP = new Map(sortedEntries(p.ref));
    const plainN = new Map(sortedEntries(n.ref));
    const topNested = randomTop(r, mp);
    const cases: Array<[ResourceMap<Val>, ResourceMap<Val>, Map<string, Val>, Map<string, Val>, string]> = [
      [lp, ln, mp, mn, 'layered over consecutive chunked'],
      [new LayeredMap(plainP, topP), new LayeredMap(plainN, topN), mp, mn, 'layered over plain'],
      [new LayeredMap(p.map, topP), new LayeredMap(p.map, topN), mp, merged(p.ref, topN), 'layered over one base'],
      [new LayeredMap(lp, topNested), ln, merged(mp, topNested), mn, 'nested layered vs layered'],
      [lp, n.map, mp, n.ref, 'layered vs chunked'],
      [p.map, ln, p.ref, mn, 'chunked vs layered'],
      [p.map, plainN, p.ref, n.ref, 'chunked vs plain'],
      [plainP, n.map, p.ref, n.ref, 'plain vs chunked'],
      [plainP, plainN, p.ref, n.ref, 'plain vs plain'],
      [
        new LayeredMap(other[i % other.length]!.map, topP),
        ln,
        merged(other[i % other.length]!.ref, topP),
        mn,
        'layered over unrelated bases',
      ],
    ];
    for (const [a, b, ra, rb, what] of cases) {
      checkDiff(a, b, ra, rb, sameVal, `step ${i} ${what}`);
      checkDiff(b, a, rb, ra, sameVal, `step ${i} ${what} (reversed)`);
      checked++;
    }
  }
  assert.ok(checked > 100);
});

// ---------------------------------------------------------------- type sets

function res(name: string, content: string): EncodedResource {
  return encodeResource(CLUSTER_TYPE, name, Buffer.from(content), {});
}

/** checkTypeSet asserts a set holds exactly `ref` and has the version and byte total of the same resources built from scratch. */
function checkTypeSet(set: TypeResources, ref: ReadonlyMap<string, EncodedResource>, what: string): void {
  checkMap(set.items, ref, [], what);
  const scratch = typeSet(CLUSTER_TYPE, [...ref.values()]);
  assert.equal(set.version, scratch.version, `${what}: version vs typeSet from scratch`);
  assert.equal(set.version, setVersion(ref.values()), `${what}: version vs setVersion`);
  assert.deepEqual([...set.sum], [...scratch.sum], `${what}: sum`);
  let bytes = 0;
  for (const r of ref.values()) bytes += r.any.length;
  assert.equal(set.bytes, bytes, `${what}: byte total`);
}

test('patchTypeSet keeps the version of the same resources built from scratch, through random patches across the chunking threshold', () => {
  const r = new Rand(41);
  let sawChunked = false;
  let sawPlain = false;
  for (const startSize of [0, 3, 500, 700]) {
    const names: string[] = [];
    for (let i = 0; i < 1600; i++) names.push(`c-${randomName(r)}-${i % 97}`);
    let ref = new Map<string, EncodedResource>();
    for (let i = 0; i < startSize; i++) {
      const n = r.pick(names);
      ref.set(n, res(n, `v${'+'.repeat(r.int(3))}`));
    }
    let set = typeSet(CLUSTER_TYPE, [...ref.values()]);
    checkTypeSet(set, ref, `start ${startSize}`);
    const versionsSeen = new Map<string, string>([
      [set.version, JSON.stringify(sortedEntries(ref).map(([n, x]) => [n, x.version]))],
    ]);
    for (let step = 0; step < 60; step++) {
      const what = `start ${startSize} step ${step}`;
      const upserts: EncodedResource[] = [];
      const removes: string[] = [];
      const keys = [...ref.keys()];
      const big = r.chance(0.1);
      const n = big ? 100 + r.int(400) : 1 + r.int(8);
      for (let i = 0; i < n; i++) {
        const op = r.float();
        if (op < 0.4) {
          const nm = r.pick(names);
          upserts.push(res(nm, `v${'+'.repeat(r.int(3))}`)); // often the content it has: same version, new object
        } else if (op < 0.5 && keys.length > 0)
          upserts.push(ref.get(r.pick(keys))!); // the very same object
        else if (op < 0.85 && keys.length > 0) removes.push(r.pick(keys));
        else if (op < 0.9)
          removes.push(r.pick(names)); // maybe absent
        else if (upserts.length > 0) removes.push(r.pick(upserts).name); // upserted and removed: stays
      }
      if (r.chance(0.05)) removes.push(...keys);
      // A name may come twice (the later resource wins) and be removed more than once.
      const last = new Map(upserts.map((u) => [u.name, u]));
      const nextRef = new Map(ref);
      for (const k of removes) if (!last.has(k)) nextRef.delete(k);
      for (const u of last.values()) nextRef.set(u.name, u);
      const next = patchTypeSet(set, CLUSTER_TYPE, upserts, removes);
      const changes =
        [...last.values()].some((u) => ref.get(u.name) !== u) || removes.some((k) => ref.has(k) && !last.has(k));
      // (With a name given twice, an unchanged outcome may still be a new set.)
      if (!changes && last.size === upserts.length) assert.equal(next, set, `${what}: nothing changed, same object`);
      if (changes) assert.notEqual(next, set, `${what}: a change gives a new set`);
      checkTypeSet(next, nextRef, what);
      // The version is a function of the (name, version) pairs.
      const content = JSON.stringify(sortedEntries(nextRef).map(([nm, x]) => [nm, x.version]));
      const seen = versionsSeen.get(next.version);
      if (seen !== undefined) assert.equal(seen, content, `${what}: two different sets share version ${next.version}`);
      versionsSeen.set(next.version, content);
      // The previous set is not changed by the patch.
      checkTypeSet(set, ref, `${what} (previous)`);
      if (next.items instanceof ChunkedMap) sawChunked = true;
      else sawPlain = true;
      set = next;
      ref = nextRef;
    }
  }
  assert.ok(sawChunked && sawPlain, 'both plain and chunked sets were patched');
});

test('patchTypeSet returns the same set when nothing changes, and a content change changes the version', () => {
  for (const size of [5, 800]) {
    const list = Array.from({ length: size }, (_, i) => res(`r${i}`, `c${i}`));
    const set = typeSet(CLUSTER_TYPE, list);
    assert.equal(patchTypeSet(set, CLUSTER_TYPE, [], []), set);
    assert.equal(patchTypeSet(set, CLUSTER_TYPE, [list[1]!, list[size - 1]!], ['absent', 'r0\u0000']), set);
    const changed = patchTypeSet(set, CLUSTER_TYPE, [res('r1', 'c1-new')], []);
    assert.notEqual(changed.version, set.version);
    const back = patchTypeSet(changed, CLUSTER_TYPE, [res('r1', 'c1')], []);
    assert.equal(back.version, set.version, 'the same content again gives the same version');
    const gone = patchTypeSet(set, CLUSTER_TYPE, [], ['r2']);
    assert.notEqual(gone.version, set.version);
    assert.equal(patchTypeSet(gone, CLUSTER_TYPE, [list[2]!], []).version, set.version);
  }
});

test('layerTypeSet over a patched set has the version and items of the merged resources built from scratch', () => {
  const r = new Rand(51);
  for (const size of [0, 40, 900]) {
    let ref = new Map<string, EncodedResource>();
    for (let i = 0; i < size; i++) ref.set(`s${i}`, res(`s${i}`, `x${r.int(4)}`));
    let base = typeSet(CLUSTER_TYPE, [...ref.values()]);
    assert.equal(layerTypeSet(base, CLUSTER_TYPE, []), base, 'an empty top is the base itself');
    for (let step = 0; step < 25; step++) {
      const what = `size ${size} step ${step}`;
      const keys = [...ref.keys()];
      const upserts = Array.from({ length: 1 + r.int(5) }, () => {
        const n = keys.length > 0 && r.chance(0.5) ? r.pick(keys) : `s${r.int(size + 50)}`;
        return res(n, `x${r.int(4)}`);
      });
      const unique = [...new Map(upserts.map((u) => [u.name, u])).values()];
      const removes = keys.length > 0 ? [r.pick(keys)] : [];
      const nextRef = new Map(ref);
      for (const k of removes) if (!unique.some((u) => u.name === k)) nextRef.delete(k);
      for (const u of unique) nextRef.set(u.name, u);
      base = patchTypeSet(base, CLUSTER_TYPE, unique, removes);
      ref = nextRef;
      checkTypeSet(base, ref, `${what} base`);
      // A group's own resources: some hide base entries (with equal or different content), some are new.
      const top = new Map<string, EncodedResource>();
      for (let i = r.int(6); i >= 0; i--) {
        const hide = ref.size > 0 && r.chance(0.5);
        const n = hide ? r.pick([...ref.keys()]) : i % 2 === 0 ? `!own${r.int(9)}` : `~own${r.int(9)}`;
        top.set(n, res(n, r.chance(0.3) && hide ? `x${r.int(4)}` : `own${r.int(4)}`));
      }
      const layered = layerTypeSet(base, CLUSTER_TYPE, [...top.values()]);
      const all = new Map(ref);
      for (const [k, v] of top) all.set(k, v);
      checkTypeSet(layered, all, `${what} layered`);
    }
  }
  const base = typeSet(CLUSTER_TYPE, [res('a', '1')]);
  assert.throws(() => layerTypeSet(base, CLUSTER_TYPE, [res('b', '1'), res('b', '2')]), /duplicate/);
});

// The version is the hash of the items, whatever the patch looks like.
test('patchTypeSet: a name upserted as its current object and also removed is kept (an upserted name is not deleted)', () => {
  for (const size of [2, 600]) {
    const list = Array.from({ length: size }, (_, i) => res(`n${i}`, '1'));
    const set = typeSet(CLUSTER_TYPE, list);
    const next = patchTypeSet(set, CLUSTER_TYPE, [list[1]!], ['n1']);
    assert.ok(next.items.get('n1') === list[1], `size ${size}: n1 is kept`);
    checkTypeSet(next, new Map(list.map((r) => [r.name, r])), `size ${size}`);
  }
});

test('patchTypeSet: the version describes the items when a patch names a resource twice', () => {
  for (const size of [5, 600]) {
    const list = Array.from({ length: size }, (_, i) => res(`n${i}`, '1'));
    const set = typeSet(CLUSTER_TYPE, list);
    const removedTwice = patchTypeSet(set, CLUSTER_TYPE, [], ['n3', 'n3']);
    assert.equal(removedTwice.version, setVersion(removedTwice.items.values()), `size ${size}: removed twice`);
    // A name upserted twice: the later resource wins, and only it counts in the version.
    const later = res('n3', '3');
    const upsertedTwice = patchTypeSet(set, CLUSTER_TYPE, [res('n3', '2'), later], []);
    assert.equal(upsertedTwice.items.get('n3'), later, `size ${size}: the later resource is kept`);
    assert.equal(upsertedTwice.version, setVersion(upsertedTwice.items.values()), `size ${size}: upserted twice`);
  }
});
