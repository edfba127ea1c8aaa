import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError, InternalError, messageOf } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { checkVersion, stampVersion } from '../base/versioned.js';
import { writeFileAtomic } from './files.js';
import { ID_RE, short } from './names.js';
import type { AttachmentRecord } from './types.js';

/** The `network.json` format (`schemaVersion`); one without it is version 1. */
export const ATTACHMENT_VERSION = 1;

/**
 * The attachment records, `<stateDir>/<id>/network.json`: what `restore` and
 * `detach` undo. A bridge record is written (and fsynced) before any host
 * state it guards is created.
 */
export class AttachmentStore {
  constructor(
    readonly stateDir: string,
    private readonly log: Logger,
  ) {}

  containerDir(id: string): string {
    return path.join(this.stateDir, id);
  }

  async write(rec: AttachmentRecord): Promise<void> {
    const dir = this.containerDir(rec.id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Only a bridge record guards host state (netns, veth, address, rules) that a crash could leak;
    // a lost `none`/`host` record is harmless (a detach without one sweeps anyway), so no disk flush.
    const text = `${JSON.stringify(stampVersion(rec, ATTACHMENT_VERSION), null, 2)}\n`;
    await writeFileAtomic(path.join(dir, 'network.json'), text, 0o600, { sync: rec.mode === 'bridge' });
  }

  /**
   * The record of `id`; undefined when there is none; InternalError when it
   * cannot be parsed or is of a newer format (then a detach fails and leaves
   * it, and `list` logs and skips it: nothing is torn down on a guess).
   */
  async read(id: string): Promise<AttachmentRecord | undefined> {
    let text: string;
    try {
      text = await readFile(path.join(this.containerDir(id), 'network.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const raw = JSON.parse(text) as AttachmentRecord & { schemaVersion?: number };
      checkVersion(raw, { file: 'network.json', current: ATTACHMENT_VERSION });
      const { schemaVersion: _version, ...rec } = raw;
      if (rec.id !== id) throw new Error(`records container ${rec.id}`);
      return rec;
    } catch (err) {
      throw new InternalError(
        `network: ${this.containerDir(id)}/network.json is unreadable: ${messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Every readable record; an unreadable one is logged and skipped. */
  async list(): Promise<AttachmentRecord[]> {
    let entries: string[];
    try {
      entries = (await readdir(this.stateDir, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: AttachmentRecord[] = [];
    for (const name of entries) {
      // `networks/` holds the user-defined networks (registry.ts), not a container.
      if (!ID_RE.test(name) || name === 'networks') continue;
      const rec = await this.read(name).catch((err: unknown) => {
        this.log.warn({ err, id: name }, 'network: skipping an unreadable attachment record');
        return undefined;
      });
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Refuses `id` when an attached container shares its 12-character prefix (netns and veth names would clash). */
  async checkShortIdFree(id: string): Promise<void> {
    // Only directories sharing the 12-character prefix can clash: read those records, not every one.
    let names: string[];
    try {
      names = await readdir(this.stateDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      if (name === id || !name.startsWith(short(id)) || !ID_RE.test(name)) continue;
      const rec = await this.read(name).catch((err: unknown) => {
        // An unreadable record cannot be checked; list() skips it the same way.
        this.log.warn({ err, id: name }, 'network: skipping an unreadable attachment record');
        return undefined;
      });
      if (rec && rec.id !== id && short(rec.id) === short(id))
        throw new FailedPreconditionError(
          `network: container ${id} shares its first 12 characters with attached container ${rec.id}; netns and veth names would clash`,
        );
    }
  }
}
