import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../base/atomic-file.js';
import { FailedPreconditionError, InternalError, InvalidArgumentError } from '../base/errors.js';
import { KeyedMutex } from '../base/keyed-mutex.js';
import { checkVersion, stampVersion } from '../base/versioned.js';
import { mountPoints } from './mountinfo.js';
import type { SnapshotPort } from './types.js';

const run = promisify(execFile);

export interface OverlaySnapshotterOptions {
  /** Snapshots live in `<root>/<key>/{rootfs,upper,work,empty}`. */
  root: string;
  /** Read to tell whether a rootfs is mounted; a fixture path in tests of the bookkeeping. */
  mountinfoPath?: string;
}

export interface SnapshotInfo {
  key: string;
  rootfs: string;
  mounted: boolean;
  /** Layer dirs as given to prepare: bottom (base) first. */
  layerDirs: string[];
}

interface SnapshotMeta {
  layerDirs: string[];
}

/** The `snapshot.json` format (`schemaVersion`); one without it is version 1. */
export const SNAPSHOT_META_VERSION = 1;

const KEY_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/**
 * The root and each snapshot's directory: root only. A container writes
 * into its upper dir as root (a setuid-root binary included); the dirs above
 * it must not let a local user reach that (Docker's CVE-2021-41091). The
 * rootfs mount point and the upper dir keep 0755: they are the container's `/`.
 */
const HOLDER_MODE = 0o700;
/** The kernel reads mount options from one page. */
const MAX_MOUNT_DATA = 4096 - 1;

/**
 * Writable container roots as overlayfs mounts over shared, read-only
 * unpacked layers. Each snapshot has its own upper and work dirs; the layer
 * dirs are never written. A `snapshot.json` beside the mount records the
 * layers so that `restore()` can remount after a host reboot and `list()`
 * can report what exists after an agent restart. Mounts are made with
 * mount(8): one child process per prepare is cheap next to starting a
 * container, and needs no native code.
 */
export class OverlaySnapshotter implements SnapshotPort {
  /** Serialises operations per key: a prepare racing a remove must not leave a half-made mount. */
  private readonly locks = new KeyedMutex();

  constructor(private readonly opts: OverlaySnapshotterOptions) {}

  private dir(key: string): string {
    if (!KEY_RE.test(key)) {
      throw new InvalidArgumentError(
        `snapshot key: ${JSON.stringify(key)} must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`,
        {
          field: 'key',
        },
      );
    }
    return join(this.opts.root, key);
  }

  private async isMounted(path: string): Promise<boolean> {
    const points = await mountPoints(this.opts.mountinfoPath);
    return points.has(path);
  }

  async prepare(key: string, layerDirs: string[]): Promise<{ rootfs: string }> {
    const dir = this.dir(key);
    return this.locks.run(key, async () => {
      await mkdir(dir, { recursive: true, mode: HOLDER_MODE });
      const base = await realpath(dir);
      const rootfs = join(base, 'rootfs');
      if (await this.isMounted(rootfs)) return { rootfs };
      await this.mountOverlay(base, layerDirs);
      const meta: SnapshotMeta = { layerDirs };
      // Rebuilt from the layers if lost: no fsync on the start path.
      await writeFileAtomic(
        join(base, 'snapshot.json'),
        JSON.stringify(stampVersion(meta, SNAPSHOT_META_VERSION)),
        { sync: false },
      );
      return { rootfs };
    });
  }

  private async mountOverlay(base: string, layerDirs: string[]): Promise<void> {
    const upper = join(base, 'upper');
    const work = join(base, 'work');
    const rootfs = join(base, 'rootfs');
    for (const d of [upper, work, rootfs]) await mkdir(d, { recursive: true, mode: 0o755 });
    // Overlay needs a lower dir; an image without layers gets an empty one.
    let lowers = layerDirs.length > 0 ? await Promise.all(layerDirs.map((l) => realpath(l))) : [];
    if (lowers.length === 0) {
      const empty = join(base, 'empty');
      await mkdir(empty, { recursive: true });
      lowers = [empty];
    }
    for (const p of [...lowers, upper, work]) {
      if (/[:,\\]/.test(p)) {
        throw new FailedPreconditionError(
          `snapshot: path ${p} contains ':', ',' or '\\', which overlay mount options cannot carry`,
        );
      }
    }
    // overlayfs lists lower dirs top-most first; layers come bottom first.
    const data = `lowerdir=${[...lowers].reverse().join(':')},upperdir=${upper},workdir=${work}`;
    if (data.length > MAX_MOUNT_DATA) {
      throw new FailedPreconditionError(
        `snapshot: ${lowers.length} layers make overlay options longer than a page (${data.length} bytes)`,
      );
    }
    try {
      await run('mount', ['-t', 'overlay', 'overlay', '-o', data, rootfs], { timeout: 30_000 });
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw new InternalError(
        `snapshot: mounting overlay at ${rootfs} failed: ${stderr || (err as Error).message}`,
        { cause: err },
      );
    }
  }

  async remove(key: string): Promise<void> {
    const dir = this.dir(key);
    return this.locks.run(key, async () => {
      const base = await realpath(dir).catch(() => undefined);
      if (base === undefined) return;
      const rootfs = join(base, 'rootfs');
      if (await this.isMounted(rootfs)) {
        try {
          await run('umount', [rootfs], { timeout: 30_000 });
        } catch {
          // Busy (a process still has a file open): detach now, the kernel frees it when the last user goes.
          await run('umount', ['-l', rootfs], { timeout: 30_000 }).catch((err: unknown) => {
            throw new InternalError(`snapshot: cannot unmount ${rootfs}: ${(err as Error).message}`, {
              cause: err,
            });
          });
        }
      }
      // Never delete through a live mount: that would reach into the layers' view.
      if (await this.isMounted(rootfs))
        throw new InternalError(`snapshot: ${rootfs} is still mounted after umount`);
      await rm(base, { recursive: true, force: true });
    });
  }

  /**
   * Snapshots on disk (those with a completed prepare), mounted or not.
   * Throws for a snapshot.json of a newer format (a downgraded agent): its
   * layers cannot be trusted to be read right, and skipping it would leave
   * its container without a root after a reboot.
   */
  async list(): Promise<SnapshotInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.opts.root);
    } catch {
      return [];
    }
    const points = await mountPoints(this.opts.mountinfoPath);
    const root = await realpath(this.opts.root);
    const out: SnapshotInfo[] = [];
    for (const key of names.sort()) {
      if (!KEY_RE.test(key)) continue;
      let meta: SnapshotMeta;
      const file = join(root, key, 'snapshot.json');
      try {
        meta = JSON.parse(await readFile(file, 'utf8')) as SnapshotMeta;
      } catch {
        continue;
      }
      checkVersion(meta, { file, current: SNAPSHOT_META_VERSION });
      const rootfs = join(root, key, 'rootfs');
      out.push({
        key,
        rootfs,
        mounted: points.has(rootfs),
        layerDirs: Array.isArray(meta.layerDirs) ? meta.layerDirs : [],
      });
    }
    return out;
  }

  /**
   * At agent start: remounts recorded snapshots that are not mounted (after a
   * reboot), and with `keep` removes every snapshot whose key is not in it
   * (leaks from containers removed while the agent was down).
   */
  async restore(keep?: string[]): Promise<SnapshotInfo[]> {
    const keepSet = keep ? new Set(keep) : undefined;
    if (keepSet) {
      // Also half-made snapshots (no snapshot.json: the agent died inside prepare).
      const names = await readdir(this.opts.root).catch(() => [] as string[]);
      for (const key of names) if (KEY_RE.test(key) && !keepSet.has(key)) await this.remove(key);
    }
    // Snapshot dirs an older release made 0711 are closed.
    for (const key of await readdir(this.opts.root).catch(() => [] as string[])) {
      if (!KEY_RE.test(key)) continue;
      const dir = join(this.opts.root, key);
      const st = await lstat(dir).catch(() => undefined);
      if (st?.isDirectory() && (st.mode & 0o7777) !== HOLDER_MODE) await chmod(dir, HOLDER_MODE);
    }
    const out: SnapshotInfo[] = [];
    for (const s of await this.list()) {
      if (!s.mounted) await this.prepare(s.key, s.layerDirs);
      out.push({ ...s, mounted: true });
    }
    return out;
  }
}
