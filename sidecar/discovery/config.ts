import { type ConfigOf, configDefaults, defineConfig } from '../../runtime/base/config.js';

/**
 * Registration's options (`discovery.*` in the agent config). The catalog
 * itself is chosen by the top-level `consul` option; the Consul client's own
 * options are `CONSUL_CONFIG` (`consulClient.*`). The Registrar's defaults are
 * these rows; README.md's tables are generated from both.
 */
export const DISCOVERY_CONFIG = defineConfig([
  {
    key: 'drainTimeout',
    type: 'duration',
    default: '2s',
    min: 0,
    description:
      "how long a stop holds a container's instances in maintenance before the stop signal, so DNS caches and HAProxy stop sending it work; 0 skips the wait",
  },
  {
    key: 'reconcileInterval',
    type: 'duration',
    default: '0s',
    min: 0,
    description:
      'compare the catalog with the running containers this often as a safety net; 0: only at start and after a lost event subscription',
  },
  {
    key: 'reconcileRetryMin',
    type: 'duration',
    default: '1s',
    min: 1,
    description:
      'first retry of a failed reconcile (the catalog unreachable); doubles up to reconcileRetryMax',
  },
  {
    key: 'reconcileRetryMax',
    type: 'duration',
    default: '30s',
    min: 1,
    description: 'longest delay between retries of a failed reconcile',
  },
  {
    key: 'eventBuffer',
    type: 'int',
    default: 10_000,
    min: 1,
    description: 'runtime events buffered for registration; overflowing it means a full reconcile',
  },
]);

/** `discovery.*` as the table types it (durations in ms). */
export type DiscoveryConfig = ConfigOf<typeof DISCOVERY_CONFIG>;

/** The Registrar's defaults. */
export const DISCOVERY_DEFAULTS = configDefaults(DISCOVERY_CONFIG) as DiscoveryConfig;

/** RegistrarOptions set by a `discovery.*` section. */
export function registrarOptions(c: DiscoveryConfig): {
  drainMs: number;
  reconcileIntervalMs: number;
  reconcileRetryMs: number;
  reconcileRetryMaxMs: number;
  eventBuffer: number;
} {
  return {
    drainMs: c.drainTimeout,
    reconcileIntervalMs: c.reconcileInterval,
    reconcileRetryMs: c.reconcileRetryMin,
    reconcileRetryMaxMs: c.reconcileRetryMax,
    eventBuffer: c.eventBuffer,
  };
}

/**
 * The Consul client's options (`consulClient.*`; the address and token are the
 * top-level `consul` and `consulToken`). ConsulCatalog's defaults are these rows.
 */
export const CONSUL_CONFIG = defineConfig([
  {
    key: 'checkTtl',
    type: 'duration',
    default: '30s',
    min: 1000,
    description:
      "TTL of each instance's `service:<id>` check: Consul marks an instance critical when berth stops feeding it this long",
  },
  {
    key: 'heartbeatInterval',
    type: 'duration',
    default: '10s',
    min: 100,
    description: 'how often the TTL checks are fed (keep it a fraction of checkTtl)',
  },
  {
    key: 'wait',
    type: 'duration',
    default: '30s',
    min: 1000,
    max: 600_000,
    description: "blocking-query wait of the catalog watch (Consul's `wait`, at most 10m)",
  },
  {
    key: 'requestTimeout',
    type: 'duration',
    default: '3s',
    min: 100,
    description: 'timeout of one write and of a non-blocking read',
  },
  {
    key: 'backoffMin',
    type: 'duration',
    default: '250ms',
    min: 1,
    description: 'first delay after a failed request (equal jitter, growing exponentially to backoffMax)',
  },
  {
    key: 'backoffMax',
    type: 'duration',
    default: '30s',
    min: 1,
    description: 'longest delay between failed requests',
  },
  {
    key: 'resyncInterval',
    type: 'duration',
    default: '30s',
    min: 1000,
    description:
      "anti-entropy: how often Consul's services on this node are compared with what berth registered",
  },
]);

/** `consulClient.*` as the table types it (durations in ms). */
export type ConsulClientConfig = ConfigOf<typeof CONSUL_CONFIG>;

/** ConsulCatalog's defaults. */
export const CONSUL_DEFAULTS = configDefaults(CONSUL_CONFIG) as ConsulClientConfig;

/** A duration in ms as Consul reads it (`30s`, `1500ms`). */
export function consulDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** ConsulCatalogOptions set by a `consulClient.*` section. */
export function consulClientOptions(c: ConsulClientConfig): {
  checkTtl: string;
  heartbeatMs: number;
  wait: string;
  requestTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  resyncIntervalMs: number;
} {
  return {
    checkTtl: consulDuration(c.checkTtl),
    heartbeatMs: c.heartbeatInterval,
    wait: consulDuration(c.wait),
    requestTimeoutMs: c.requestTimeout,
    backoffMinMs: c.backoffMin,
    backoffMaxMs: c.backoffMax,
    resyncIntervalMs: c.resyncInterval,
  };
}
