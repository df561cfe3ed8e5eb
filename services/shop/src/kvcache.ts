// Compare-and-set on JetStream KV with a per-process cache of the last value and revision
// written or read. A change is written at the cached revision (one round trip instead of a
// read plus a write); if another writer got there first the write fails, the cache entry is
// dropped and the change is retried on a fresh read — so the cache saves reads, never
// correctness. A decision to change nothing is always confirmed on a fresh read, because a
// stale cache may be what made it look like nothing was to be done.
import type { KV } from "@nats-io/kv";
import { JetStreamApiError } from "@nats-io/jetstream";
import { KeyedMutex } from "./keyed-mutex.ts";

interface Cached<T> {
  value: T | undefined;
  revision: number;
}

export interface CasResult<T> {
  value: T | undefined;
  changed: boolean;
  revision: number;
}

const WRONG_LAST_SEQUENCE = 10071;

export class KvCache<T> {
  readonly kv: KV;
  private readonly maxEntries: number;
  private readonly cache = new Map<string, Cached<T>>();
  // Writers of one key in this process queue up instead of failing each other's CAS.
  private readonly locks = new KeyedMutex();

  constructor(kv: KV, opts: { maxEntries?: number } = {}) {
    this.kv = kv;
    this.maxEntries = opts.maxEntries ?? 20_000;
  }

  /** The current value, read from the server. */
  async get(key: string): Promise<T | undefined> {
    return (await this.load(key)).value;
  }

  /**
   * Applies `fn` (pure; may run more than once) and writes its result with compare-and-set;
   * undefined from `fn` means no change.
   */
  update(key: string, fn: (current: T | undefined) => T | undefined, maxAttempts = 20): Promise<CasResult<T>> {
    return this.locks.run(key, () => this.updateLocked(key, fn, maxAttempts));
  }

  /** The cached value if there is one, else the server's (may be stale; CAS protects writes). */
  async peek(key: string): Promise<T | undefined> {
    const c = this.cache.get(key);
    return c ? c.value : (await this.load(key)).value;
  }

  /**
   * Creates `key` with `value` unless it exists, without reading first (for keys that are
   * usually new); returns the existing value, unchanged, when it does exist.
   */
  insert(key: string, value: T): Promise<CasResult<T>> {
    return this.locks.run(key, async () => {
      if (!this.cache.has(key)) {
        try {
          const revision = await this.kv.create(key, JSON.stringify(value));
          this.remember(key, { value, revision });
          return { value, changed: true, revision };
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
      }
      return this.updateLocked(key, (cur) => (cur === undefined ? value : undefined), 20);
    });
  }

  private async updateLocked(key: string, fn: (current: T | undefined) => T | undefined, maxAttempts: number): Promise<CasResult<T>> {
    let fresh = false;
    let cur = this.cache.get(key);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (!cur) {
        cur = await this.load(key);
        fresh = true;
      }
      const next = fn(cur.value);
      if (next === undefined) {
        if (fresh) return { value: cur.value, changed: false, revision: cur.revision };
        cur = undefined; // confirm "nothing to do" on a fresh read
        continue;
      }
      try {
        const payload = JSON.stringify(next);
        const revision = cur.revision === 0 ? await this.kv.create(key, payload) : await this.kv.update(key, payload, cur.revision);
        this.remember(key, { value: next, revision });
        return { value: next, changed: true, revision };
      } catch (err) {
        this.cache.delete(key);
        if (!isConflict(err)) throw err;
        cur = undefined;
        if (attempt > 2) await new Promise((r) => setTimeout(r, Math.min(50, attempt * attempt)));
      }
    }
    throw new Error(`KV key ${key}: gave up after ${maxAttempts} compare-and-set attempts`);
  }

  private async load(key: string): Promise<Cached<T>> {
    const e = await this.kv.get(key);
    const c: Cached<T> = e && e.operation === "PUT" ? { value: e.json() as T, revision: e.revision } : { value: undefined, revision: e?.revision ?? 0 };
    // A deleted key keeps its revision: `kv.create` handles that case, so cache it as absent.
    if (c.value === undefined) c.revision = 0;
    this.remember(key, c);
    return c;
  }

  private remember(key: string, c: Cached<T>): void {
    this.cache.delete(key);
    this.cache.set(key, c);
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  /** Forgets a key (e.g. once its record is final and will not be read again). */
  forget(key: string): void {
    this.cache.delete(key);
  }
}

function isConflict(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === WRONG_LAST_SEQUENCE || /wrong last sequence/i.test(err.message);
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}
