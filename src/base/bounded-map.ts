// The one bounded map. Memory the operator keeps per pod, per event or per policy name must not
// grow with what an attacker creates: a map that is full forgets its oldest entry to make room
// (insertion order; set() of an existing key refreshes it), so a flood costs a fixed amount of
// memory and only the oldest, least useful entries.

export class BoundedMap<K, V> {
  readonly max: number;
  #items = new Map<K, V>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be >= 1, got ${max}`);
    this.max = max;
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: K): V | undefined {
    return this.#items.get(key);
  }

  has(key: K): boolean {
    return this.#items.has(key);
  }

  set(key: K, value: V): this {
    if (this.#items.has(key)) this.#items.delete(key);
    else if (this.#items.size >= this.max) {
      const oldest = this.#items.keys().next();
      if (!oldest.done) this.#items.delete(oldest.value);
    }
    this.#items.set(key, value);
    return this;
  }

  /** The value for key, created with `make` (and stored) when absent. */
  getOrCreate(key: K, make: () => V): V {
    const had = this.#items.get(key);
    if (had !== undefined) return had;
    const v = make();
    this.set(key, v);
    return v;
  }

  delete(key: K): boolean {
    return this.#items.delete(key);
  }

  clear(): void {
    this.#items.clear();
  }

  keys(): IterableIterator<K> {
    return this.#items.keys();
  }

  values(): IterableIterator<V> {
    return this.#items.values();
  }

  entries(): IterableIterator<[K, V]> {
    return this.#items.entries();
  }
}
