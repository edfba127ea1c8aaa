/**
 * A response body written straight into one growing Buffer. A scrape of
 * 1,000 containers is ~7.6 MB in ~43,000 lines: building each line as a
 * string and joining them, then encoding the result, costs about twice as
 * much as writing the parts (metric name, the container's label string,
 * the value) where they go. The buffer is kept and reused by the next
 * scrape once the response that holds it is done (see MetricsServer).
 */
export class BodyBuffer {
  private buf: Buffer;
  private len = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** Capacity in bytes (kept across reuse: the next scrape is about as large). */
  get capacity(): number {
    return this.buf.length;
  }

  reset(): void {
    this.len = 0;
  }

  /** Text known to be ASCII (metric names, numbers, fixed syntax): one byte per character. */
  ascii(s: string): void {
    this.ensure(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
  }

  /** Any text (label values, help): UTF-8. */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  /** The bytes written: a view, valid until the next reset(). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}
