import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, messageOf } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import { dashboardAddress } from '../api/dashboard-config.js';
import { DashboardServer, defaultWebDir } from '../api/dashboard-server.js';
import type { ApiServer, TlsMaterial } from '../api/server.js';
import type { AgentConfig } from './config.js';

export interface StartedDashboard {
  /** `  login    http://…/login?token=…` for the start-up banner, or '' when off. */
  banner: string;
  /** A fresh one-time login URL (the demo's banner prints one), absent when off. */
  loginUrl?: () => string;
  close(): Promise<void>;
}

/**
 * Starts the dashboard listener (src/api/README.md) when enabled: its URL
 * goes into `endpoints.dashboard`, `api.setDashboardLogin` lets
 * `berth dashboard-url` mint login URLs, and a first one-time login URL is
 * logged and returned for the banner. A listener that cannot start (the
 * port is taken) is reported in `endpoints` and the agent runs on, as an
 * optional sidecar does: containers matter more than the page.
 */
export async function startDashboard(
  cfg: AgentConfig,
  api: ApiServer,
  logger: Logger,
  endpoints: Record<string, string>,
): Promise<StartedDashboard> {
  const d = cfg.dashboard;
  if (!d.enabled) return { banner: '', close: async () => undefined };
  const log = logger.child({ component: 'dashboard' });
  const server = new DashboardServer(api, log);
  try {
    const tls = await dashboardTls(cfg);
    await server.listen({
      ...dashboardAddress(d.listen),
      hosts: d.hosts,
      loginTtlMs: d.loginTtl,
      sessionTtlMs: d.sessionTtl,
      webDir: d.webDir ?? defaultWebDir(),
      ...(tls ? { tls } : {}),
    });
  } catch (err) {
    endpoints.dashboard = `off: ${messageOf(err)}`;
    log.warn(
      { err: messageOf(err), listen: d.listen },
      'dashboard: cannot listen; the agent runs on without it',
    );
    return { banner: '', close: async () => undefined };
  }
  endpoints.dashboard = server.url();
  api.setDashboardLogin(() => server.loginUrl());
  const { url, expiresAt } = server.loginUrl();
  // Printed and logged as Jupyter does: the operator's terminal and the root-only log.
  log.info({ url, expiresAt }, 'dashboard: one-time login URL');
  return {
    banner: `  ${'login'.padEnd(8)} ${url} (once, until ${expiresAt}; berth dashboard-url makes another)\n`,
    loginUrl: () => server.loginUrl().url,
    close: () => server.close(),
  };
}

/** The API's TLS files, when set: the dashboard serves the same certificate. */
async function dashboardTls(cfg: AgentConfig): Promise<TlsMaterial | undefined> {
  if (!cfg.apiTlsCert || !cfg.apiTlsKey) return undefined;
  const read = async (file: string, field: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new InvalidArgumentError(`${field}: cannot read ${file}: ${messageOf(err)}`, { field });
    }
  };
  return {
    cert: await read(cfg.apiTlsCert, 'apiTlsCert'),
    key: await read(cfg.apiTlsKey, 'apiTlsKey'),
    ...(cfg.apiTlsClientCa ? { ca: await read(cfg.apiTlsClientCa, 'apiTlsClientCa') } : {}),
  };
}
