import { type ConfigOf, configDefaults, defineConfig } from '../../runtime/base/config.js';

/**
 * The DNS server's tuning (`dns.*` in the agent config): limits, TTLs and
 * rate limits. Where it listens and for which domain stay top-level agent
 * options (`dnsListen`, `dnsDomain`, `dnsUpstreams`, `dnsOnBridge`). The
 * server's defaults are these rows (`DNS_DEFAULTS`); README.md's table is
 * generated from them.
 */
export const DNS_CONFIG = defineConfig([
  {
    key: 'upstreamTimeout',
    type: 'duration',
    default: '2s',
    min: 1,
    description: 'a forwarded query with no upstream answer by then is answered SERVFAIL',
  },
  {
    key: 'serviceTtl',
    type: 'duration',
    default: '0s',
    min: 0,
    description:
      'TTL of service answers (A/AAAA/SRV), whole seconds; 0 as in Consul, since instances change quickly',
  },
  {
    key: 'nodeTtl',
    type: 'duration',
    default: '0s',
    min: 0,
    description: 'TTL of `<node>.node` and `<hex>.addr` answers, whole seconds',
  },
  {
    key: 'containerTtl',
    type: 'duration',
    default: '0s',
    min: 0,
    description: 'TTL of container-name answers, whole seconds',
  },
  {
    key: 'negativeTtl',
    type: 'duration',
    default: '0s',
    min: 0,
    description: 'SOA minimum, the TTL of negative answers (RFC 2308), whole seconds',
  },
  {
    key: 'healthyOnly',
    type: 'bool',
    default: true,
    description: 'leave critical and maintenance instances out of answers',
  },
  {
    key: 'onlyPassing',
    type: 'bool',
    default: false,
    description: "also leave out warning instances (Consul's `only_passing`)",
  },
  {
    key: 'rateLimitQps',
    type: 'int',
    default: 1000,
    min: 0,
    description: 'queries per second each client address may make (token bucket); 0 turns the limit off',
  },
  {
    key: 'rateLimitBurst',
    type: 'int',
    default: 2000,
    min: 1,
    description: 'bucket size of the per-client rate limit',
  },
  {
    key: 'maxUdpSize',
    type: 'int',
    default: 4096,
    min: 512,
    max: 65535,
    description: 'largest UDP answer sent whatever the client advertises (also what our EDNS OPT advertises)',
  },
  {
    key: 'tcpIdleTimeout',
    type: 'duration',
    default: '10s',
    min: 1,
    description: 'idle TCP connections are closed after this (RFC 7766)',
  },
  {
    key: 'tcpMaxConnections',
    type: 'int',
    default: 256,
    min: 1,
    description: 'open TCP connections over all clients; one more is closed at once',
  },
  {
    key: 'tcpMaxConnectionsPerClient',
    type: 'int',
    default: 16,
    min: 1,
    description: 'open TCP connections per client address; one more is closed at once',
  },
  {
    key: 'tcpMaxQueuedBytes',
    type: 'bytes',
    default: '64k',
    min: 1,
    description:
      'reply bytes a TCP connection may have queued (not yet taken by the kernel) before its queries are no longer read; reading resumes when the queue drains',
  },
  {
    key: 'maxForwardsInFlight',
    type: 'int',
    default: 256,
    min: 1,
    description: 'forwarded queries awaiting an upstream, over all clients; beyond it SERVFAIL at once',
  },
  {
    key: 'answerCacheMaxBytes',
    type: 'bytes',
    default: '16m',
    min: 1,
    description: 'bytes the answer cache may hold (encoded answers and their records); the oldest go first',
  },
]);

/** `dns.*` as the table types it (durations in ms, sizes in bytes). */
export type DnsConfig = ConfigOf<typeof DNS_CONFIG>;

/** The table's defaults: what a DnsServer uses for an option it is not given. */
export const DNS_DEFAULTS = configDefaults(DNS_CONFIG) as DnsConfig;

/** The server options a `dns.*` section sets (DnsServerOptions' names and units). */
export function dnsServerOptions(c: DnsConfig): {
  upstreamTimeoutMs: number;
  ttl: { service: number; node: number; container: number; negative: number };
  healthyOnly: boolean;
  onlyPassing: boolean;
  rateLimit: { qps: number; burst: number } | false;
  maxUdpSize: number;
  tcpIdleTimeoutMs: number;
  tcpMaxConnections: number;
  tcpMaxConnectionsPerClient: number;
  tcpMaxQueuedBytes: number;
  maxForwardsInFlight: number;
  answerCacheMaxBytes: number;
} {
  const seconds = (ms: number) => Math.floor(ms / 1000);
  return {
    upstreamTimeoutMs: c.upstreamTimeout,
    ttl: {
      service: seconds(c.serviceTtl),
      node: seconds(c.nodeTtl),
      container: seconds(c.containerTtl),
      negative: seconds(c.negativeTtl),
    },
    healthyOnly: c.healthyOnly,
    onlyPassing: c.onlyPassing,
    rateLimit: c.rateLimitQps === 0 ? false : { qps: c.rateLimitQps, burst: c.rateLimitBurst },
    maxUdpSize: c.maxUdpSize,
    tcpIdleTimeoutMs: c.tcpIdleTimeout,
    tcpMaxConnections: c.tcpMaxConnections,
    tcpMaxConnectionsPerClient: c.tcpMaxConnectionsPerClient,
    tcpMaxQueuedBytes: c.tcpMaxQueuedBytes,
    maxForwardsInFlight: c.maxForwardsInFlight,
    answerCacheMaxBytes: c.answerCacheMaxBytes,
  };
}
