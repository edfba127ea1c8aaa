import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseHostPort } from '../../runtime/base/address.js';
import { validateConfig } from '../../runtime/base/config.js';
import { messageOf } from '../../runtime/base/errors.js';
import type { ContainerSource } from '../../runtime/types.js';
import { registrarOptions } from '../../sidecar/discovery/config.js';
import { createCatalogSidecar, createRegistrarSidecar } from '../../sidecar/discovery/sidecar.js';
import type { Catalog } from '../../sidecar/discovery/types.js';
import { dnsServerOptions } from '../../sidecar/dns/config.js';
import type { ListenAddress } from '../../sidecar/dns/server.js';
import { createDnsSidecar } from '../../sidecar/dns/sidecar.js';
import { resolveHaproxyOptions } from '../../sidecar/haproxy/config.js';
import { createHaproxySidecar } from '../../sidecar/haproxy/sidecar.js';
import type { LbState } from '../../sidecar/haproxy/slots.js';
import { createLogShippingSidecar, parseLogShippingConfig } from '../../sidecar/logs/index.js';
import { createMetricsSidecar, METRICS_CONFIG, parseRoots } from '../../sidecar/metrics/index.js';
import { StatsReader } from '../../sidecar/metrics/stats.js';
import type { MetricsProvider, Sidecar } from '../../sidecar/types.js';
import type { PreStopHook } from './compose.js';
import type { AgentConfig } from './config.js';

export interface Sidecars {
  catalog: Catalog;
  endpoints: Record<string, string>;
  /** Per-container counters for `berth stats`, from the metrics sidecar's readers. */
  stats: StatsReader;
  /** The HAProxy manager's slots when it runs: the reconciler's readiness reads them. */
  lbSlots?: () => LbState;
  /** Adds families to /metrics from a part started after the sidecars (the reconciler's). */
  addMetrics(name: string, provide: MetricsProvider): void;
  /** When logs are shipped: where shipping stands with a container's old log file (`.1`; log rotation waits for it). */
  oldLogState?: (c: { id: string; logPath: string }) => Promise<'shipped' | 'reading' | 'pending'>;
  close(): Promise<void>;
}

function parseAddr(s: string, field: string, defPort: number): ListenAddress {
  const { host, port } = parseHostPort(s, {
    field,
    defaultPort: defPort,
    minPort: 0,
    form: 'ip[:port]',
    example: `127.0.0.1:${defPort}`,
  });
  return { address: host, port };
}

/** The host's first non-internal IPv4 that is not berth's own bridge gateway. */
function primaryIpv4(gateway?: string): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal && a.address !== gateway) return a.address;
    }
  }
  return '127.0.0.1';
}

/**
 * Starts the sidecars over the runtime's ContainerSource, in this order: the
 * catalog (Consul when configured, else local), registration, HAProxy, the
 * embedded DNS server, log shipping and /metrics (last: it serves the
 * others' families). Each is a `Sidecar` (sidecar/types.ts); this builds the
 * configured ones and runs them in a loop. An optional sidecar that cannot
 * start (a port in use) is reported and the agent runs on: containers matter
 * more than any one sidecar.
 */
export async function startSidecars(
  cfg: AgentConfig,
  source: ContainerSource,
  logger: Logger,
  facts: {
    gateway?: string;
    preStopHooks: PreStopHook[];
    /** The registrar's view of the catalog (services.ts: without the service-file instances it must not remove). */
    registrarCatalog?: (catalog: Catalog) => Catalog;
    /** Told the offset each read of a container's log reached (log rotation, log-rotation.ts). */
    onLogRead?: (containerId: string, offset: number) => void;
  },
): Promise<Sidecars> {
  const nodeName = cfg.nodeName ?? hostname();
  const sidecars: Sidecar[] = [];

  const catalogSidecar = createCatalogSidecar({
    nodeName,
    datacenter: cfg.datacenter,
    ...(cfg.consul ? { consul: cfg.consul } : {}),
    ...(cfg.consulToken ? { consulToken: cfg.consulToken } : {}),
    consulClient: cfg.consulClient,
    localPath: join(cfg.stateRoot, 'discovery', 'catalog.json'),
    logger,
  });
  const { catalog } = catalogSidecar;
  sidecars.push(catalogSidecar);

  sidecars.push(
    createRegistrarSidecar({
      source,
      catalog: facts.registrarCatalog?.(catalog) ?? catalog,
      host: { nodeName, hostIp: cfg.hostIp ?? primaryIpv4(facts.gateway), address: cfg.registerAddress },
      ...registrarOptions(cfg.discovery),
      logger,
    }),
  );

  let haproxy: ReturnType<typeof createHaproxySidecar> | undefined;
  if (cfg.haproxy !== 'off') {
    const options = resolveHaproxyOptions(
      [{ stateDir: join(cfg.stateRoot, 'haproxy') }, cfg.sections.haproxy ?? {}, { mode: cfg.haproxy }],
      { env: process.env, ...(facts.gateway ? { gateway: facts.gateway } : {}) },
    );
    haproxy = createHaproxySidecar({ catalog, options, logger });
    sidecars.push(haproxy);
  }

  const listen = cfg.dnsListen.map((s, i) => parseAddr(s, `dnsListen[${i}]`, 53));
  if (cfg.dnsOnBridge && facts.gateway) listen.push({ address: facts.gateway, port: 53 });
  if (listen.length > 0) {
    const server = {
      view: () => catalog.view(),
      domain: cfg.dnsDomain,
      datacenter: cfg.datacenter,
      nodeName,
      listen,
      ...(cfg.dnsUpstreams.length > 0 ? { upstreams: cfg.dnsUpstreams } : {}),
      ...dnsServerOptions(cfg.dns),
    };
    sidecars.push(createDnsSidecar({ source, server, logger }));
  }

  const logsCfg = parseLogShippingConfig(
    [cfg.sections.logs ?? {}, cfg.fluentd.length > 0 ? { servers: cfg.fluentd } : {}],
    process.env,
  );
  // Shipping is opt-in: with no receiver named, records would only pile up in the spool.
  const named = cfg.fluentd.length > 0 || cfg.sections.logs?.servers !== undefined;
  let logShipping: ReturnType<typeof createLogShippingSidecar> | undefined;
  if (logsCfg.enabled && named && logsCfg.servers.length > 0) {
    // Records name this node (nodeName: the downward API's in a DaemonSet, where the host name is the
    // pod's) unless the file names logs.host; parseLogShippingConfig alone would give the host name.
    const config = { ...logsCfg, host: cfg.sections.logs?.host === undefined ? nodeName : logsCfg.host };
    logShipping = createLogShippingSidecar({
      config,
      source,
      stateDir: cfg.stateRoot,
      logger,
      ...(facts.onLogRead ? { onRead: facts.onLogRead } : {}),
    });
    sidecars.push(logShipping);
  }

  const values = validateConfig(METRICS_CONFIG, [cfg.sections.metrics ?? {}, { listen: cfg.metricsListen }], {
    prefix: 'metrics.',
  });
  // `berth stats` reads the same cgroup files through the same roots as /metrics, served or not.
  const stats = new StatsReader(source, parseRoots(values.roots));
  // Filled as the sidecars start; the metrics sidecar, started last, reads it.
  const providers: Array<[string, MetricsProvider]> = [];
  // Parts started after the sidecars register through one provider that reads this map per scrape.
  const late = new Map<string, MetricsProvider>();
  providers.push(['agent', () => [...late.values()].flatMap((provide) => provide())]);
  if (cfg.metricsListen) sidecars.push(createMetricsSidecar(values, source, logger, providers));

  const { endpoints, close } = await startInOrder(sidecars, {
    logger,
    preStopHooks: facts.preStopHooks,
    providers,
  });
  const lb = haproxy && !endpoints.haproxy?.startsWith('not running') ? haproxy.manager : undefined;
  return {
    catalog,
    endpoints,
    stats,
    ...(lb ? { lbSlots: () => lb.slots() } : {}),
    addMetrics: (name, provide) => {
      late.set(name, provide);
    },
    ...(logShipping ? { oldLogState: logShipping.oldFileState } : {}),
    close,
  };
}

/**
 * Starts `sidecars` one after another. A started one's endpoint, preStop
 * hook and metric providers are collected (in start order, so a later
 * sidecar reading `providers` at its start sees every earlier one's); an
 * optional one that fails is reported as `<status>: <reason>` and skipped; a
 * required one that fails closes those already started and throws. `close`
 * closes the started ones in reverse order, each failure logged, never thrown.
 */
export async function startInOrder(
  sidecars: readonly Sidecar[],
  deps: { logger: Logger; preStopHooks: PreStopHook[]; providers: Array<[string, MetricsProvider]> },
): Promise<{ endpoints: Record<string, string>; close(): Promise<void> }> {
  const { logger } = deps;
  const endpoints: Record<string, string> = {};
  const started: Sidecar[] = [];
  const close = async () => {
    for (const s of started.splice(0).reverse()) {
      await s.close().catch((err: unknown) => {
        logger.warn({ err, sidecar: s.name }, 'sidecar: close failed; closing the others');
      });
    }
  };
  for (const s of sidecars) {
    try {
      await s.start();
    } catch (err) {
      if (s.optional === undefined) {
        // The agent will not run: what did start stops again (a managed HAProxy keeps serving).
        await close();
        throw err;
      }
      endpoints[s.name] = `${s.optional.status}: ${messageOf(err)}`;
      logger.warn({ err, ...s.optional.context }, s.optional.warning);
      continue;
    }
    started.push(s);
    const endpoint = s.endpoint?.();
    if (endpoint !== undefined) endpoints[s.name] = endpoint;
    const preStop = s.preStop;
    if (preStop) deps.preStopHooks.push((d) => preStop(d));
    for (const [name, provide] of Object.entries(s.metrics ?? {})) deps.providers.push([name, provide]);
  }
  return { endpoints, close };
}
