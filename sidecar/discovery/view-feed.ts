import type { SubscribeOptions } from '../../runtime/base/events.js';
import type { CatalogView, ServiceInstance } from './types.js';

/**
 * Holds the current `CatalogView` and fans it out to watchers. Each watcher
 * sees the view at subscription time first, then every later view; a watcher
 * that reads slowly skips intermediate views and gets the newest one (a view
 * is a full snapshot, so nothing is lost by skipping).
 */
export class ViewFeed {
  private current: CatalogView;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(initial: Omit<CatalogView, 'index'> & { index?: number }) {
    this.current = freeze({ index: initial.index ?? 0, instances: initial.instances, stale: initial.stale });
  }

  get view(): CatalogView {
    return this.current;
  }

  /** Publishes a new view when it differs from the current one; returns whether it did. */
  update(instances: ServiceInstance[], stale: boolean): boolean {
    const sorted = sortInstances(instances);
    if (stale === this.current.stale && sameInstances(sorted, this.current.instances)) return false;
    this.current = freeze({ index: this.current.index + 1, instances: sorted, stale });
    this.wake();
    return true;
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  async *watch(opts: SubscribeOptions = {}): AsyncIterable<CatalogView> {
    const signal = opts.signal;
    let lastIndex = -1;
    // Ends with the signal or close(); each round either yields or waits for a change.
    while (!this.closed && !signal?.aborted) {
      if (this.current.index !== lastIndex) {
        lastIndex = this.current.index;
        yield this.current;
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function freeze(view: CatalogView): CatalogView {
  return Object.freeze({ ...view, instances: Object.freeze([...view.instances]) as ServiceInstance[] });
}

/** Stable order (service, id) so that equal contents compare equal and views diff cleanly. */
export function sortInstances(instances: ServiceInstance[]): ServiceInstance[] {
  return [...instances].sort((a, b) =>
    a.service === b.service ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.service < b.service ? -1 : 1,
  );
}

function sameInstances(a: readonly ServiceInstance[], b: readonly ServiceInstance[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (canonical(a[i]) !== canonical(b[i])) return false;
  }
  return true;
}

/** JSON with sorted keys, so two instances with the same contents compare equal. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val !== null && typeof val === 'object' && !Array.isArray(val)) {
      const rec = val as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(rec).sort()) out[k] = rec[k];
      return out;
    }
    return val;
  });
}
