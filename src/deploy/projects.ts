import {
  FailedPreconditionError,
  InvalidArgumentError,
  messageOf,
  NotFoundError,
} from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import type { LogLine, LogQuery, Runtime } from '../../runtime/runtime.js';
import type { ComposeProject } from '../compose/types.js';
import type { RolloutState, ServiceRevision } from './contract.js';
import { configHash } from './hash.js';
import { mergeLogs, newReplicas } from './logs.js';
import { loadSource, projectStatus } from './project-state.js';
import type { Reconciler } from './reconciler.js';
import type { ProjectNetworks } from './replica-ops.js';
import type { ProjectStore } from './store.js';
import type { ProjectRecord, ProjectSource, ProjectStatus } from './types.js';

export interface UpOptions {
  /** `-p`; absent: what the files and environment name (Compose's order). */
  name?: string;
  origin?: 'api' | 'dir';
  scale?: Record<string, number>;
  removeOrphans?: boolean;
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;

/** Longest a verb waits for the convergence pass it scheduled before answering. */
const SETTLE_MS = 20_000;

/** Whether an apply with `target` as the service's config hash ends this rollout. */
function replaced(st: RolloutState, target: string | undefined): boolean {
  return target !== st.to.configHash || st.phase !== 'running';
}

/**
 * The project verbs (API and projects directory) over the reconciler:
 * `up` loads and checks the files on the agent, stores the desired state and
 * lets the reconciler converge; an invalid or refused project changes nothing
 * that runs (its reason goes to the events, the log and the project's
 * `lastError`).
 */
export class Projects {
  constructor(
    private readonly d: {
      reconciler: Reconciler;
      store: ProjectStore;
      runtime: Pick<Runtime, 'list' | 'logs' | 'removeVolume'>;
      networks?: ProjectNetworks;
      publish(topic: string, event: Record<string, unknown>): void;
      logger: Logger;
    },
  ) {}

  async up(source: ProjectSource, opts: UpOptions = {}): Promise<ProjectStatus> {
    if (opts.name !== undefined && !NAME_RE.test(opts.name)) {
      throw new InvalidArgumentError(
        `name: ${JSON.stringify(opts.name)} is not a project name (lowercase letters, digits, _ and -, starting with a letter or digit)`,
        { field: 'name' },
      );
    }
    let project: ComposeProject;
    try {
      project = loadSource(source, opts.name);
    } catch (err) {
      this.rejected(opts.name ?? '', messageOf(err));
      throw err;
    }
    const rc = this.d.reconciler;
    for (const [svc, n] of Object.entries(opts.scale ?? {})) {
      if (project.services[svc] === undefined) {
        throw new InvalidArgumentError(`scale.${svc}: no such service in project ${project.name}`, {
          field: `scale.${svc}`,
        });
      }
      if (!Number.isInteger(n) || n < 0) {
        throw new InvalidArgumentError(`scale.${svc}: must be a whole number ≥ 0, got ${n}`, {
          field: `scale.${svc}`,
        });
      }
    }
    // A new target for a service replaces its rollout: the old one stops where it is. Aborted
    // before the project's lock is taken, since a rollout ending takes that lock to record its end.
    for (const [name, st] of Object.entries(rc.records.get(project.name)?.rollouts ?? {})) {
      const svc = project.services[name];
      if (replaced(st, svc === undefined ? undefined : configHash(svc)))
        await rc.abortRollout(project.name, name);
    }
    await rc.exclusive(project.name, async () => {
      const old = rc.records.get(project.name);
      const revisions: ProjectRecord['revisions'] = {};
      for (const [name, service] of Object.entries(project.services)) {
        const rev: ServiceRevision = { service, configHash: configHash(service) };
        const was = old?.revisions[name];
        revisions[name] =
          was === undefined
            ? { current: rev }
            : was.current.configHash === rev.configHash
              ? { current: rev, ...(was.previous ? { previous: was.previous } : {}) }
              : { current: rev, previous: was.current };
      }
      const rollouts = { ...(old?.rollouts ?? {}) };
      for (const name of Object.keys(rollouts)) {
        const st = rollouts[name];
        if (st === undefined) continue;
        if (replaced(st, revisions[name]?.current.configHash)) delete rollouts[name];
      }
      const rec: ProjectRecord = {
        schemaVersion: 1,
        name: project.name,
        origin: opts.origin ?? 'api',
        source,
        project,
        scale: opts.scale ?? {},
        removeOrphans: opts.removeOrphans ?? false,
        revisions,
        rollouts,
        appliedAt: new Date().toISOString(),
      };
      await this.ensureNetworks(project);
      await this.d.store.save(rec);
      rc.records.set(rec.name, rec);
      rc.serviceErrors.delete(rec.name);
      // Progress of rollouts this apply replaced would read as this apply's outcome.
      rc.progress.delete(rec.name);
    });
    this.d.publish('project.applied', { project: project.name, services: Object.keys(project.services) });
    this.d.logger.info({ project: project.name }, 'project applied');
    rc.schedule(project.name);
    await this.settled(project.name);
    return this.status(project.name);
  }

  /**
   * Waits for the pass the verb scheduled, so the answer shows its replicas created, but at most
   * SETTLE_MS: a pass held up (a slow image unpack, a runtime lock) never holds the client; the
   * pass goes on and `--wait` follows it.
   */
  private async settled(name: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.d.reconciler.settle(name),
      new Promise<void>((r) => {
        timer = setTimeout(r, SETTLE_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** A refused project: the event, the log and (for a known project) its lastError say why. */
  rejected(name: string, reason: string): void {
    this.d.publish('project.rejected', { project: name, reason });
    this.d.logger.warn({ project: name, reason }, 'project refused; nothing running changed');
    if (name !== '' && this.d.reconciler.records.has(name))
      this.d.reconciler.noteError(name, undefined, reason);
  }

  private async ensureNetworks(project: ComposeProject): Promise<void> {
    const nets = this.d.networks;
    if (nets === undefined) return;
    for (const { key, name, n } of ownedNetworks(project)) {
      await nets.ensure({
        name,
        internal: n?.internal ?? false,
        labels: {
          ...(n?.labels ?? {}),
          'com.docker.compose.project': project.name,
          'com.docker.compose.network': key,
        },
      });
    }
  }

  async down(
    name: string,
    opts: { volumes?: boolean; removeOrphans?: boolean } = {},
  ): Promise<{ removed: string[] }> {
    const rc = this.d.reconciler;
    const rec = rc.records.get(name);
    for (const svc of Object.keys(rec?.project.services ?? {})) await rc.abortRollout(name, svc);
    return rc.exclusive(name, async () => {
      const actual = await rc.actual(name);
      if (rec === undefined && actual.length === 0) throw new NotFoundError(`project ${name} not found`);
      // down removes the project's replicas whatever their service; orphans included, as Compose's --remove-orphans.
      void opts.removeOrphans;
      rc.forget(name);
      await this.d.store.remove(name);
      const ops = rec === undefined ? undefined : rc.opsFor(rec);
      const ac = new AbortController();
      await Promise.all(
        actual.map(async (r) => {
          if (ops) await ops.retire(r, ac.signal);
          this.d.publish('project.replica.removed', {
            project: name,
            service: r.service,
            replica: { id: r.id, name: r.name, index: r.index },
            reason: 'down',
          });
        }),
      );
      if (rec !== undefined) {
        await this.removeNetworks(rec.project);
        if (opts.volumes) await this.removeVolumes(rec.project);
      }
      this.d.publish('project.removed', { project: name });
      return { removed: actual.map((r) => r.name) };
    });
  }

  private async removeNetworks(project: ComposeProject): Promise<void> {
    const nets = this.d.networks;
    if (nets === undefined) return;
    for (const { key, name } of ownedNetworks(project)) {
      await nets.remove(name).catch((err: unknown) => {
        this.d.logger.warn({ network: key, err: messageOf(err) }, 'down: network not removed');
      });
    }
  }

  private async removeVolumes(project: ComposeProject): Promise<void> {
    for (const [key, v] of Object.entries(project.volumes)) {
      if (v.external) continue;
      await this.d.runtime.removeVolume(v.name || `${project.name}_${key}`).catch((err: unknown) => {
        this.d.logger.warn({ volume: v.name, err: messageOf(err) }, 'down: volume not removed');
      });
    }
  }

  private record(name: string): ProjectRecord {
    const rec = this.d.reconciler.records.get(name);
    if (rec === undefined) throw new NotFoundError(`project ${name} not found`);
    return rec;
  }

  private service(rec: ProjectRecord, service: string): void {
    if (rec.project.services[service] === undefined) {
      throw new NotFoundError(
        `service ${service} not found in project ${rec.name} (services: ${Object.keys(rec.project.services).join(', ')})`,
      );
    }
  }

  async scale(name: string, service: string, replicas: number): Promise<ProjectStatus> {
    const rc = this.d.reconciler;
    await rc.exclusive(name, async () => {
      const rec = this.record(name);
      this.service(rec, service);
      const fixed = rec.project.services[service]?.containerName;
      if (fixed !== undefined && replicas > 1) {
        throw new FailedPreconditionError(
          `replicas: service ${service} has the fixed container_name ${fixed}, so it cannot have ${replicas} replicas`,
        );
      }
      rec.scale[service] = replicas;
      await this.d.store.save(rec);
    });
    this.d.publish('project.scaled', { project: name, service, replicas });
    rc.schedule(name);
    await this.settled(name);
    return this.status(name);
  }

  /** Back to the service's previous revision, through the rolling update with its rollback_config. */
  async rollback(name: string, service: string): Promise<ProjectStatus> {
    const rc = this.d.reconciler;
    await rc.abortRollout(name, service);
    await rc.exclusive(name, async () => {
      const rec = this.record(name);
      this.service(rec, service);
      const revs = rec.revisions[service];
      if (revs?.previous === undefined) {
        throw new FailedPreconditionError(`service ${service} has no previous revision to roll back to`);
      }
      rec.revisions[service] = { current: revs.previous, previous: revs.current };
      const replicas = rec.scale[service] ?? revs.previous.service.deploy.replicas;
      const st = rc.newRollout({ kind: 'rollback', from: revs.current, to: revs.previous, replicas });
      if (st !== undefined) rec.rollouts[service] = st;
      else delete rec.rollouts[service];
      await this.d.store.save(rec);
    });
    this.d.publish('project.rollback', { project: name, service });
    rc.schedule(name);
    await this.settled(name);
    return this.status(name);
  }

  async status(name: string): Promise<ProjectStatus> {
    const rec = this.record(name);
    const rc = this.d.reconciler;
    return projectStatus(
      rec,
      await rc.actual(name),
      rc.progress.get(name) ?? new Map(),
      rc.serviceErrors.get(name) ?? new Map(),
    );
  }

  async list(): Promise<ProjectStatus[]> {
    return Promise.all([...this.d.reconciler.records.keys()].sort().map((n) => this.status(n)));
  }

  /** The replicas' output interleaved as it comes, each line with its container's name. */
  async logs(
    name: string,
    services: string[],
    query: LogQuery,
  ): Promise<AsyncIterable<LogLine & { container: string; service: string }>> {
    const rec = this.record(name);
    for (const s of services) this.service(rec, s);
    const wanted = async () =>
      (await this.d.reconciler.actual(name)).filter(
        (r) => services.length === 0 || services.includes(r.service),
      );
    // Following, replicas started later (or only created now) are followed too, from their first line.
    const follow = query.follow === true && query.signal !== undefined;
    const actual = (await wanted()).filter((r) => !follow || r.state !== 'created');
    const { tail: _tail, ...fromStart } = query;
    const later =
      follow && query.signal
        ? newReplicas(wanted, new Set(actual.map((r) => r.id)), query.signal)
        : undefined;
    return mergeLogs(
      actual.sort((a, b) => a.service.localeCompare(b.service) || a.index - b.index),
      (id) => this.d.runtime.logs(id, later && !actual.some((r) => r.id === id) ? fromStart : query),
      later,
    );
  }
}

/**
 * The networks `up` makes and `down` removes: those the services use, less
 * the external ones, each with its name on the host (`name:` or
 * `<project>_<key>`).
 */
function ownedNetworks(
  project: ComposeProject,
): Array<{ key: string; name: string; n: ComposeProject['networks'][string] | undefined }> {
  const used = new Set(Object.values(project.services).flatMap((s) => Object.keys(s.networks)));
  return [...used]
    .map((key) => ({ key, n: project.networks[key] }))
    .filter(({ n }) => !n?.external)
    .map(({ key, n }) => ({ key, name: n?.name ?? `${project.name}_${key}`, n }));
}
