import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-file.js';
import { KeyedMutex } from '../base/keyed-mutex.js';
import type { Logger } from '../base/log.js';
import type { HealthLogEntry } from '../health/types.js';
import type { NetworkAttachment } from '../network/types.js';
import type { ManagedConfig } from '../oci/types.js';
import type { ContainerState, HealthStatus, PortMapping } from '../types.js';

/**
 * Everything berth knows about one container, persisted as
 * `<stateRoot>/containers/<id>/container.json` (written atomically: temp
 * file, fsync, rename), so that an agent restart re-adopts it.
 */
export interface ContainerRecord {
  /**
   * The record's format (CONTAINER_RECORD_VERSION when written). Records
   * written before versioning have none and load as version 1: the format
   * did not change.
   */
  schemaVersion?: number;
  id: string;
  name: string;
  createdAt: string;
  image: { ref: string; id: string; name: string; tag: string };
  config: ManagedConfig;
  state: ContainerState;
  pid?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  signal?: string;
  /** Set by stop/kill/rm: the restart policy does not bring it back. */
  stoppedByUser: boolean;
  restartCount: number;
  health: HealthStatus;
  healthLog: HealthLogEntry[];
  network?: NetworkAttachment;
  ports: PortMapping[];
  rootfs?: string;
  bundleDir: string;
  logPath: string;
  /**
   * Saved (with the network attachment) just before the OCI runtime is asked
   * to create and start the container, cleared by the save that records it
   * running. An agent that died in between finds it set on restore and
   * resolves it against the runtime's state (running: adopted; created,
   * stopped or gone: cleaned up and exited, then the restart policy).
   */
  starting?: boolean;
}

/** The format `RecordStore.save` writes; `upgradeRecord` reads this one and every older one. */
export const CONTAINER_RECORD_VERSION = 1;

/**
 * A record as read from disk, brought to the current format. Unversioned
 * records (every release before versioning) are version 1's shape. Throws
 * for a version newer than this release knows (an agent downgraded over a
 * newer one's state): guessing could lose or corrupt the container's state.
 */
export function upgradeRecord(raw: unknown): ContainerRecord {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a JSON object');
  const rec = raw as ContainerRecord;
  const v = rec.schemaVersion ?? 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new Error(`schemaVersion ${JSON.stringify(v)} is not a version`);
  if (v > CONTAINER_RECORD_VERSION)
    throw new Error(`schemaVersion ${v} is newer than this release reads (${CONTAINER_RECORD_VERSION})`);
  if (typeof rec.id !== 'string' || typeof rec.state !== 'string' || !rec.config)
    throw new Error('missing id, state or config');
  return { ...rec, schemaVersion: CONTAINER_RECORD_VERSION };
}

export function newId(): string {
  return randomBytes(32).toString('hex');
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

/** Docker-style generated names: adjective_noun. */
const ADJ = [
  'brave',
  'calm',
  'eager',
  'fond',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'quiet',
  'sharp',
  'tender',
  'vivid',
];
const NOUN = [
  'anchor',
  'beacon',
  'cove',
  'dock',
  'ferry',
  'harbor',
  'jetty',
  'keel',
  'mooring',
  'pier',
  'quay',
  'wharf',
];
export function generateName(taken: (n: string) => boolean): string {
  for (let i = 0; i < 100; i++) {
    const n = `${ADJ[(randomBytes(1)[0] ?? 0) % ADJ.length]}_${NOUN[(randomBytes(1)[0] ?? 0) % NOUN.length]}${i > 10 ? `_${i}` : ''}`;
    if (!taken(n)) return n;
  }
  return `berth_${randomBytes(4).toString('hex')}`;
}

/** A record directory being removed (renamed aside first). */
const TOMBSTONE = '.removed-';

/** How many removed ids the store remembers to refuse late saves for (a few hundred bytes each). */
const REMEMBERED_REMOVALS = 4096;

/**
 * Each record in `<dir>/<id>/container.json`. Saves and the delete of one id
 * are serialised, and a save that arrives after the delete (a health status
 * or an exit landing while `rm` runs: they save without the container's
 * lock) is dropped: otherwise it races the recursive removal (ENOTEMPTY on
 * the final rmdir, which left the container stuck in `removing`) or brings
 * the directory back as a ghost record for the next start.
 */
export class RecordStore {
  private readonly io = new KeyedMutex();
  private readonly removed = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly logger?: Logger,
  ) {}

  pathOf(id: string): string {
    return join(this.dir, id);
  }

  async save(rec: ContainerRecord): Promise<void> {
    // Copied now: the caller may change the record while an earlier save of it runs.
    const text = JSON.stringify({ ...rec, schemaVersion: CONTAINER_RECORD_VERSION }, null, 1);
    await this.io.run(rec.id, async () => {
      if (this.removed.has(rec.id)) {
        this.logger?.debug({ id: rec.id }, 'record save after its removal dropped');
        return;
      }
      const d = this.pathOf(rec.id);
      await mkdir(d, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(d, 'container.json'), text, { mode: 0o600 });
    });
  }

  async loadAll(): Promise<ContainerRecord[]> {
    let ids: string[];
    try {
      ids = await readdir(this.dir);
    } catch (err) {
      // No containers directory yet (a first start) is nothing; anything else is worth a line.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.logger?.warn({ err, dir: this.dir }, 'container records unreadable; none restored');
      return [];
    }
    const out: ContainerRecord[] = [];
    for (const id of ids) {
      if (id.startsWith(TOMBSTONE)) {
        // A removal an earlier run did not finish: the container is gone, its files go now.
        await rm(join(this.dir, id), { recursive: true, force: true }).catch((err: unknown) =>
          this.logger?.warn({ err, dir: id }, 'leftover of a removed container not deleted'),
        );
        continue;
      }
      let text: string;
      try {
        text = await readFile(join(this.dir, id, 'container.json'), 'utf8');
      } catch (err) {
        // A directory without a record is a create that never finished: nothing to restore.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          this.logger?.warn({ err, id }, 'container record unreadable; container skipped');
        continue;
      }
      try {
        out.push(upgradeRecord(JSON.parse(text)));
      } catch (err) {
        this.logger?.warn({ err, id }, 'container record not loadable; container skipped');
      }
    }
    return out;
  }

  async delete(id: string): Promise<void> {
    await this.io.run(id, async () => {
      this.removed.add(id);
      if (this.removed.size > REMEMBERED_REMOVALS) {
        const oldest = this.removed.values().next().value;
        if (oldest !== undefined) this.removed.delete(oldest);
      }
      // Others write into the directory by path too (conmon's log, the log rotation): moved aside
      // first, in one rename, a late writer gets ENOENT instead of a file that fails rm's final
      // rmdir (ENOTEMPTY) or outlives it. A crash between the two leaves a tombstone loadAll clears.
      const tomb = join(this.dir, `${TOMBSTONE}${id}`);
      try {
        await rename(this.pathOf(id), tomb);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await rm(tomb, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    });
  }
}
