import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../base/atomic-file.js';
import { InternalError } from '../base/errors.js';
import { Mutex } from '../base/keyed-mutex.js';
import { checkVersion, stampVersion } from '../base/versioned.js';
import { isErrno } from './fsutil.js';
import type { ImageRecord } from './types.js';

/** The index format `update` writes (`schemaVersion`); an index without one is version 1. */
export const INDEX_VERSION = 1;

interface IndexFile {
  /** Kept as releases before schemaVersion wrote it; they read nothing else. */
  version: 1;
  /** Normalised familiar ref → image id. */
  refs: Record<string, string>;
  images: Record<string, ImageRecord>;
}

/**
 * The refs/tags index (`<root>/images/index.json`): which refs name which
 * image, and what each image is made of. Held in memory, rewritten whole and
 * atomically on every change; changes are serialised by `update`.
 */
export class RefsIndex {
  private data: IndexFile = { version: 1, refs: {}, images: {} };
  private readonly lock = new Mutex();

  constructor(private readonly path: string) {}

  async load(): Promise<void> {
    let raw: Partial<IndexFile>;
    try {
      raw = JSON.parse(await readFile(this.path, 'utf8')) as Partial<IndexFile>;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw new InternalError(`image index ${this.path} is unreadable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // A newer index is refused whole (the store does not start, so gc deletes nothing it lists).
    checkVersion(raw, { file: `image index ${this.path}`, current: INDEX_VERSION });
    this.data = { version: 1, refs: raw.refs ?? {}, images: raw.images ?? {} };
  }

  image(id: string): ImageRecord | undefined {
    return this.data.images[id];
  }

  images(): ImageRecord[] {
    return Object.values(this.data.images);
  }

  lookup(ref: string): string | undefined {
    return this.data.refs[ref];
  }

  refsOf(id: string): string[] {
    return Object.entries(this.data.refs)
      .filter(([, v]) => v === id)
      .map(([k]) => k)
      .sort();
  }

  /** Runs `fn` on the index exclusively and persists what it changed. */
  update<T>(fn: (d: IndexFile) => T | Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      const draft = structuredClone(this.data);
      const out = await fn(draft);
      await writeFileAtomic(this.path, `${JSON.stringify(stampVersion(draft, INDEX_VERSION), null, 2)}\n`);
      this.data = draft;
      return out;
    });
  }
}
