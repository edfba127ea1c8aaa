import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InternalError, InvalidArgumentError } from '../base/errors.js';
import { digestHex, HashingStream, sha256Of } from './digest.js';
import { isErrno, tmpName } from './fsutil.js';

/**
 * Content-addressed blobs under `<dir>/sha256/<hex>`. A blob is written to a
 * temp file while being hashed and renamed into place only when its digest
 * matches, so a blob file's name is always its content's digest.
 */
export class BlobStore {
  private readonly shaDir: string;
  constructor(
    dir: string,
    private readonly tmpDir: string,
  ) {
    this.shaDir = join(dir, 'sha256');
  }

  async init(): Promise<void> {
    await mkdir(this.shaDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.shaDir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.path(digest));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /**
   * Stores `data` under its digest. With `expected`, a mismatch throws
   * InvalidArgumentError naming `what` and nothing is stored.
   */
  async put(
    data: Buffer | Readable,
    expected?: string,
    what = 'blob',
  ): Promise<{ digest: string; size: number }> {
    if (expected) digestHex(expected, what);
    const tmp = tmpName(this.tmpDir, 'blob');
    const hasher = new HashingStream();
    try {
      const src = Buffer.isBuffer(data) ? Readable.from([data]) : data;
      await pipeline(src, hasher, createWriteStream(tmp, { flags: 'wx', mode: 0o644, flush: true }));
      const digest = hasher.digest();
      if (expected && digest !== expected) {
        throw new InvalidArgumentError(
          `${what}: content digest ${digest} does not match the expected ${expected}`,
          {
            field: what,
          },
        );
      }
      await rename(tmp, this.path(digest));
      return { digest, size: hasher.bytes };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Reads a small blob and checks its digest (cheap for manifests and configs). */
  async read(digest: string): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await readFile(this.path(digest));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new InternalError(`blob ${digest} is missing from the image store`);
      throw err;
    }
    const actual = sha256Of(data);
    if (actual !== digest) {
      throw new InternalError(
        `blob ${digest} is corrupt on disk (content hashes to ${actual}); pull or load the image again`,
      );
    }
    return data;
  }

  async readJson(digest: string): Promise<Record<string, unknown>> {
    return JSON.parse((await this.read(digest)).toString('utf8')) as Record<string, unknown>;
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.shaDir);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }
}
