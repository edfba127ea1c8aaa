import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseHostPort } from '../../runtime/base/address.js';
import { validateConfig } from '../../runtime/base/config.js';
import { messageOf } from '../../runtime/base/errors.js';
import type { ContainerSource } from '../../runtime/types.js';
import { ConsulCatalog } from '../../sidecar/discovery/consul.js';
import { LocalCatalog } from '../../sidecar/discovery/local.js';
import { Registrar } from '../../sidecar/discovery/registrar.js';
import type { Catalog } from '../../sidecar/discovery/types.js';
import { ContainerNameIndex } from '../../sidecar/dns/container-names.js';
import { DnsServer, type ListenAddress } from '../../sidecar/dns/server.js';
import { resolveHaproxyOptions } from '../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../sidecar/haproxy/manager.js';
import { createLogShipping, type LogShipping, parseLogShippingConfig } from '../../sidecar/logs/index.js';
import { catalogFamilies } from '../../sidecar/metrics/adapters/catalog.js';
import { dnsFamilies } from '../../sidecar/metrics/adapters/dns.js';
import { haproxyFamilies, registrarFamilies } from '../../sidecar/metrics/adapters/haproxy.js';
import { logPipelineFamilies } from '../../sidecar/metrics/adapters/logs.js';
import type { ExternalProvider } from '../../sidecar/metrics/external.js';
import { createMetricsSidecar, METRICS_CONFIG, parseRoots } from '../../sidecar/metrics/index.js';
import type { MetricsServer } from '../../sidecar/metrics/server.js';
import { StatsReader } from '../../sidecar/metrics/stats.js';
import type { PreStopHook } from './compose.js';
import type { AgentConfig } from './config.js';

export interface Sidecars {
  catalog: Catalog;
  endpoints: Record<string, string>;
  /** Per-container counters for `berth stats`, from the metrics sidecar's readers. */
  stats: StatsReader;
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

function consulOptions(addr: string): { host: string; port: number; secure: boolean } {
  const url = new URL(/^https?:\/\//.test(addr) ? addr : `http://${addr}`);
  const secure = url.protocol === 'https:';
  return { host: url.hostname, port: url.port ? Number(url.port) : 8500, secure };
}

/**
 * Starts the sidecars over the runtime's ContainerSource: the catalog (Consul
 * when configured, else local), the embedded DNS server, /metrics and log
 * shipping. A sidecar that cannot start (a port in use) is reported and the
 * agent runs on: containers matter more than any one sidecar.
 */
export async function startSidecars(
  cfg: AgentConfig,
  source: ContainerSource,
  logger: Logger,
  facts: { gateway?: string; preStopHooks: PreStopHook[] },
): Promise<Sidecars> {
  const nodeName = cfg.nodeName ?? hostname();
  const endpoints: Record<string, string> = {};
  // Counters each sidecar keeps, exported on /metrics (read at scrape time, never awaited).
  const providers: Array<[string, ExternalProvider]> = [];
  const closers: Array<() => Promise<void> | void> = [];

  const catalog: Catalog = cfg.consul
    ? new ConsulCatalog({
        ...consulOptions(cfg.consul),
        nodeName,
        datacenter: cfg.datacenter,
        ...(cfg.consulToken ? { token: cfg.consulToken } : {}),
        log: logger.child({ component: 'consul' }),
      })
    : new LocalCatalog({
        nodeName,
        datacenter: cfg.datacenter,
        path: join(cfg.stateRoot, 'discovery', 'catalog.json'),
      });
  endpoints.catalog = cfg.consul ? `consul ${cfg.consul}` : 'local';
  closers.push(() => catalog.close());

  const registrar = new Registrar({
    source,
    catalog,
    host: { nodeName, hostIp: cfg.hostIp ?? primaryIpv4(facts.gateway), address: cfg.registerAddress },
    log: logger.child({ component: 'registrar' }),
  });
  await registrar.start();
  providers.push(['discovery', () => catalogFamilies(catalog.view())]);
  providers.push(['registrar', () => registrarFamilies(registrar.counters.snapshot())]);
  facts.preStopHooks.push((d) => registrar.preStop(d));
  closers.push(() => registrar.close());

  if (cfg.haproxy !== 'off') {
    const lb = new HaproxyManager({
      catalog,
      options: resolveHaproxyOptions(
        [{ stateDir: join(cfg.stateRoot, 'haproxy') }, cfg.sections.haproxy ?? {}, { mode: cfg.haproxy }],
        { env: process.env, ...(facts.gateway ? { gateway: facts.gateway } : {}) },
      ),
      logger: logger.child({ component: 'haproxy' }),
    });
    try {
      await lb.start();
      endpoints.haproxy = cfg.haproxy;
      providers.push(['haproxy', () => haproxyFamilies(lb.metrics.snapshot())]);
      facts.preStopHooks.push(async (d) => {
        await lb.preStop(d);
      });
      // Containers outlive the agent, and so does the HAProxy in front of them.
      closers.push(() => lb.close({ keepHaproxy: true }));
    } catch (err) {
      endpoints.haproxy = `not running: ${messageOf(err)}`;
      logger.warn({ err: messageOf(err) }, 'haproxy: cannot start; the agent runs without load balancing');
    }
  }

  const names = new ContainerNameIndex(source, logger.child({ component: 'names' }));
  await names.start();
  closers.push(() => names.close());

  const listen = cfg.dnsListen.map((s, i) => parseAddr(s, `dnsListen[${i}]`, 53));
  if (cfg.dnsOnBridge && facts.gateway) listen.push({ address: facts.gateway, port: 53 });
  if (listen.length > 0) {
    const dns = new DnsServer({
      view: () => catalog.view(),
      domain: cfg.dnsDomain,
      datacenter: cfg.datacenter,
      nodeName,
      listen,
      ...(cfg.dnsUpstreams.length > 0 ? { upstreams: cfg.dnsUpstreams } : {}),
      containerNames: () => names.names(),
      log: logger.child({ component: 'dns' }),
    });
    try {
      await dns.start();
      endpoints.dns = dns
        .addresses()
        .map((a) => `${a.address}:${a.port}`)
        .join(', ');
      closers.push(() => dns.close());
      providers.push(['dns', () => dnsFamilies(dns.counters.snapshot())]);
    } catch (err) {
      endpoints.dns = `not serving: ${messageOf(err)}`;
      logger.warn(
        { err: messageOf(err), listen },
        'dns: cannot listen; the agent runs without its DNS server',
      );
    }
  }

  const logsCfg = parseLogShippingConfig(
    [cfg.sections.logs ?? {}, cfg.fluentd.length > 0 ? { servers: cfg.fluentd } : {}],
    process.env,
  );
  let shipping: LogShipping | undefined;
  // Shipping is opt-in: with no receiver named, records would only pile up in the spool.
  const named = cfg.fluentd.length > 0 || cfg.sections.logs?.servers !== undefined;
  if (logsCfg.enabled && named && logsCfg.servers.length > 0) {
    shipping = await createLogShipping({
      config: { ...logsCfg, host: logsCfg.host || nodeName },
      source,
      stateDir: cfg.stateRoot,
      logger: logger.child({ component: 'logs' }),
    });
    await shipping.start();
    endpoints.logs = `forward ${logsCfg.servers.map((s) => `${s.host}:${s.port}`).join(', ')}`;
    const s = shipping;
    closers.push(() => s.stop());
    providers.push(['logs', () => logPipelineFamilies(s.pipeline.metrics())]);
  }

  const values = validateConfig(METRICS_CONFIG, [cfg.sections.metrics ?? {}, { listen: cfg.metricsListen }], {
    prefix: 'metrics.',
  });
  // `berth stats` reads the same cgroup files through the same roots as /metrics, served or not.
  const stats = new StatsReader(source, parseRoots(String(values.roots)));
  if (cfg.metricsListen) {
    const { collector, server } = createMetricsSidecar(
      values,
      source,
      logger.child({ component: 'metrics' }),
    );
    for (const [name, provide] of providers) collector.registerExternal(name, provide);
    endpoints.metrics = await startOrReport(server, logger);
    closers.push(() => server.stop());
  }

  return {
    catalog,
    endpoints,
    stats,
    async close() {
      for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
    },
  };
}

async function startOrReport(server: MetricsServer, logger: Logger): Promise<string> {
  try {
    const a = await server.start();
    return `http://${a.host}:${a.port}/metrics`;
  } catch (err) {
    logger.warn({ err: messageOf(err) }, 'metrics: cannot listen; the agent runs without /metrics');
    return `not serving: ${messageOf(err)}`;
  }
}
