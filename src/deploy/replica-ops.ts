import { setTimeout as sleep } from 'node:timers/promises';
import { isNotFound, messageOf, UnavailableError } from '../../runtime/base/errors.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { ContainerDescriptor } from '../../runtime/types.js';
import type { ComposeProject } from '../compose/types.js';
import type { Replica, ReplicaOps, ServiceRevision } from './contract.js';
import { replicaIdentity } from './labels.js';
import type { Locate } from './locate.js';
import type { ReadinessGate } from './readiness.js';
import { replicaSpec } from './spec.js';

/** The runtime verbs the reconciler uses (a subset of `Runtime`, so tests can hand a smaller one). */
export type ReplicaRuntime = Pick<
  Runtime,
  'create' | 'start' | 'stop' | 'remove' | 'get' | 'list' | 'createVolume' | 'logs'
>;

/**
 * Project networks as the reconciler needs them: made at `up`, removed at
 * `down`. The runtime's network registry implements it (agent composition);
 * without one (`undefined`), replicas join the default bridge.
 */
export interface ProjectNetworks {
  ensure(net: { name: string; internal: boolean; labels: Record<string, string> }): Promise<void>;
  remove(name: string): Promise<void>;
}

const POLL_MS = 100;

/**
 * `ReplicaOps` (contract.ts) over the container runtime and the sidecars'
 * readiness, for one project. `retire` stops through the runtime, whose
 * pre-stop hooks are the sidecars' drains (catalog maintenance, HAProxy
 * drain), then removes.
 */
export class RuntimeReplicaOps implements ReplicaOps {
  constructor(
    private readonly d: {
      runtime: ReplicaRuntime;
      readiness: ReadinessGate;
      project: () => ComposeProject;
      locate?: Locate;
      networks?: ProjectNetworks;
    },
  ) {}

  async start(rev: ServiceRevision, index: number, signal: AbortSignal): Promise<Replica> {
    signal.throwIfAborted();
    const project = this.d.project();
    const spec = replicaSpec(project, rev.service, index, rev.configHash, this.d.locate);
    for (const v of spec.volumes) await this.d.runtime.createVolume(v);
    const request =
      this.d.networks !== undefined && spec.networks.length > 0
        ? { ...spec.request, networks: spec.networks }
        : spec.request;
    const name = String(request.name);
    // A dead replica of ours may still hold the name (replaced after a crash): it goes first.
    const old = await this.d.runtime.get(name).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (old !== undefined) {
      const id = replicaIdentity(old.labels);
      if (id !== undefined && id.project === project.name && old.state !== 'running') {
        await this.d.runtime.remove(old.id, { force: true });
      }
    }
    const created = await this.d.runtime.create(request);
    try {
      signal.throwIfAborted();
      await this.d.runtime.start(created.id);
    } catch (err) {
      // A replica that cannot start is not left behind to be mistaken for one that exited.
      await this.d.runtime.remove(created.id, { force: true }).catch(() => undefined);
      throw err;
    }
    return { id: created.id, name: created.name, index, configHash: rev.configHash };
  }

  async ready(replica: Replica, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let waiting = 'start';
    while (Date.now() <= deadline) {
      signal.throwIfAborted();
      const c = await this.d.runtime.get(replica.id);
      const bad = failure(c);
      if (bad !== undefined) throw new UnavailableError(`${replica.name} ${bad}`);
      if (c.state === 'running' && (c.health === 'healthy' || c.health === 'none')) {
        const w = this.d.readiness.waitingFor(c);
        if (w === undefined) return;
        waiting = w;
      } else {
        waiting = c.health === 'starting' ? 'a healthy health check' : `state ${c.state}`;
      }
      await sleep(POLL_MS, undefined, { signal });
    }
    throw new UnavailableError(`${replica.name} not ready within ${timeoutMs} ms (waiting for ${waiting})`);
  }

  async monitor(replica: Replica, ms: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      signal.throwIfAborted();
      const bad = failure(await this.d.runtime.get(replica.id));
      if (bad !== undefined) throw new UnavailableError(`${replica.name} ${bad} while monitored`);
      if (Date.now() >= deadline) return;
      await sleep(Math.min(POLL_MS * 2, Math.max(1, deadline - Date.now())), undefined, { signal });
    }
  }

  async retire(replica: Replica, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    try {
      const c = await this.d.runtime.get(replica.id);
      if (c.state === 'running' || c.state === 'restarting') await this.d.runtime.stop(replica.id);
      await this.d.runtime.remove(replica.id, { force: true });
    } catch (err) {
      if (!isNotFound(err)) throw new UnavailableError(`retire ${replica.name}: ${messageOf(err)}`);
    }
  }
}

/** Why a replica counts as failed now, or undefined. */
function failure(c: ContainerDescriptor): string | undefined {
  if (c.state === 'exited' || c.state === 'dead') return `exited (code ${c.exitCode ?? '?'})`;
  if (c.health === 'unhealthy') return 'turned unhealthy';
  return undefined;
}
