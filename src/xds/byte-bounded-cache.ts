// A cache bounded by the bytes its entries stand for, not by their count: a few large entries
// cannot hold more memory than a budget allows, however few they are.

/** ByteBoundedCacheOptions size a ByteBoundedCache. */
export interface ByteBoundedCacheOptions<K, V> {
  /** Most bytes kept; the least recently used entries go first beyond it. */
  readonly maxBytes: number;
  /** Entries larger than this are not kept at all (default a quarter of maxBytes). */
  readonly maxEntryBytes?: number;
  /** The bytes an entry stands for, measured once when it is set. */
  readonly sizeOf: (value: V, key: K) => number;
  /** Called for every entry that leaves the cache (evicted, deleted or replaced). */
  readonly onRemove?: (value: V, key: K) => void;
}

/** ByteBoundedCache is a least-recently-used map whose entries together stay within maxBytes. */
export class ByteBoundedCache<K, V> {
  private readonly map = new Map<K, { readonly value: V; readonly size: number }>();
  private total = 0;
  private readonly maxEntryBytes: number;

  constructor(private readonly opts: ByteBoundedCacheOptions<K, V>) {
    this.maxEntryBytes = opts.maxEntryBytes ?? opts.maxBytes / 4;
  }

  /** bytes is the sum of the sizes of the entries kept. */
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

  /** set keeps `value` under `key` unless it is larger than maxEntryBytes; it says whether it was kept. */
  set(key: K, value: V): boolean {
    this.delete(key);
    const size = this.opts.sizeOf(value, key);
    if (size > this.maxEntryBytes) return false;
    this.map.set(key, { value, size });
    this.total += size;
    for (const [k] of this.map) {
      if (this.total <= this.opts.maxBytes) break;
      this.delete(k);
    }
    return true;
  }

  delete(key: K): void {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.total -= e.size;
    this.opts.onRemove?.(e.value, key);
  }

  clear(): void {
    for (const k of [...this.map.keys()]) this.delete(k);
  }
}
