import { type HostPort, isLoopbackHost, parseHostPort } from '../../runtime/base/address.js';
import { type ConfigOf, defineConfig } from '../../runtime/base/config.js';
import { InvalidArgumentError } from '../../runtime/base/errors.js';

/**
 * The `dashboard` section of the agent's config (src/api/README.md, "The
 * dashboard listener"); `--dashboard ADDR:PORT` sets `listen` and
 * `--no-dashboard` clears `enabled`.
 */
export const DASHBOARD_CONFIG = defineConfig([
  {
    key: 'enabled',
    type: 'bool',
    default: true,
    description: 'serve the web dashboard (--no-dashboard turns it off)',
  },
  {
    key: 'listen',
    type: 'string',
    default: '127.0.0.1:7080',
    env: 'BERTH_DASHBOARD',
    description:
      'ADDR:PORT of the dashboard (--dashboard); an address that is not loopback needs the API TLS (apiTlsCert, apiTlsKey)',
  },
  {
    key: 'hosts',
    type: 'string[]',
    default: [],
    description:
      'more names (host or host:port) the browser may use in Host besides the listen address, e.g. the TLS certificate name; needed for a wildcard address',
  },
  {
    key: 'loginTtl',
    type: 'duration',
    default: '15m',
    min: 1000,
    description: 'how long a one-time login URL stays good (it works once)',
  },
  {
    key: 'sessionTtl',
    type: 'duration',
    default: '12h',
    min: 1000,
    description:
      'how long a dashboard session lasts from login (sessions are in memory: a restart ends them)',
  },
  {
    key: 'webDir',
    type: 'string',
    default: null,
    description: "the built page (npm run build:web); default: dist/web in berth's install",
  },
]);

export type DashboardConfig = ConfigOf<typeof DASHBOARD_CONFIG>;

/** `dashboard.listen` as host and port; a bad one names the field. */
export function dashboardAddress(value: string): HostPort {
  return parseHostPort(value, { field: 'dashboard.listen', minPort: 0, example: '127.0.0.1:7080' });
}

/**
 * Refuses, at start, a dashboard the browser would reach in clear text
 * (an address that is not loopback without the API's TLS), and a wildcard
 * address with no `hosts` to check Host against.
 */
export function checkDashboardConfig(d: DashboardConfig, tls: boolean): void {
  if (!d.enabled) return;
  const { host } = dashboardAddress(d.listen);
  if (!tls && !isLoopbackHost(host)) {
    throw new InvalidArgumentError(
      `dashboard.listen: ${host} is not loopback: without TLS the session cookie and login token would cross the network in clear text; set apiTlsCert and apiTlsKey (the dashboard serves the API's certificate), or listen on 127.0.0.1`,
      { field: 'dashboard.listen' },
    );
  }
  if ((host === '0.0.0.0' || host === '::') && d.hosts.length === 0) {
    throw new InvalidArgumentError(
      `dashboard.hosts: ${host} listens on every address: name the host names the browser will use (dashboard.hosts), which the Host check accepts`,
      { field: 'dashboard.hosts' },
    );
  }
}

/** `--dashboard ADDR:PORT` (a string) or `--no-dashboard` (commander's false) as section values. */
export function dashboardFlags(flag: unknown): Record<string, unknown> {
  if (flag === false) return { enabled: false };
  if (typeof flag === 'string') return { enabled: true, listen: flag };
  return {};
}
