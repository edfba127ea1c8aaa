import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { fsyncDir, writeFileAtomic } from '../base/atomic-file.js';
import { FailedPreconditionError, InvalidArgumentError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { checkVersion, stampVersion } from '../base/versioned.js';
import { decompress } from './decompress.js';
import { digestHex, HashingStream } from './digest.js';
import { extractLayer } from './extract.js';
import { isErrno, tmpName } from './fsutil.js';
import { ByteLimit, DEFAULT_LAYER_LIMITS, freeBytes, type LayerLimits } from './limits.js';
import type { LayerRef } from './types.js';

const run = promisify(execFile);

/** The `layer.json` format (`schemaVersion`); one without it is version 1. */
export const LAYER_META_VERSION = 1;

export interface UnpackOptions {
  /** Names the layer in errors. */
  label: string;
  /** sha256 of the stream as given (compressed); checked when set. */
  expectedDigest?: string;
  /** sha256 of the uncompressed tar (the config's diff_id); checked when set. */
  expectedDiffId?: string;
  /** Bytes of `source` its descriptor promises: reading stops past it, and fewer fail the layer. */
  expectedSize?: number;
  /** Bytes read from `source` so far. */
  onBytes?: (n: number) => void;
}

/**
 * Unpacked layers under `<dir>/<diffId hex>/fs`, one per distinct diff and
 * shared by every image that has it. A layer is unpacked into a private temp
 * dir and renamed into place only once complete and verified, so a layer dir
 * that exists is whole; a failed unpack leaves nothing behind.
 */
export class LayerStore {
  private readonly inflight = new Map<string, Promise<LayerRef>>();

  constructor(
    private readonly dir: string,
    private readonly tmpDir: string,
    private readonly logger: Logger,
    private readonly limits: LayerLimits = DEFAULT_LAYER_LIMITS,
  ) {}

  /**
   * Bytes a layer (or a staged archive) may still write: what the disk has
   * beyond `minFreeBytes`. Throws FailedPrecondition when that is nothing
   * or less than `need`, before anything is read.
   */
  async room(what: string, need = 0): Promise<number> {
    const free = await freeBytes(this.tmpDir);
    const room = free - this.limits.minFreeBytes;
    if (room <= need) {
      throw new FailedPreconditionError(
        `${what}: not enough free space in ${this.tmpDir}: ${free} bytes free${need ? `, ${need} bytes needed` : ''}, and ${this.limits.minFreeBytes} must stay free (imageMinFreeBytes)`,
      );
    }
    return room;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  /** The directory to hand to overlayfs as a lower layer. */
  fsPath(diffId: string): string {
    return join(this.dir, digestHex(diffId, 'diffId'), 'fs');
  }

  async has(diffId: string): Promise<boolean> {
    try {
      await stat(join(this.dir, digestHex(diffId, 'diffId')));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /** Throws for a layer.json of a newer format (the layer stays; the pull using it fails naming the file). */
  async info(diffId: string): Promise<LayerRef> {
    const file = join(this.dir, digestHex(diffId, 'diffId'), 'layer.json');
    const raw = JSON.parse(await readFile(file, 'utf8')) as LayerRef;
    checkVersion(raw, { file, current: LAYER_META_VERSION });
    return { diffId: raw.diffId, size: raw.size };
  }

  isBusy(diffId: string): boolean {
    return this.inflight.has(diffId);
  }

  /** Unpacks `source` (gzip, zstd or plain tar); a layer already present is not unpacked again. */
  async unpack(source: Readable, opts: UnpackOptions): Promise<LayerRef> {
    const want = opts.expectedDiffId;
    if (want) {
      digestHex(want, 'diffId');
      const running = this.inflight.get(want);
      if (running) {
        source.destroy();
        return running;
      }
      if (await this.has(want)) {
        source.destroy();
        return this.info(want);
      }
      const p = this.doUnpack(source, opts).finally(() => this.inflight.delete(want));
      this.inflight.set(want, p);
      return p;
    }
    return this.doUnpack(source, opts);
  }

  private async doUnpack(source: Readable, opts: UnpackOptions): Promise<LayerRef> {
    const tmp = tmpName(this.tmpDir, 'layer');
    const fs = join(tmp, 'fs');
    try {
      const { maxLayerBytes, maxLayerEntries } = this.limits;
      // Free space first: the compressed size is a floor for what the layer will write.
      const room = await this.room(opts.label, opts.expectedSize ?? 0);
      await mkdir(fs, { recursive: true, mode: 0o755 });
      const packed = new HashingStream(opts.onBytes);
      const size = opts.expectedSize;
      // Never read past the descriptor's size: a registry (or archive) that sends more is lying.
      const reading =
        size === undefined
          ? pipeline(source, packed)
          : pipeline(
              source,
              new ByteLimit(
                size,
                () =>
                  new InvalidArgumentError(`${opts.label}: more than the ${size} bytes its descriptor says`, {
                    field: 'layer',
                  }),
              ),
              packed,
            );
      reading.catch(() => undefined);
      const plain = await decompress(packed, opts.label);
      // The uncompressed tar is bounded by maxLayerBytes and by the disk's room, whichever is less.
      const cap = Math.min(maxLayerBytes, room);
      const limit = new ByteLimit(
        cap,
        () =>
          new InvalidArgumentError(
            cap === maxLayerBytes
              ? `${opts.label}: uncompressed size exceeds the limit of ${cap} bytes (imageMaxLayerBytes)`
              : `${opts.label}: uncompressed size exceeds the ${cap} bytes the disk can spare (imageMinFreeBytes)`,
            { field: 'layer' },
          ),
      );
      const unpacked = new HashingStream();
      plain.on('error', (e) => limit.destroy(e));
      limit.on('error', (e) => unpacked.destroy(e));
      plain.pipe(limit).pipe(unpacked);
      await extractLayer(unpacked, fs, {
        label: opts.label,
        maxEntries: maxLayerEntries,
        onWarning: (msg) => this.logger.warn(msg),
      });
      await reading;
      if (opts.expectedDigest && packed.digest() !== opts.expectedDigest) {
        throw new InvalidArgumentError(
          `${opts.label}: content digest ${packed.digest()} does not match the expected ${opts.expectedDigest}`,
          { field: 'layer' },
        );
      }
      if (size !== undefined && packed.bytes !== size) {
        throw new InvalidArgumentError(
          `${opts.label}: ${packed.bytes} bytes, but its descriptor says ${size}`,
          { field: 'layer' },
        );
      }
      const diffId = unpacked.digest();
      if (opts.expectedDiffId && diffId !== opts.expectedDiffId) {
        throw new InvalidArgumentError(
          `${opts.label}: uncompressed content hashes to ${diffId}, but the image config lists ${opts.expectedDiffId}`,
          { field: 'layer' },
        );
      }
      // Flush the layer's files before it becomes visible: after a crash a layer dir is whole or absent.
      await run('sync', ['-f', fs]);
      const ref: LayerRef = { diffId, size: unpacked.bytes };
      await writeFileAtomic(
        join(tmp, 'layer.json'),
        `${JSON.stringify(stampVersion(ref, LAYER_META_VERSION))}\n`,
      );
      const final = join(this.dir, digestHex(diffId));
      try {
        await rename(tmp, final);
        await fsyncDir(this.dir);
      } catch (err) {
        // Another unpack of the same diff won the race; its copy is as good as ours.
        if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw err;
      }
      return ref;
    } catch (err) {
      // Stop the download or decompressor feeding a refused layer.
      source.destroy();
      throw err;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Renamed out of the way first so a half-deleted layer never looks complete. */
  async remove(diffId: string): Promise<void> {
    const tmp = tmpName(this.tmpDir, 'rm');
    try {
      await rename(join(this.dir, digestHex(diffId, 'diffId')), tmp);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    await rm(tmp, { recursive: true, force: true });
  }
}
