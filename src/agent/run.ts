import { hostname } from 'node:os';
import { messageOf } from '../../runtime/base/errors.js';
import { EventExchange } from '../../runtime/base/events.js';
import { createLogger, type Logger } from '../../runtime/base/log.js';
import type { RuntimeEvent } from '../../runtime/types.js';
import { ApiServer, claimSocketPath } from '../api/server.js';
import { DeployMetrics } from '../deploy/metrics.js';
import { VERSION } from '../version.js';
import { checkStartConfig } from './check.js';
import { composeRuntime } from './compose.js';
import { type AgentConfig, apiTcpAddress, loadAgentConfig } from './config.js';
import { startDashboard } from './dashboard.js';
import { dashboardStatusReader } from './dashboard-status.js';
import { demoStopNote, demoWanted, runDemo } from './demo.js';
import { startDeploy } from './deploy.js';
import { makeAgentRoots, secureAgentDirs } from './dirs.js';
import { lockAgentDirs } from './lock.js';
import { logRotationFamilies } from './log-rotation.js';
import { networkVerbs } from './networks.js';
import { observeSource } from './observe.js';
import { startSidecars } from './sidecars.js';

/**
 * `berth agent`: load config, build the runtime and the sidecars (the one
 * place modules are wired: compose.ts), re-adopt running containers, serve
 * the API, and on SIGINT/SIGTERM stop serving while containers keep running.
 */
export async function runAgent(flags: Record<string, string | undefined>): Promise<void> {
  const cfg = await loadAgentConfig(flags);
  // What --check-config checks, refused here the same way before anything is touched.
  await checkStartConfig(cfg);
  const logger = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  for (const line of cfg.deprecated) logger.warn({ deprecated: line }, `config: ${line}`);
  await makeAgentRoots(cfg);
  // Before anything reads or changes state: a second agent on the same directories stops here.
  const lock = await lockAgentDirs({ stateRoot: cfg.stateRoot, runDir: cfg.runDir });
  try {
    // Closed to local users before any container state is read or written (also dirs an older release left open).
    const tightened = await secureAgentDirs(cfg);
    if (tightened.length > 0) logger.info({ changed: tightened }, 'state and run dirs tightened');
    // So does one on another agent's socket, before it creates a bridge or touches a container.
    await claimSocketPath(cfg.socket);
    await serve(cfg, logger);
  } finally {
    await lock.release();
  }
}

async function serve(cfg: AgentConfig, logger: Logger): Promise<void> {
  const events = new EventExchange<RuntimeEvent>();
  const runtime = await composeRuntime(cfg, logger, events);
  const restored = await runtime.manager.restore();
  // --mode: the sidecars follow berth's containers, the host's (observe), or both.
  const observed = await observeSource(cfg, runtime.manager, logger);
  // The bridge exists from the start so the DNS server can listen on its gateway.
  const gateway = !observed.bridge
    ? undefined
    : await runtime.network.up().catch((err: unknown) => {
        logger.warn({ err: messageOf(err) }, 'bridge not available; bridge networking will fail until it is');
        return undefined;
      });
  const rotator = runtime.logRotator;
  const sidecars = await startSidecars(observed.cfg, observed.source, logger, {
    gateway,
    preStopHooks: runtime.preStopHooks,
    ...(observed.registrarCatalog ? { registrarCatalog: observed.registrarCatalog } : {}),
    ...(rotator ? { onLogRead: (id: string, offset: number) => rotator.nudge(id, offset) } : {}),
  });
  if (rotator) {
    // Started once the shipper can tell whether an old log file is acknowledged (log-rotation.ts).
    if (sidecars.oldLogState) rotator.setGate(sidecars.oldLogState);
    rotator.start();
    sidecars.addMetrics('logrotate', () => logRotationFamilies(rotator.counters));
  }
  await observed.register(sidecars.catalog);
  const deploy = await startDeploy({
    stateRoot: cfg.stateRoot,
    runtime: runtime.manager,
    events,
    catalogView: () => sidecars.catalog.view(),
    ...(sidecars.lbSlots ? { lbSlots: sidecars.lbSlots } : {}),
    networks: networkVerbs(runtime.network, runtime.manager),
    projectsDir: cfg.projectsDir,
    logger,
  });
  // The reconciler's figures on /metrics, counted from its project.* events.
  const deployStop = new AbortController();
  const deployMetrics = new DeployMetrics({
    events: (signal) => events.subscribe({ topics: ['project.*'], signal }),
    list: () => deploy.projects.list(),
  });
  deployMetrics.start(deployStop.signal);
  sidecars.addMetrics('deploy', () => deployMetrics.families());
  const endpoints: Record<string, string> = { api: `unix://${cfg.socket}`, ...sidecars.endpoints };
  const api = new ApiServer(
    {
      runtime: runtime.manager,
      events,
      stats: sidecars.stats,
      ...(observed.observer ? { observed: observed.observer } : {}),
      projects: deploy.projects,
      networks: networkVerbs(runtime.network, runtime.manager),
      dashboardStatus: dashboardStatusReader(cfg, sidecars.catalog, endpoints),
    },
    logger.child({ component: 'api' }),
    () => ({
      endpoints,
      version: VERSION,
      host: hostname(),
      mode: cfg.mode,
      stateRoot: cfg.stateRoot,
      runDir: cfg.runDir,
      ...runtime.info(),
    }),
  );
  await api.listen({
    socketPath: cfg.socket,
    ...(cfg.apiTcp && cfg.apiToken
      ? {
          tcp: {
            ...apiTcpAddress(cfg.apiTcp),
            token: cfg.apiToken,
            insecure: cfg.apiTcpInsecure,
            ...(cfg.apiTlsCert && cfg.apiTlsKey
              ? {
                  tls: {
                    certFile: cfg.apiTlsCert,
                    keyFile: cfg.apiTlsKey,
                    ...(cfg.apiTlsClientCa ? { clientCaFile: cfg.apiTlsClientCa } : {}),
                  },
                }
              : {}),
          },
        }
      : {}),
  });
  if (api.tcpAddress) {
    const { host, port } = api.tcpAddress;
    const how = cfg.apiTlsCert
      ? `TLS${cfg.apiTlsClientCa ? ', client certificates' : ''}, bearer token`
      : 'bearer token';
    endpoints.apiTcp = `tcp://${host.includes(':') ? `[${host}]` : host}:${port} (${how})`;
  }
  const dashboard = await startDashboard(cfg, api, logger, endpoints);
  logger.info({ version: VERSION, endpoints, restored }, 'berth agent ready');
  process.stdout.write(
    `berth ${VERSION} agent ready (${restored.running} running containers re-adopted, ${restored.exited} found exited)\n${Object.entries(
      endpoints,
    )
      .map(([k, v]) => `  ${k.padEnd(8)} ${v}\n`)
      .join('')}`,
  );
  process.stdout.write(dashboard.banner);

  // npm start's demo (demo/README.md): brought up through the agent's own socket once it serves.
  const demoStop = new AbortController();
  let demoRan = false;
  if (demoWanted(cfg.demo)) {
    void runDemo(
      { images: runtime.manager, logger },
      {
        composeFile: cfg.demo,
        socket: cfg.socket,
        signal: demoStop.signal,
        endpoints: () => {
          // The first DNS address, when the endpoint is one (not "not running: …").
          const dns = endpoints.dns?.split(',')[0]?.trim() ?? '';
          return {
            ...(/^[\d.:[\]a-f]+$/.test(dns) ? { dns } : {}),
            ...(endpoints.metrics?.startsWith('http') ? { metrics: endpoints.metrics } : {}),
            ...(dashboard.loginUrl ? { dashboard: dashboard.loginUrl() } : {}),
          };
        },
      },
    ).then((ok) => {
      demoRan = ok;
    });
  }

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      logger.info({ signal: sig }, 'shutting down; containers keep running');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  demoStop.abort();
  await dashboard.close();
  await api.close();
  deployStop.abort();
  await deploy.close();
  await sidecars.close();
  await observed.close();
  await runtime.close();
  if (demoRan) process.stdout.write(demoStopNote());
}
