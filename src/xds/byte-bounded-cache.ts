// The one eviction cache of the process: a least-recently-used map bounded by what its entries
// stand for — bytes, measured once per entry, so a few large entries cannot hold more memory than
// a budget allows however few they are; or simply entries, each counting one.

/** ByteBoundedCacheOptions size a cache by bytes. */
export interface ByBytes<K, V> {
  /** Most bytes kept; the least recently used entries go first beyond it. */
  readonly maxBytes: number;
  /** Entries larger than this are not kept at all (default a quarter of maxBytes). */
  readonly maxEntryBytes?: number;
  /** The bytes an entry stands for, measured once when it is set. */
  readonly sizeOf: (value: V, key: K) => number;
  /** Called for every entry that leaves the cache (evicted, deleted or replaced). */
  readonly onRemove?: (value: V, key: K) => void;
}

/** ByCount sizes a cache by its number of entries. */
export interface ByCount<K, V> {
  /** Most entries kept; the least recently used go first beyond it. */
  readonly maxEntries: number;
  readonly onRemove?: (value: V, key: K) => void;
}

export type ByteBoundedCacheOptions<K, V> = ByBytes<K, V> | ByCount<K, V>;

const ONE = (): number => 1;

/**
 * ByteBoundedCache is a least-recently-used map whose entries together stay within a budget.
 * get and set make an entry the most recently used; peek and has do not.
 */
export class ByteBoundedCache<K, V> {
  private readonly map = new Map<K, { readonly value: V; readonly size: number }>();
  private total = 0;
  private readonly max: number;
  private readonly maxEntry: number;
  private readonly sizeOf: (value: V, key: K) => number;
  private readonly onRemove?: (value: V, key: K) => void;

  constructor(opts: ByteBoundedCacheOptions<K, V>) {
    if ('maxEntries' in opts) {
      this.max = opts.maxEntries;
      this.maxEntry = 1;
      this.sizeOf = ONE;
    } else {
      this.max = opts.maxBytes;
      this.maxEntry = opts.maxEntryBytes ?? opts.maxBytes / 4;
      this.sizeOf = opts.sizeOf;
    }
    this.onRemove = opts.onRemove;
  }

  /** bytes is the sum of the sizes of the entries kept (their number, for a cache sized by count). */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.map.size;
  }

  /** get returns the entry for `key` and makes it the most recently used. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** peek returns the entry for `key` without changing the order of use. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /**
   * set keeps `value` under `key` (as the most recently used) unless it is over the entry limit; it
   * says whether it was kept.
   */
  set(key: K, value: V): boolean {
    this.delete(key);
    const size = this.sizeOf(value, key);
    if (size > this.maxEntry) return false;
    this.map.set(key, { value, size });
    this.total += size;
    if (this.total > this.max) {
      for (const [k] of this.map) {
        if (this.total <= this.max) break;
        this.delete(k);
      }
    }
    return true;
  }

  delete(key: K): void {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.total -= e.size;
    this.onRemove?.(e.value, key);
  }

  /** keys are the keys kept, least recently used first. */
  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  clear(): void {
    for (const k of [...this.map.keys()]) this.delete(k);
  }
}
