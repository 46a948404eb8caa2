// A size-bounded cache for string-keyed results, shared by the translator and the server.

/** BoundedMap is a Map that forgets its oldest entry beyond `max` entries (for caches keyed by strings). */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
}
