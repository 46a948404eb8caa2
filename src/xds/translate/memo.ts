// Memoisation keyed on model objects. A Service (or MeshState) object is replaced when it changes
// and shared while it does not, so results hang off the objects they were built from and are
// dropped with them (WeakMap): nothing to invalidate, nothing to leak.

/**
 * sameItems says whether two lists hold the same values (by ===) in the same order; a plain loop, as it runs on hot
 * paths.
 */
export function sameItems<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Memo caches values per owner object and string key, valid while `deps` are the same objects. */
export class Memo<V> {
  private readonly byOwner = new WeakMap<
    object,
    Map<string, { readonly deps: readonly object[]; readonly value: V }>
  >();

  /** get returns the cached value, or builds, stores and returns it. */
  get(owner: object, key: string, deps: readonly object[], build: () => V): V {
    let entries = this.byOwner.get(owner);
    if (!entries) this.byOwner.set(owner, (entries = new Map()));
    const hit = entries.get(key);
    if (hit && sameItems(hit.deps, deps)) return hit.value;
    const value = build();
    entries.set(key, { deps: [...deps], value });
    return value;
  }
}
