/**
 * Quiet period plus max wait (consul-template's `wait {min, max}`): `poke()`
 * on every change; `fire(firstAt)` runs once the changes have been quiet for
 * `quietMs`, or `maxWaitMs` after the first pending change at the latest, so
 * a steady trickle of changes cannot postpone an apply forever.
 */
export class Debouncer {
  private firstAt: number | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly quietMs: number,
    private readonly maxWaitMs: number,
    private readonly fire: (firstAt: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** A change happened (at `at`, default now). */
  poke(at: number = this.now()): void {
    if (this.firstAt === undefined) {
      this.firstAt = at;
      this.maxTimer = setTimeout(() => this.flush(), Math.max(0, this.maxWaitMs));
    }
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.flush(), Math.max(0, this.quietMs));
  }

  get pending(): boolean {
    return this.firstAt !== undefined;
  }

  cancel(): void {
    clearTimeout(this.quietTimer);
    clearTimeout(this.maxTimer);
    this.quietTimer = undefined;
    this.maxTimer = undefined;
    this.firstAt = undefined;
  }

  private flush(): void {
    const first = this.firstAt;
    this.cancel();
    if (first !== undefined) this.fire(first);
  }
}
