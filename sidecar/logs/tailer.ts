// Over 400 lines: rotation, truncation, pinned files and partial-line joining all act on the same open handles and position.
import { createHash } from 'node:crypto';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { parseJsonFileEntry } from '../../runtime/exec/json-file-format.js';
import { type K8sEntry, parseK8sEntry } from '../../runtime/exec/k8s-format.js';
import type { LogLine } from './record.js';

/**
 * Tails one k8s-file log (conmon's format, one entry a line):
 *   `<RFC 3339 nano> <stdout|stderr> <F|P>[:tags] <text>`
 * and joins `P` (partial) fragments of a stream with its next entries up to
 * an `F`.
 *
 * Rotation by rename: berth's (runtime/exec/log-rotator.ts: the file is
 * renamed to `<path>.1`, conmon reopens and creates a new file at the path)
 * and conmon 2.1.6's own at --log-size-max (`<path>.tmp` renamed over the
 * path, the old inode unlinked). Either way the old inode stays readable
 * through the fd we hold and is final once the path names another inode
 * (conmon writes to it until its reopen). So the tailer reads its fd to EOF,
 * notices that the path now names another inode, reads the old fd to EOF once
 * more (writes may have landed between the EOF and the stat) and only then
 * switches to the new file from offset 0. After a restart, `rotatedPath`
 * (`.1`) is where reading resumes when the stored position is on it. A
 * copy-truncate rotation (same inode, size below our offset) is
 * detected too and restarts at 0; bytes written after the truncate and before
 * the next poll that lie below the old offset are read, above it they are not
 * distinguishable from old data (a known limit of copy-truncate, not ours).
 *
 * Pull-based: `poll()` returns what is available now; the caller decides
 * when to poll. Positions are (inode, byte offset after the entry's newline).
 */

export interface TailLine {
  line: LogLine;
  inode: number;
  /** Offset of the first byte of the line's first fragment. */
  start: number;
  /** Offset just past the newline of the line's last fragment. */
  end: number;
  /** Hash of the file's first entry: tells a reused inode number from the same file. */
  fingerprint: string;
}

export interface TailPosition {
  inode: number;
  offset: number;
  /** When set, the position is only good for a file whose first entry hashes to it. */
  fingerprint?: string;
}

export interface TailerOptions {
  /**
   * Resume here when the file at the path still has this inode (and
   * fingerprint), or when `rotatedPath` does: then that file is read from
   * here to its end first, then the one at the path.
   */
  position?: TailPosition;
  /**
   * The old file a rotation keeps (`<path>.1`, berth's own rotation): at the
   * first open it is read first, from `position` when that is on it, from its
   * start when nothing of it was acknowledged (no position, or one on neither
   * file), so a crash across a rotation loses nothing.
   */
  rotatedPath?: string;
  /** Most bytes read per poll (bounds memory and latency of one poll). */
  readBytes?: number;
  /**
   * Most bytes of one line joined from partial fragments. Past it, what was
   * joined so far is emitted as a `part` of the line and joining goes on
   * from there: nothing is lost, and memory holds at most this much per
   * stream (plus one fragment).
   */
  maxJoinBytes?: number;
  /**
   * The file's format: conmon's k8s-file, which is the CRI format (default),
   * or Docker's json-file (observe mode); both carry the same entries.
   */
  format?: 'k8s-file' | 'json-file';
}

export interface PollResult {
  lines: TailLine[];
  /** Lines that were not k8s-file entries (e.g. a crash cut one short). */
  malformed: number;
  /** The file was replaced (rename) or truncated since the last poll. */
  rotated: boolean;
  /** The path does not exist (container removed, or not yet created). */
  missing: boolean;
  /** True when the poll stopped at `readBytes` and more data is waiting. */
  more: boolean;
}

interface Fragment {
  time: string;
  /** The time as unix seconds and nanoseconds, when the tailer parsed it (see conmonTime). */
  sec: number | undefined;
  nsec: number | undefined;
  text: string;
  /** Offset of the line's first fragment (also after parts of it were emitted). */
  start: number;
  bytes: number;
  /** Parts of this line emitted already (a line longer than maxJoinBytes). */
  parts: number;
}

export class FileTailer {
  private fh: FileHandle | undefined;
  private inode = 0;
  private offset = 0;
  private fp = '';
  private carry: Buffer = Buffer.alloc(0);
  private readonly partial = new Map<'stdout' | 'stderr', Fragment>();
  private readonly readBytes: number;
  private readonly maxJoinBytes: number;
  private resumeFrom: TailPosition | undefined;
  private readonly rotatedPath: string | undefined;
  /** A file was opened once: later opens follow rotations, never look at `rotatedPath` again. */
  private opened = false;
  /** Files opened as soon as they appeared at the path, oldest first (see `pin`). */
  private pins: Promise<{ fh: FileHandle; ino: number } | undefined>[] = [];
  private readonly parse: (buf: Buffer, from: number, to: number) => K8sEntry | undefined;

  constructor(
    readonly path: string,
    opts: TailerOptions = {},
  ) {
    this.resumeFrom = opts.position;
    this.rotatedPath = opts.rotatedPath;
    this.readBytes = opts.readBytes ?? 1024 * 1024;
    this.maxJoinBytes = opts.maxJoinBytes ?? 1024 * 1024;
    this.parse = opts.format === 'json-file' ? parseJsonFileEntry : parseK8sEntry;
  }

  /** The inode and offset of the next unread byte (undefined before the file was opened). */
  position(): TailPosition | undefined {
    return this.fh ? { inode: this.inode, offset: this.offset, fingerprint: this.fp } : undefined;
  }

  /** Offset of the first byte of a partial line still being joined, if any. */
  pendingStart(): number | undefined {
    let min: number | undefined;
    for (const f of this.partial.values()) min = min === undefined ? f.start : Math.min(min, f.start);
    return min;
  }

  async poll(): Promise<PollResult> {
    const res: PollResult = { lines: [], malformed: 0, rotated: false, missing: false, more: false };
    if (!this.fh && !(await (this.opened ? this.openPath(res) : this.openFirst(res)))) return res;
    await this.readAvailable(res);
    if (res.more) return res;
    let st: { ino: number } | undefined;
    try {
      st = await stat(this.path);
    } catch {
      res.missing = true;
      return res;
    }
    if (st.ino !== this.inode) {
      // Renamed away: the old inode is final once the path names another one.
      await this.readAvailable(res, Number.POSITIVE_INFINITY);
      // A line conmon cut at the rotation (a `P` fragment at the end of the old
      // file, the rest at the start of the new one) is joined, not split in two:
      // its fragments carry over and hold the new file's position at 0 until
      // the line is whole. (After a crash in that moment a restart resumes on
      // `.1` and joins it the same way.)
      const carried = new Map(this.partial);
      this.partial.clear();
      this.endOfFile(res);
      const done = this.fh;
      this.fh = undefined;
      res.rotated = true;
      this.resumeFrom = undefined;
      if (await this.openPath(res, done)) {
        for (const [stream, f] of carried) this.partial.set(stream, { ...f, start: 0 });
        await this.readAvailable(res);
      } else if (carried.size > 0) {
        // No new file (the container is gone): the fragments are final lines of the old one.
        for (const [stream, f] of carried) this.partial.set(stream, f);
        this.endOfFile(res);
      }
      return res;
    }
    const fst = this.fh ? await this.fh.stat() : undefined;
    if (fst && fst.size < this.offset) {
      this.endOfFile(res);
      this.offset = 0;
      this.carry = Buffer.alloc(0);
      res.rotated = true;
      await this.readAvailable(res);
    }
    return res;
  }

  /**
   * True when the path no longer names the open file (rotated or removed):
   * the open file is then final and must be read to its end before the next
   * rotation can take the new one away unseen. Cheap (one stat), for a reader
   * that paused while its consumer catches up.
   */
  async replaced(): Promise<boolean> {
    if (!this.fh) return true;
    try {
      return (await stat(this.path)).ino !== this.inode;
    } catch {
      return true;
    }
  }

  /**
   * The path may name a new file now (a rename or create in its directory,
   * seen by inotify): open it at once and keep it for when the current file
   * is done. conmon's own rotation keeps no rotated file, so a file that is
   * replaced again before the tailer gets to it is lost unless something holds
   * it open; this narrows that window from "until the next poll" to the
   * watcher's latency. (berth's rotation keeps `.1` until it is acknowledged.)
   */
  pin(): void {
    if (this.pins.length >= MAX_PINS) return;
    this.pins.push(
      open(this.path, 'r').then(
        async (fh) => ({ fh, ino: (await fh.stat()).ino }),
        () => undefined,
      ),
    );
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    // Closing a read-only handle: a failure loses nothing.
    await fh?.close().catch(() => {});
  }

  /** Closes the current file and every pinned one (the tailer is done). */
  async closeAll(): Promise<void> {
    await this.close();
    const pins = this.pins;
    this.pins = [];
    // Closing read-only handles: a failure loses nothing.
    for (const p of pins) await (await p)?.fh.close().catch(() => {});
  }

  /**
   * The next file to read: the oldest pinned file that is not one already
   * read (`done`: the inode just finished, still held open so its number
   * cannot have been reused), else whatever the path names now.
   */
  private async nextHandle(done: number | undefined): Promise<FileHandle | undefined> {
    for (let p = this.pins.shift(); p; p = this.pins.shift()) {
      const pin = await p;
      if (!pin) continue;
      if (pin.ino === done || pin.ino === this.inode) {
        // Read-only: a failed close loses nothing.
        await pin.fh.close().catch(() => {});
        continue;
      }
      return pin.fh;
    }
    try {
      return await open(this.path, 'r');
    } catch {
      return undefined;
    }
  }

  /**
   * The first open: `rotatedPath` when reading must begin there (see
   * TailerOptions.rotatedPath), else the path. Once `.1` is read to its end,
   * `poll` finds that the path names another file and switches to it as
   * after any rotation.
   */
  private async openFirst(res: PollResult): Promise<boolean> {
    const old = this.rotatedPath ? await open(this.rotatedPath, 'r').catch(() => undefined) : undefined;
    if (!old) return this.markOpened(await this.openPath(res));
    const st = await old.stat();
    const fp = await headFingerprint(old);
    const from = this.resumeFrom;
    const onOld = from !== undefined && matches(from, st.ino, fp) && st.size >= from.offset;
    if (!onOld && from !== undefined) {
      const cur = await fileIdentity(this.path);
      if (cur && matches(from, cur.inode, cur.fingerprint)) {
        // Acknowledged into the file at the path: `.1` was shipped whole.
        await old.close();
        return this.markOpened(await this.openPath(res));
      }
    }
    this.fh = old;
    this.inode = st.ino;
    this.fp = fp;
    this.carry = Buffer.alloc(0);
    this.partial.clear();
    this.offset = onOld ? from.offset : 0;
    this.resumeFrom = undefined;
    return this.markOpened(true);
  }

  private markOpened(ok: boolean): boolean {
    if (ok) this.opened = true;
    return ok;
  }

  private async openPath(res: PollResult, done?: FileHandle): Promise<boolean> {
    const doneIno = done ? this.inode : undefined;
    const fh = await this.nextHandle(doneIno);
    // Only now let the finished file go: while held, its inode number is not reused (read-only: a failed close loses nothing).
    await done?.close().catch(() => {});
    if (!fh) {
      res.missing = true;
      return false;
    }
    const st = await fh.stat();
    this.fh = fh;
    this.inode = st.ino;
    this.carry = Buffer.alloc(0);
    this.partial.clear();
    const from = this.resumeFrom;
    this.resumeFrom = undefined;
    this.fp = await headFingerprint(fh);
    // A stored position is only good for the same file (inode number, which
    // the kernel reuses at once after an unlink, plus the first entry's hash)
    // while the file is at least that long; otherwise it is a new file.
    const same = from !== undefined && matches(from, st.ino, this.fp) && st.size >= from.offset;
    this.offset = same ? from.offset : 0;
    return true;
  }

  private async readAvailable(res: PollResult, budget = this.readBytes): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    const buf = Buffer.allocUnsafe(Math.min(256 * 1024, Number.isFinite(budget) ? budget : 256 * 1024));
    let total = 0;
    for (;;) {
      if (total >= budget) {
        res.more = true;
        return;
      }
      // Read after the carried bytes: `offset` counts only consumed (whole) lines.
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset + this.carry.length);
      if (bytesRead === 0) return;
      total += bytesRead;
      this.consume(buf.subarray(0, bytesRead), res);
    }
  }

  private consume(chunk: Buffer, res: PollResult): void {
    const data = this.carry.length ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk);
    let pos = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, pos);
      if (nl < 0) break;
      const start = this.offset + pos;
      if (start === 0) this.fp = fingerprintOf(data.subarray(0, nl + 1));
      const end = this.offset + nl + 1;
      this.entry(this.parse(data, pos, nl), start, end, res);
      pos = nl + 1;
    }
    this.offset += pos;
    this.carry = data.subarray(pos);
  }

  /** A file is final: what is left unterminated cannot be completed any more. */
  private endOfFile(res: PollResult): void {
    if (this.carry.length > 0) {
      res.malformed++;
      this.offset += this.carry.length;
      this.carry = Buffer.alloc(0);
    }
    for (const [stream, f] of this.partial) {
      res.lines.push({
        line: {
          time: f.time,
          stream,
          text: f.text,
          sec: f.sec,
          nsec: f.nsec,
          ...(f.parts > 0 ? { part: { index: f.parts, last: true } } : {}),
        },
        inode: this.inode,
        start: f.start,
        end: this.offset,
        fingerprint: this.fp,
      });
    }
    this.partial.clear();
  }

  private entry(e: K8sEntry | undefined, start: number, end: number, res: PollResult): void {
    if (!e) {
      res.malformed++;
      return;
    }
    let prev = this.partial.get(e.stream);
    if (prev && prev.bytes > 0 && prev.bytes + e.bytes > this.maxJoinBytes) {
      // The cap: what is joined so far goes out as a part of the line, which
      // goes on (same start, same time: one line to the receiver).
      res.lines.push({
        line: {
          time: prev.time,
          stream: e.stream,
          text: prev.text,
          sec: prev.sec,
          nsec: prev.nsec,
          part: { index: prev.parts, last: false },
        },
        inode: this.inode,
        start: prev.start,
        // Committing a part never passes the line's start: a crash re-reads the
        // whole line and sends the same parts (same partial_id and ordinals).
        end: prev.start,
        fingerprint: this.fp,
      });
      prev = { ...prev, text: '', bytes: 0, parts: prev.parts + 1 };
    }
    // A joined line keeps the time of its first fragment: when the line began.
    const frag: Fragment = prev
      ? {
          time: prev.time,
          sec: prev.sec,
          nsec: prev.nsec,
          text: prev.text + e.text,
          start: prev.start,
          bytes: prev.bytes + e.bytes,
          parts: prev.parts,
        }
      : { time: e.time, sec: e.sec, nsec: e.nsec, text: e.text, start, bytes: e.bytes, parts: 0 };
    if (e.partial) {
      this.partial.set(e.stream, frag);
      return;
    }
    this.partial.delete(e.stream);
    res.lines.push({
      line: {
        time: frag.time,
        stream: e.stream,
        text: frag.text,
        sec: frag.sec,
        nsec: frag.nsec,
        ...(frag.parts > 0 ? { part: { index: frag.parts, last: true } } : {}),
      },
      inode: this.inode,
      start: frag.start,
      end,
      fingerprint: this.fp,
    });
  }
}

const HEAD_BYTES = 4096;
/** Rotations faster than the tailer can follow beyond this are beyond saving anyway. */
const MAX_PINS = 16;

/** The inode, first-entry fingerprint and size of the file at `path` now, or undefined when absent. */
export async function fileIdentity(
  path: string,
): Promise<{ inode: number; fingerprint: string; size: number } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    return { inode: st.ino, fingerprint: await headFingerprint(fh), size: st.size };
  } finally {
    await fh.close();
  }
}

/** A stored position is on this file: same inode number and, when it has one, the same first entry. */
function matches(pos: TailPosition, inode: number, fingerprint: string): boolean {
  return pos.inode === inode && (pos.fingerprint === undefined || pos.fingerprint === fingerprint);
}

function fingerprintOf(firstLine: Uint8Array): string {
  return createHash('sha256').update(firstLine.subarray(0, HEAD_BYTES)).digest('hex').slice(0, 16);
}

/** Fingerprint of the file's first entry ('' while it has no complete one). */
async function headFingerprint(fh: FileHandle): Promise<string> {
  const buf = Buffer.alloc(HEAD_BYTES);
  const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
  const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
  if (nl >= 0) return fingerprintOf(buf.subarray(0, nl + 1));
  return bytesRead === HEAD_BYTES ? fingerprintOf(buf) : '';
}
