/**
 * Serialises async sections per key, in one process: `run(key, fn)` starts
 * `fn` once every earlier `run` with the same key has settled; different keys
 * run in parallel. A rejected or throwing `fn` releases the key like a
 * resolved one (its caller gets the error, the next section still runs).
 *
 * A promise chain per key: the map holds a key only while a section with it
 * is running or waiting, so keys that come and go (container ids, snapshot
 * keys, Consul service ids) do not pile up.
 */
export class KeyedMutex<K = string> {
  private readonly tails = new Map<K, Promise<void>>();

  run<T>(key: K, fn: () => T | Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    // `prev` never rejects (see `tail`); a synchronous throw in fn becomes a rejection here.
    const result = prev.then(fn);
    const tail = result.then(settled, settled);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether a section with this key is running or waiting. */
  isLocked(key: K): boolean {
    return this.tails.has(key);
  }

  /** Keys with a section running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}

/** One lock: `KeyedMutex` with a single key (IPAM and bridge state, an index file, an apply queue). */
export class Mutex {
  private readonly keyed = new KeyedMutex<0>();

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.keyed.run(0, fn);
  }

  /** Resolves once every section queued so far has settled (a close waits for the work in hand). */
  async drain(): Promise<void> {
    await this.run(settled);
  }

  /** Whether a section is running or waiting. */
  get locked(): boolean {
    return this.keyed.isLocked(0);
  }
}

function settled(): void {}
