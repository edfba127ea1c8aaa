import { readFile } from 'node:fs/promises';
import { type HostPort, isLoopbackHost, parseHostPort } from '../../runtime/base/address.js';
import { type ConfigTable, type ConfigValues, validateConfig } from '../../runtime/base/config.js';
import { InvalidArgumentError, messageOf } from '../../runtime/base/errors.js';
import {
  CONSUL_CONFIG,
  type ConsulClientConfig,
  DISCOVERY_CONFIG,
  type DiscoveryConfig,
} from '../../sidecar/discovery/config.js';
import { DNS_CONFIG, type DnsConfig } from '../../sidecar/dns/config.js';
import { HAPROXY_CONFIG } from '../../sidecar/haproxy/config.js';
import { LOG_SHIPPING_CONFIG, parseLogShippingConfig } from '../../sidecar/logs/config.js';
import { METRICS_CONFIG } from '../../sidecar/metrics/config.js';
import {
  checkDashboardConfig,
  DASHBOARD_CONFIG,
  type DashboardConfig,
  dashboardFlags,
} from '../api/dashboard-config.js';
import { AGENT_CONFIG, type AgentOptions } from './options.js';

export { AGENT_CONFIG } from './options.js';

/**
 * The sections of the config file, each validated by its own table (the
 * sidecar's; its README lists the keys): `metrics`, `logs` and `haproxy`
 * are handed on as given (their sidecars add values known only at start),
 * `dns`, `discovery` and `consulClient` are typed here.
 */
export const CONFIG_SECTIONS = {
  metrics: METRICS_CONFIG,
  logs: LOG_SHIPPING_CONFIG,
  haproxy: HAPROXY_CONFIG,
  dns: DNS_CONFIG,
  discovery: DISCOVERY_CONFIG,
  consulClient: CONSUL_CONFIG,
  dashboard: DASHBOARD_CONFIG,
} as const satisfies Record<string, ConfigTable>;

export type SectionName = keyof typeof CONFIG_SECTIONS;

export type AgentConfig = AgentOptions & {
  /** `metrics`, `logs` and `haproxy` as given in the file (old key spellings renamed), checked by their tables. */
  sections: Partial<Record<'metrics' | 'logs' | 'haproxy', ConfigValues>>;
  dns: DnsConfig;
  discovery: DiscoveryConfig;
  consulClient: ConsulClientConfig;
  dashboard: DashboardConfig;
  /** One line per deprecated key spelling used (`logs.tls_ca is deprecated: use logs.tlsCa`), for the agent to log once. */
  deprecated: string[];
};

/** Flags as commander gives them (camelCase of the long option). */
export async function loadAgentConfig(
  allFlags: Record<string, string | undefined>,
  env = process.env,
): Promise<AgentConfig> {
  // --dashboard ADDR:PORT and --no-dashboard (false) set the dashboard section, not a top-level key.
  const { dashboard: dashboardFlag, ...flags } = allFlags;
  let file: ConfigValues = {};
  if (flags.config) {
    try {
      file = JSON.parse(await readFile(flags.config, 'utf8')) as ConfigValues;
    } catch (err) {
      throw new InvalidArgumentError(`--config: cannot read ${flags.config}: ${messageOf(err)}`, {
        field: 'config',
      });
    }
    if (!file || typeof file !== 'object' || Array.isArray(file)) {
      throw new InvalidArgumentError(`--config: ${flags.config} must hold a JSON object`, {
        field: 'config',
      });
    }
  }
  const deprecated = new Set<string>();
  const onDeprecated = (alias: string, key: string) => deprecated.add(`${alias} is deprecated: use ${key}`);
  const given: Partial<Record<SectionName, ConfigValues>> = {};
  for (const name of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    const sec = file[name];
    if (sec === undefined) continue;
    if (!sec || typeof sec !== 'object' || Array.isArray(sec)) {
      throw new InvalidArgumentError(`${name}: must be an object of ${name}.* options`, { field: name });
    }
    given[name] = sec as ConfigValues;
    delete file[name];
  }
  const fromFlags: ConfigValues = {};
  for (const [k, v] of Object.entries(flags)) if (k !== 'config' && v !== undefined) fromFlags[k] = v;
  // Flags over env over file (src/README.md): the env is a source of its own between the two, not
  // validateConfig's env, which ranks below the file.
  const fromEnv: ConfigValues = {};
  for (const row of AGENT_CONFIG as ConfigTable)
    if (row.env && env[row.env] !== undefined) fromEnv[row.key] = env[row.env];
  const v = validateConfig(AGENT_CONFIG, [file, fromEnv, fromFlags], { onDeprecated });
  // Every section is checked now, before anything starts (and its deprecated spellings reported,
  // once); a sidecar validates its own again with the values it adds at start.
  const section = <T extends ConfigTable>(name: SectionName, table: T) =>
    validateConfig(table, [given[name] ?? {}], { prefix: `${name}.`, env, onDeprecated });
  // Every section's env (BERTH_METRICS_ROOTS, BERTH_FLUENTD_…, BERTH_DNS_…) goes into it here, over the
  // file's values, as the documented order says (validateConfig's own env ranks below the file); the
  // metrics, logs and haproxy sections are handed on, so every later reader (the sidecar,
  // withHostRoots, the check) sees the same values.
  for (const name of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    const table = CONFIG_SECTIONS[name] as ConfigTable;
    const fromSectionEnv = envValues(table, env);
    if (Object.keys(fromSectionEnv).length > 0)
      given[name] = { ...canonicalKeys(table, given[name] ?? {}), ...fromSectionEnv };
  }
  section('metrics', METRICS_CONFIG);
  parseLogShippingConfig([given.logs ?? {}], env, onDeprecated);
  // As before, an HAProxy that is off has its section ignored.
  if (v.haproxy !== 'off') section('haproxy', HAPROXY_CONFIG);
  const dns = section('dns', DNS_CONFIG);
  const discovery = section('discovery', DISCOVERY_CONFIG);
  const consulClient = section('consulClient', CONSUL_CONFIG);
  const dashboard = validateConfig(DASHBOARD_CONFIG, [given.dashboard ?? {}, dashboardFlags(dashboardFlag)], {
    prefix: 'dashboard.',
    env,
    onDeprecated,
  });
  checkDashboardConfig(dashboard, v.apiTlsCert !== undefined);
  if (v.apiTcp && !v.apiToken) {
    throw new InvalidArgumentError('apiToken: the TCP API (apiTcp) needs a token; set BERTH_API_TOKEN', {
      field: 'apiToken',
    });
  }
  if (v.apiTcp) {
    const { host } = apiTcpAddress(v.apiTcp);
    if (!v.apiTlsCert && !v.apiTcpInsecure && !isLoopbackHost(host)) {
      throw new InvalidArgumentError(
        `apiTcp: ${host} is not loopback: without TLS the API token would cross the network in clear text; set apiTlsCert and apiTlsKey (and apiTlsClientCa for mutual TLS), or apiTcpInsecure to force it`,
        { field: 'apiTcp' },
      );
    }
  }
  if ((v.apiTlsCert === undefined) !== (v.apiTlsKey === undefined)) {
    const missing = v.apiTlsCert ? 'apiTlsKey' : 'apiTlsCert';
    throw new InvalidArgumentError(`${missing}: apiTlsCert and apiTlsKey go together`, { field: missing });
  }
  if (v.apiTlsClientCa && !v.apiTlsCert) {
    throw new InvalidArgumentError('apiTlsClientCa: mutual TLS needs apiTlsCert and apiTlsKey too', {
      field: 'apiTlsClientCa',
    });
  }
  const sections: AgentConfig['sections'] = {};
  for (const name of ['metrics', 'logs', 'haproxy'] as const) {
    const sec = given[name];
    if (sec) sections[name] = canonicalKeys(CONFIG_SECTIONS[name], sec);
  }
  return { ...v, sections, dns, discovery, consulClient, dashboard, deprecated: [...deprecated] };
}

/** `apiTcp` as host and port (`[v6]:port` too); an InvalidArgumentError naming apiTcp otherwise. */
export function apiTcpAddress(value: string): HostPort {
  return parseHostPort(value, { field: 'apiTcp', minPort: 0, example: '127.0.0.1:2375' });
}

/** The values `table`'s rows take from `env` (strings, coerced by validateConfig). */
function envValues(table: ConfigTable, env: NodeJS.ProcessEnv): ConfigValues {
  const out: ConfigValues = {};
  for (const row of table) if (row.env && env[row.env] !== undefined) out[row.key] = env[row.env];
  return out;
}

/** `values` with each deprecated alias of `table` renamed to its key (validation reports it). */
function canonicalKeys(table: ConfigTable, values: ConfigValues): ConfigValues {
  const out: ConfigValues = {};
  for (const [k, v] of Object.entries(values)) {
    const row = table.find((r) => r.aliases?.includes(k));
    out[row && values[row.key] === undefined ? row.key : k] = v;
  }
  return out;
}
