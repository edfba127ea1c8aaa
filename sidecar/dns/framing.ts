/**
 * Reassembles length-prefixed DNS messages (RFC 1035 §4.2.2) from TCP chunks
 * in linear time. Bytes wait in one buffer whose capacity doubles when it
 * must grow, so each byte is copied a bounded number of times whatever the
 * chunking; concatenating the whole backlog on every chunk (what this
 * replaced) costs O(n²): ~2 GB of copying for one 64 KiB message dribbled in
 * 1-byte chunks. Memory is at most twice the bytes waiting.
 */
export class TcpFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** First unread byte in buf. */
  private start = 0;
  /** One past the last written byte in buf. */
  private end = 0;

  /** Bytes received and not yet returned as a message. */
  get buffered(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.buf.length) this.makeRoom(chunk.length);
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /** The next complete message (a copy, without its length prefix), or undefined until one is complete. */
  next(): Buffer | undefined {
    const have = this.end - this.start;
    if (have < 2) return undefined;
    const len = this.buf.readUInt16BE(this.start);
    if (have < 2 + len) return undefined;
    const msg = Buffer.from(this.buf.subarray(this.start + 2, this.start + 2 + len));
    this.start += 2 + len;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      // Let a big buffer go once it is empty: an idle connection keeps no more than a query's worth.
      if (this.buf.length > 4096) this.buf = Buffer.alloc(0);
    }
    return msg;
  }

  private makeRoom(extra: number): void {
    const have = this.end - this.start;
    const need = have + extra;
    if (need <= this.buf.length / 2) {
      // Plenty of room once the consumed prefix goes: move the unread bytes to the front.
      this.buf.copy(this.buf, 0, this.start, this.end);
    } else {
      const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2, 512));
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
    }
    this.start = 0;
    this.end = have;
  }
}
