/**
 * A bounded FIFO: pushing past `capacity` drops the oldest items. The log
 * pane keeps its lines here so a container printing thousands of lines a
 * second never grows the page past `capacity` lines. Items are kept in a
 * plain array with a moving head (amortized O(1) push and drop; compacted
 * when the dead head is as long as the capacity) so `at(i)` is O(1), which the
 * virtual scroller and the binary search of "jump to a time" rely on.
 */
export class Ring<T> {
  private items: T[] = [];
  private head = 0;
  /** How many items were dropped at the front since creation. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`ring capacity must be ≥ 1, got ${capacity}`);
  }

  get length(): number {
    return this.items.length - this.head;
  }

  at(i: number): T | undefined {
    return i < 0 || i >= this.length ? undefined : this.items[this.head + i];
  }

  last(): T | undefined {
    return this.at(this.length - 1);
  }

  /** Appends; returns how many old items fell off the front. */
  push(item: T): number {
    this.items.push(item);
    return this.trim();
  }

  pushAll(items: readonly T[]): number {
    for (const it of items) this.items.push(it);
    return this.trim();
  }

  /** Drops every item for which `keep` is false from the front (items are kept in order). */
  dropWhile(drop: (item: T) => boolean): number {
    let n = 0;
    while (this.length > 0 && drop(this.items[this.head] as T)) {
      this.head++;
      n++;
    }
    this.dropped += n;
    this.compact();
    return n;
  }

  clear(): void {
    this.dropped += this.length;
    this.items = [];
    this.head = 0;
  }

  toArray(): T[] {
    return this.items.slice(this.head);
  }

  private trim(): number {
    const over = this.length - this.capacity;
    if (over <= 0) return 0;
    this.head += over;
    this.dropped += over;
    this.compact();
    return over;
  }

  private compact(): void {
    if (this.head >= this.capacity || (this.head > 0 && this.head === this.items.length)) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
