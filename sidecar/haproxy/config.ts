import { type ConfigValues, defineConfig, validateConfig } from '../../runtime/base/config.js';
import { InvalidArgumentError } from '../../runtime/base/errors.js';
import { isIpAddress } from '../discovery/instance.js';
import { DEFAULT_FRONTEND_ALLOW, FrontendAllowList } from './frontend-allow.js';

/**
 * Options of the HAProxy sidecar as a config table: the same rows validate
 * user input (unknown keys rejected) and write the README's option table.
 */
export const HAPROXY_CONFIG = defineConfig([
  {
    key: 'mode',
    type: 'enum',
    values: ['managed', 'external'],
    default: 'managed',
    description:
      'managed: berth starts and supervises its own HAProxy; external: drive a running one through `masterSocket` and `configPath`',
  },
  {
    key: 'binary',
    type: 'string',
    default: 'haproxy',
    description: 'HAProxy executable (managed mode and `-c` checks)',
  },
  {
    key: 'stateDir',
    type: 'string',
    default: '/var/lib/berth/haproxy',
    description: 'where the managed config, its backup, the global file, sockets and pid file live',
  },
  {
    key: 'configPath',
    type: 'string',
    default: null,
    description: 'live config file (default `<stateDir>/haproxy.cfg`)',
  },
  {
    key: 'masterSocket',
    type: 'string',
    default: null,
    description: 'master CLI socket (default `<stateDir>/master.sock`); required in external mode',
  },
  {
    key: 'statsSocket',
    type: 'string',
    default: null,
    description:
      'admin Runtime API socket (default `<stateDir>/stats.sock` when managed; in external mode commands go through the master CLI (`@1`) when unset)',
  },
  {
    key: 'templatePath',
    type: 'string',
    default: null,
    description: 'Handlebars template rendering the config instead of the default generator',
  },
  {
    key: 'bindAddress',
    type: 'string',
    default: '127.0.0.1',
    description:
      'address frontends bind to (unless a label says otherwise); it must be in `frontendAllow` like a label-chosen one',
  },
  {
    key: 'frontendAllow',
    type: 'string[]',
    default: [...DEFAULT_FRONTEND_ALLOW],
    description:
      'where labels may make HAProxy listen: `ADDRESS:PORT` or `ADDRESS:LOW-HIGH`, ADDRESS an IP, `loopback`, `gateway` (the bridge gateway) or `*`; a service outside it is left out and reported',
  },
  {
    key: 'exporterListen',
    type: 'string',
    default: '127.0.0.1:8405',
    description:
      "ip:port of HAProxy's own Prometheus exporter frontend (sessions, responses, server states for the dashboards); empty turns it off",
  },
  {
    key: 'quietPeriod',
    type: 'duration',
    default: '30ms',
    min: 0,
    description: 'apply once the catalog has been quiet this long',
  },
  {
    key: 'maxWait',
    type: 'duration',
    default: '500ms',
    min: 0,
    description: 'apply at the latest this long after the first pending change, even if changes keep coming',
  },
  {
    key: 'slotsPerBackend',
    type: 'int',
    default: 8,
    min: 1,
    max: 4096,
    description: 'server slots pre-allocated per backend; backends grow by this step (a reload) when full',
  },
  {
    key: 'drainTimeout',
    type: 'duration',
    default: '30s',
    min: 0,
    description:
      'longest wait for a removed or stopping server to finish its sessions before it goes to maint',
  },
  {
    key: 'emptyServiceRetention',
    type: 'duration',
    default: '10m',
    min: 0,
    description:
      'a service whose instances are all gone keeps its frontend (answering 503) this long, so scaling to zero and back needs no reload',
  },
  {
    key: 'checkInterval',
    type: 'duration',
    default: '2s',
    min: 100,
    description: 'HAProxy health-check interval for services with `berth.lb.check`',
  },
  {
    key: 'timeoutConnect',
    type: 'duration',
    default: '5s',
    min: 1,
    description: 'HAProxy `timeout connect`',
  },
  { key: 'timeoutClient', type: 'duration', default: '60s', min: 1, description: 'HAProxy `timeout client`' },
  { key: 'timeoutServer', type: 'duration', default: '60s', min: 1, description: 'HAProxy `timeout server`' },
  {
    key: 'hardStopAfter',
    type: 'duration',
    default: '60s',
    min: 0,
    description:
      'old workers of a reload are killed this long after it (HAProxy `hard-stop-after`; 0 = never)',
  },
  {
    key: 'validateTimeout',
    type: 'duration',
    default: '10s',
    min: 100,
    description: 'bound on one `haproxy -c` run',
  },
  {
    key: 'reloadTimeout',
    type: 'duration',
    default: '10s',
    min: 100,
    description: 'bound on one reload (new worker serving)',
  },
  {
    key: 'restartBackoffMin',
    type: 'duration',
    default: '200ms',
    min: 0,
    description: 'first delay before restarting a dead HAProxy',
  },
  {
    key: 'restartBackoffMax',
    type: 'duration',
    default: '10s',
    min: 0,
    description: 'longest delay between restarts of a HAProxy that keeps dying',
  },
]);

/**
 * The whole environment HAProxy (and `haproxy -c`) runs with. Not the
 * agent's: it holds secrets (CONSUL_HTTP_TOKEN, BERTH_REGISTRY_PASSWORD, …)
 * and HAProxy expands `"${VAR}"` in its config from its environment.
 */
export const HAPROXY_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
});

/** Validated options (all durations in ms). */
export interface HaproxyOptions {
  mode: 'managed' | 'external';
  binary: string;
  stateDir: string;
  configPath: string;
  masterSocket: string;
  statsSocket: string | undefined;
  /** Berth's own `global` file loaded before the live config (managed mode only). */
  globalPath: string | undefined;
  pidFile: string;
  templatePath: string | undefined;
  bindAddress: string;
  /** Where frontends may bind (`frontendAllow`, with the bridge gateway filled in). */
  frontendAllow: FrontendAllowList;
  /** `ip:port` of the exporter frontend, or '' for none. */
  exporterListen: string;
  quietPeriodMs: number;
  maxWaitMs: number;
  slotsPerBackend: number;
  drainTimeoutMs: number;
  emptyServiceRetentionMs: number;
  checkIntervalMs: number;
  timeoutConnectMs: number;
  timeoutClientMs: number;
  timeoutServerMs: number;
  hardStopAfterMs: number;
  validateTimeoutMs: number;
  reloadTimeoutMs: number;
  restartBackoffMinMs: number;
  restartBackoffMaxMs: number;
}

/** Validates `sources` (lowest precedence first) and fills in the derived paths. */
export function resolveHaproxyOptions(
  sources: readonly ConfigValues[],
  opts: { env?: NodeJS.ProcessEnv; prefix?: string; gateway?: string } = {},
): HaproxyOptions {
  const prefix = opts.prefix ?? 'haproxy.';
  const v = validateConfig(HAPROXY_CONFIG, sources, { prefix, env: opts.env });
  const { stateDir, mode, bindAddress } = v;
  if (!isIpAddress(bindAddress)) {
    const field = `${prefix}bindAddress`;
    throw new InvalidArgumentError(`${field}: ${JSON.stringify(bindAddress)} is not an IP address`, {
      field,
    });
  }
  return {
    mode,
    binary: v.binary,
    stateDir,
    // Paths under stateDir: derived, so not defaults of the table.
    configPath: v.configPath ?? `${stateDir}/haproxy.cfg`,
    masterSocket: v.masterSocket ?? `${stateDir}/master.sock`,
    statsSocket: v.statsSocket ?? (mode === 'managed' ? `${stateDir}/stats.sock` : undefined),
    globalPath: mode === 'managed' ? `${stateDir}/00-berth-global.cfg` : undefined,
    pidFile: `${stateDir}/haproxy.pid`,
    templatePath: v.templatePath,
    bindAddress,
    frontendAllow: new FrontendAllowList(v.frontendAllow, opts.gateway, `${prefix}frontendAllow`),
    exporterListen: v.exporterListen,
    quietPeriodMs: v.quietPeriod,
    maxWaitMs: v.maxWait,
    slotsPerBackend: v.slotsPerBackend,
    drainTimeoutMs: v.drainTimeout,
    emptyServiceRetentionMs: v.emptyServiceRetention,
    checkIntervalMs: v.checkInterval,
    timeoutConnectMs: v.timeoutConnect,
    timeoutClientMs: v.timeoutClient,
    timeoutServerMs: v.timeoutServer,
    hardStopAfterMs: v.hardStopAfter,
    validateTimeoutMs: v.validateTimeout,
    reloadTimeoutMs: v.reloadTimeout,
    restartBackoffMinMs: v.restartBackoffMin,
    restartBackoffMaxMs: v.restartBackoffMax,
  };
}
