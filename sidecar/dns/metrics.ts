import type { MetricFamily } from '../types.js';
import type { DnsCounters } from './counters.js';

type DnsSnapshot = ReturnType<DnsCounters['snapshot']>;

/**
 * The DNS server's counters as `berth_dns_*` families (the contract of the
 * discovery dashboard; see dashboards/README.md). Label values are query type
 * and rcode names, a small fixed set, so cardinality stays bounded.
 * Delivered as the DNS sidecar's `metrics.dns` (see sidecar.ts).
 */
export function dnsFamilies(c: DnsSnapshot): MetricFamily[] {
  const byKey = (label: string, counts: Record<string, number>) =>
    Object.keys(counts)
      .sort()
      .map((k) => ({ labels: { [label]: k }, value: counts[k] ?? 0 }));
  const one = (value: number) => [{ labels: {}, value }];
  return [
    {
      name: 'berth_dns_queries_total',
      type: 'counter',
      help: 'DNS queries received, by query type.',
      samples: byKey('qtype', c.queriesByType),
    },
    {
      name: 'berth_dns_responses_total',
      type: 'counter',
      help: 'DNS responses sent, by rcode.',
      samples: byKey('rcode', c.responsesByRcode),
    },
    {
      name: 'berth_dns_stale_answers_total',
      type: 'counter',
      help: 'Answers given from a catalog view marked stale (Consul unreachable).',
      samples: one(c.staleAnswers),
    },
    {
      name: 'berth_dns_forwarded_total',
      type: 'counter',
      help: 'Queries forwarded to an upstream resolver.',
      samples: one(c.forwarded),
    },
    {
      name: 'berth_dns_forward_timeouts_total',
      type: 'counter',
      help: 'Forwarded queries no upstream answered in time.',
      samples: one(c.forwardTimeouts),
    },
    {
      name: 'berth_dns_rate_limited_total',
      type: 'counter',
      help: 'Queries dropped by the per-client rate limit.',
      samples: one(c.rateLimited),
    },
    {
      name: 'berth_dns_malformed_total',
      type: 'counter',
      help: 'Packets that did not parse.',
      samples: one(c.malformed),
    },
    {
      name: 'berth_dns_truncated_total',
      type: 'counter',
      help: 'UDP answers sent with the TC bit set.',
      samples: one(c.truncated),
    },
    {
      name: 'berth_dns_tcp_refused_total',
      type: 'counter',
      help: 'TCP connections closed at accept: over the global or the per-client connection cap.',
      samples: one(c.tcpRefused),
    },
    {
      name: 'berth_dns_tcp_paused_total',
      type: 'counter',
      help: 'Times reading a TCP client was paused while its replies waited (a client that does not read).',
      samples: one(c.tcpPaused),
    },
    {
      name: 'berth_dns_forwards_refused_total',
      type: 'counter',
      help: 'Queries answered SERVFAIL at once because the forwards in flight were at their cap.',
      samples: one(c.forwardsRefused),
    },
    {
      name: 'berth_dns_internal_errors_total',
      type: 'counter',
      help: 'Queries answered SERVFAIL because of a handler failure.',
      samples: one(c.internalErrors),
    },
  ];
}
