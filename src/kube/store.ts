// The cache behind a reflector: objects by `namespace/name` (or `name` when cluster-scoped), with
// a namespace index so "every pod in namespace X" (a namespace relabelled, a policy changed) costs
// the pods in X, not every pod in the cluster.

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** The namespace part of a key ('' for cluster-scoped keys). */
export function keyNamespace(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}

export class Store<T> {
  #items = new Map<string, T>();
  #byNamespace = new Map<string, Set<string>>();

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  has(key: string): boolean {
    return this.#items.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#items.keys();
  }

  values(): IterableIterator<T> {
    return this.#items.values();
  }

  get size(): number {
    return this.#items.size;
  }

  inNamespace(namespace: string): T[] {
    const out: T[] = [];
    for (const key of this.#byNamespace.get(namespace) ?? []) {
      const v = this.#items.get(key);
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  keysInNamespace(namespace: string): string[] {
    return [...(this.#byNamespace.get(namespace) ?? [])];
  }

  set(key: string, value: T): void {
    if (!this.#items.has(key)) {
      const ns = keyNamespace(key);
      let keys = this.#byNamespace.get(ns);
      if (!keys) this.#byNamespace.set(ns, (keys = new Set()));
      keys.add(key);
    }
    this.#items.set(key, value);
  }

  delete(key: string): boolean {
    if (!this.#items.delete(key)) return false;
    const ns = keyNamespace(key);
    const keys = this.#byNamespace.get(ns);
    keys?.delete(key);
    // Drop empty sets so deleted namespaces do not leak index entries.
    if (keys?.size === 0) this.#byNamespace.delete(ns);
    return true;
  }
}
