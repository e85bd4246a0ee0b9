// Pods of one workload are copies of one template: every replica carries the same containers,
// volumes, tolerations, labels and owner. Kept per pod, the cache of a 10,000-pod cluster holds
// 10,000 copies of a few templates; kept once, a cached pod costs little more than its name, UID
// and node. Values are matched by a SHA-256 of their JSON text (a pod's creator can't make two
// different values collide), held weakly (a value no cached pod uses any more is collected, and
// its entry with it), and frozen: no pod's view can change another's. Nothing in the engine
// writes to a view; a write would now throw instead of corrupting every replica.
import { hash } from 'node:crypto';

export class SharedValues {
  readonly #pool = new Map<string, WeakRef<object>>();
  readonly #collected = new FinalizationRegistry<string>((key) => {
    if (this.#pool.get(key)?.deref() === undefined) this.#pool.delete(key);
  });

  /** The value itself, or an equal one already shared (frozen, as this one is from now on). */
  share<T>(value: T): T {
    if (value === null || typeof value !== 'object') return value;
    const key = hash('sha256', JSON.stringify(value), 'base64url');
    const known = this.#pool.get(key)?.deref();
    if (known !== undefined) return known as T;
    deepFreeze(value);
    this.#pool.set(key, new WeakRef(value));
    this.#collected.register(value, key);
    return value;
  }

  readonly #texts = new Map<string, string>();

  /**
   * One copy of a short string many pods hold (their namespace, node, creation second, service
   * account). Strings can't be held weakly, so the table is bounded and starts over when full:
   * at worst a string is kept twice.
   */
  text<T extends string | undefined>(value: T): T {
    if (value === undefined || value.length > MAX_TEXT_LENGTH) return value;
    const known = this.#texts.get(value);
    if (known !== undefined) return known as T;
    if (this.#texts.size >= MAX_TEXTS) this.#texts.clear();
    this.#texts.set(value, value);
    return value;
  }

  /** Distinct values held (some may be collected and not yet forgotten). */
  get size(): number {
    return this.#pool.size;
  }
}

const MAX_TEXTS = 10_000;
const MAX_TEXT_LENGTH = 256;

function deepFreeze(value: object): void {
  if (Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) if (v !== null && typeof v === 'object') deepFreeze(v);
}
