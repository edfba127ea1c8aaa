import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FailedPreconditionError, InvalidArgumentError } from '../../runtime/base/errors.js';
import type { EventExchange } from '../../runtime/base/events.js';
import { chooseOciRuntime, detectCgroups } from '../../runtime/cgroups/detect.js';
import { ContainerManager, CRASH_POINTS, type CrashPoint } from '../../runtime/containers/manager.js';
import { ConmonExecutor } from '../../runtime/exec/executor.js';
import type { LogRotator } from '../../runtime/exec/log-rotator.js';
import { K8sLogReader } from '../../runtime/exec/logfile.js';
import { probeNetwork } from '../../runtime/health/probe.js';
import { ImageStore } from '../../runtime/image/store.js';
import { BridgeNetworkManager } from '../../runtime/network/bridge.js';
import { OciSpecBuilder } from '../../runtime/oci/builder.js';
import { OverlaySnapshotter } from '../../runtime/snapshot/overlay.js';
import type { ContainerDescriptor, ImageTopic, RuntimeEvent } from '../../runtime/types.js';
import type { AgentConfig } from './config.js';
import { createLogRotator } from './log-rotation.js';

export type PreStopHook = (d: ContainerDescriptor) => Promise<void>;

export interface ComposedRuntime {
  manager: ContainerManager;
  /** Sidecars add their drain steps here (discovery maintenance, HAProxy drain); run before every stop signal. */
  preStopHooks: PreStopHook[];
  network: BridgeNetworkManager;
  /** Rotates containers' log files at logMaxSize (absent when 0); run.ts starts it after the sidecars. */
  logRotator?: LogRotator;
  /** Facts for `berth info`. */
  info(): Record<string, unknown>;
  close(): Promise<void>;
}

/** Absolute path of a binary on PATH, or a clear error naming the Debian package. */
function which(bin: string, pkg: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new FailedPreconditionError(
      `${bin} is not installed: apt-get install ${pkg} (or run npm start, which does)`,
    );
  }
}

/** BERTH_TEST_CRASH_AT, a test hook (runtime/containers/README.md): unset or empty in production. */
function testCrashAt(): { testCrashAt?: CrashPoint } {
  const v = process.env.BERTH_TEST_CRASH_AT ?? '';
  if (v === '') return {};
  if (!(CRASH_POINTS as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(
      `BERTH_TEST_CRASH_AT: a test hook, must be one of ${CRASH_POINTS.join(', ')} (or unset), got ${JSON.stringify(v)}`,
      { field: 'BERTH_TEST_CRASH_AT' },
    );
  }
  return { testCrashAt: v as CrashPoint };
}

/**
 * The one place the runtime's parts are wired together. State layout:
 * `<stateRoot>/{images,containers,snapshots,volumes,network}` persist;
 * `<runDir>/exec` holds the OCI runtime's and conmon's state, which must
 * survive an agent restart but not a reboot (containers do not either).
 */
export async function composeRuntime(
  cfg: AgentConfig,
  logger: Logger,
  events: EventExchange<RuntimeEvent>,
): Promise<ComposedRuntime> {
  const cgroups = detectCgroups();
  const runtimeName = chooseOciRuntime(cgroups, cfg.ociRuntime);
  const runtimePath = which(runtimeName, runtimeName);
  const conmonPath = which('conmon', 'conmon');
  which('ip', 'iproute2');

  const images = new ImageStore({
    root: cfg.stateRoot,
    insecureRegistries: cfg.insecureRegistries,
    maxLayerBytes: cfg.imageMaxLayerBytes,
    maxLayerEntries: cfg.imageMaxLayerEntries,
    minFreeBytes: cfg.imageMinFreeBytes,
    logger: logger.child({ component: 'images' }),
    onEvent: (topic: ImageTopic, ev: { ref: string; id: string }) => events.publish(topic, ev),
  });
  await images.ready();
  const network = new BridgeNetworkManager({
    stateDir: join(cfg.stateRoot, 'network'),
    bridge: cfg.bridge,
    subnet: cfg.subnet,
    networkPool: cfg.networkPool,
    // Containers' resolv.conf points at the embedded DNS on the gateway; its domain is their search
    // domain, so containers reach each other by bare name (`wget http://web`), as on a Compose network.
    // Without DNS on the bridge they get the host's resolvers, less the loopback ones (which would be
    // the container's own loopback), as Docker does.
    ...(cfg.dnsOnBridge ? { dnsSearch: [cfg.dnsDomain] } : { dnsServers: 'host' as const }),
    logger: logger.child({ component: 'network' }),
  });
  const spec = new OciSpecBuilder({
    cgroups,
    volumesRoot: join(cfg.stateRoot, 'volumes'),
    stateDir: join(cfg.runDir, 'containers'),
    hostCpus: availableParallelism(),
  });
  const executor = new ConmonExecutor({
    runtimePath,
    runtimeName,
    conmonPath,
    stateDir: join(cfg.runDir, 'exec'),
    cgroups,
    logger: logger.child({ component: 'exec' }),
    // No logSizeMax: berth rotates (log-rotation.ts); conmon's own rotation keeps no old file.
  });
  const preStopHooks: PreStopHook[] = [];
  const manager = new ContainerManager({
    preStopHooks,
    stateRoot: cfg.stateRoot,
    runDir: cfg.runDir,
    images,
    imageOps: images,
    snapshots: new OverlaySnapshotter({ root: join(cfg.stateRoot, 'snapshots') }),
    network,
    spec,
    executor,
    logs: new K8sLogReader(),
    events,
    logger: logger.child({ component: 'containers' }),
    probeNetwork,
    ...testCrashAt(),
  });
  const logRotator =
    cfg.logMaxSize > 0
      ? createLogRotator({
          maxBytes: cfg.logMaxSize,
          manager,
          executor,
          logger: logger.child({ component: 'logrotate' }),
        })
      : undefined;
  return {
    manager,
    preStopHooks,
    network,
    ...(logRotator ? { logRotator } : {}),
    info: () => ({
      cgroups: cgroups.version,
      ociRuntime: `${runtimeName} (${runtimePath})`,
      monitor: conmonPath,
      bridge: `${network.bridge} ${network.subnet.cidr}`,
    }),
    close: async () => {
      await logRotator?.close();
      await manager.close();
    },
  };
}
