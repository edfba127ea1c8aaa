import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * The most bytes of one Compose or env file berth reads. Real files are a few
 * KiB; the agent reads the files a client names, as root, so a path to a
 * device (`/dev/zero`), a FIFO or a huge file must be refused, not read
 * until memory runs out or forever.
 */
export const MAX_COMPOSE_FILE_BYTES = 4 * 1024 * 1024;

/**
 * A Compose or env file's text: a regular file of at most
 * `MAX_COMPOSE_FILE_BYTES`, else an Error whose message says which limit.
 * Read through one descriptor, so the file checked is the file read, and
 * never past the limit even when the size changed after the check.
 */
export function readComposeText(path: string): string {
  // O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_COMPOSE_FILE_BYTES) {
      throw new Error(`${st.size} bytes is over the limit of ${MAX_COMPOSE_FILE_BYTES}`);
    }
    const buf = Buffer.alloc(MAX_COMPOSE_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_COMPOSE_FILE_BYTES) throw new Error(`over the limit of ${MAX_COMPOSE_FILE_BYTES} bytes`);
    }
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}
