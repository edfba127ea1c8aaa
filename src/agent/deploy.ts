import { isAlreadyExists, isNotFound } from '../../runtime/base/errors.js';
import type { EventExchange } from '../../runtime/base/events.js';
import type { Logger } from '../../runtime/base/log.js';
import type { NetworkVerbs } from '../../runtime/network/types.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { RuntimeEvent } from '../../runtime/types.js';
import type { CatalogView } from '../../sidecar/discovery/types.js';
import { Projects } from '../deploy/projects.js';
import { catalogReadiness, type LbSlots } from '../deploy/readiness.js';
import { Reconciler } from '../deploy/reconciler.js';
import type { ProjectNetworks } from '../deploy/replica-ops.js';
import { newRolloutState, rollout } from '../deploy/rollout.js';
import { rolloutTopic } from '../deploy/rollout-progress.js';
import { ProjectStore } from '../deploy/store.js';

export interface Deploy {
  projects: Projects;
  reconciler: Reconciler;
  close(): Promise<void>;
}

/**
 * The Compose side of the agent (src/deploy): the project store, the
 * reconciler over the runtime, readiness from the catalog and HAProxy, the
 * rolling update engine, and `project.*` events on the runtime's exchange.
 * Started after the sidecars (readiness reads them) and after live restore
 * (it re-adopts replicas by their labels).
 */
export async function startDeploy(deps: {
  stateRoot: string;
  runtime: Runtime;
  events: EventExchange<RuntimeEvent>;
  catalogView: () => CatalogView;
  lbSlots?: LbSlots;
  /** The runtime's network registry: projects' networks are made at up and removed at down. */
  networks?: Pick<NetworkVerbs, 'createNetwork' | 'removeNetwork'>;
  /** `--projects-dir`: Compose projects kept up from a watched directory. */
  projectsDir?: string | null;
  logger: Logger;
}): Promise<Deploy> {
  const logger = deps.logger.child({ component: 'reconciler' });
  // Project events share the exchange (`berth events --filter 'project.*'`, /v1/ws/events); their
  // payload is not a container's, which subscribers of container.* never see.
  const publish = (topic: string, event: Record<string, unknown>) =>
    deps.events.publish(topic, event as unknown as RuntimeEvent);
  const store = new ProjectStore(deps.stateRoot, logger);
  const verbs = deps.networks;
  const networks: ProjectNetworks | undefined = verbs && {
    ensure: async (n) => {
      await verbs.createNetwork(n).catch((err: unknown) => {
        // Made by an earlier up (or by hand, as Compose accepts): used as it is.
        if (!isAlreadyExists(err)) throw err;
      });
    },
    remove: async (name) => {
      await verbs.removeNetwork(name).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    },
  };
  const reconciler = new Reconciler({
    runtime: deps.runtime,
    store,
    readiness: catalogReadiness(deps.catalogView, deps.lbSlots),
    ...(networks ? { networks } : {}),
    rollouts: { rollout: (o) => rollout(o), newState: (a) => newRolloutState(a) },
    publish: (topic, ev) => {
      if (topic === 'project.rollout') {
        publish(`project.${rolloutTopic(ev as unknown as Parameters<typeof rolloutTopic>[0])}`, ev);
      } else publish(topic, ev);
    },
    logger,
  });
  const projects = new Projects({
    reconciler,
    store,
    runtime: deps.runtime,
    ...(networks ? { networks } : {}),
    publish,
    logger,
  });
  await reconciler.start();
  // Loaded only with --projects-dir: its watcher (chokidar) is heap every other agent would carry.
  const dir = deps.projectsDir
    ? new (await import('../deploy/projects-dir.js')).ProjectsDir({
        dir: deps.projectsDir,
        projects,
        logger: logger.child({ projectsDir: deps.projectsDir }),
      })
    : undefined;
  await dir?.start();
  return {
    projects,
    reconciler,
    close: async () => {
      await dir?.close();
      await reconciler.close();
    },
  };
}
