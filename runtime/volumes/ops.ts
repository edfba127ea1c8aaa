import { FailedPreconditionError, isNotFound, NotImplementedError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { VolumeSummary } from '../runtime.js';
import type { StoredVolumeInfo, VolumeMountRef, VolumePort } from './types.js';

/** What VolumeOps needs to know about containers: who mounts what. */
export interface VolumeMounts {
  /** Every known container (running or not) with the volumes it mounts. */
  all(): Iterable<{ name: string; mounts: VolumeMountRef[] }>;
}

/**
 * The volume verbs of the Runtime (ls, inspect, create, rm, prune) and the
 * removal of a removed container's anonymous volumes. A volume in use by any
 * container is never removed; `mounts` is asked at each decision, so a
 * container created meanwhile keeps its volume.
 */
export class VolumeOps {
  constructor(
    private readonly port: VolumePort | undefined,
    private readonly mounts: VolumeMounts,
    private readonly logger: Logger,
  ) {}

  /** Named volumes with the containers (names) that mount them. */
  async list(): Promise<VolumeSummary[]> {
    const list = await this.volumePort().list();
    return list.map((v) => this.summarize(v));
  }

  async inspect(name: string): Promise<VolumeSummary> {
    return this.summarize(await this.volumePort().get(name));
  }

  async create(name: string): Promise<VolumeSummary> {
    return this.summarize(await this.volumePort().create(name));
  }

  /** Refuses a volume any container mounts (running or not), as Docker does. */
  async remove(name: string): Promise<void> {
    const users = this.users(name);
    if (users.length > 0) {
      throw new FailedPreconditionError(
        `volume ${name} is in use by container${users.length > 1 ? 's' : ''} ${users.join(', ')}: remove ${users.length > 1 ? 'them' : 'it'} first`,
      );
    }
    await this.volumePort().remove(name);
  }

  /** Removes every volume no container mounts; returns their names. */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const v of await this.volumePort().list()) {
      // Checked again just before each removal: a container created meanwhile keeps its volume.
      if (this.users(v.name).length > 0) continue;
      await this.volumePort()
        .remove(v.name)
        .then(
          () => removed.push(v.name),
          (err) => {
            // Removed by someone else meanwhile: what prune wanted anyway.
            if (!isNotFound(err)) throw err;
          },
        );
    }
    return removed;
  }

  /**
   * A removed container's anonymous volumes (`-v /path`) go with it, unless
   * another container mounts one. Failures are logged, never thrown: the
   * container is gone either way.
   */
  async dropAnonymous(containerId: string, mounts: VolumeMountRef[]): Promise<void> {
    for (const m of mounts) {
      if (!m.anonymous || this.users(m.name).length > 0) continue;
      await this.port?.remove(m.name).catch((err) => {
        if (!isNotFound(err))
          this.logger.warn({ err, id: containerId, volume: m.name }, 'anonymous volume remove failed');
      });
    }
  }

  /** Finishes removals a crash interrupted; logged, not thrown (the agent starts either way). */
  async sweep(): Promise<void> {
    await this.port?.sweep?.().catch((err) => this.logger.warn({ err }, 'volume sweep failed'));
  }

  /** Names of the containers that mount `name`, sorted. */
  users(name: string): string[] {
    const users: string[] = [];
    for (const c of this.mounts.all()) if (c.mounts.some((m) => m.name === name)) users.push(c.name);
    return users.sort();
  }

  private summarize(v: StoredVolumeInfo): VolumeSummary {
    return { ...v, anonymous: /^[0-9a-f]{64}$/.test(v.name), usedBy: this.users(v.name) };
  }

  private volumePort(): VolumePort {
    if (!this.port) throw new NotImplementedError('volumes: this runtime has no volume store');
    return this.port;
  }
}
