/**
 * What the DNS server counts, for the metrics sidecar to export (as
 * `berth_dns_*` counters). Plain numbers keyed by label value, so this module
 * needs no metrics library.
 */
export class DnsCounters {
  /** Queries received, by query type name (`A`, `SRV`, `TYPE65`…). */
  readonly queriesByType: Record<string, number> = {};
  /** Responses sent, by rcode name (`NOERROR`, `NXDOMAIN`…). */
  readonly responsesByRcode: Record<string, number> = {};
  /** Answers given from a catalog view marked stale (Consul unreachable). */
  staleAnswers = 0;
  /** Queries forwarded to an upstream resolver. */
  forwarded = 0;
  /** Forwarded queries no upstream answered in time (answered SERVFAIL). */
  forwardTimeouts = 0;
  /** Queries dropped by the per-client rate limit. */
  rateLimited = 0;
  /** Packets that did not parse (answered FORMERR or dropped). */
  malformed = 0;
  /** UDP answers sent with TC set. */
  truncated = 0;
  /** Handler failures answered SERVFAIL (bugs; should stay 0). */
  internalErrors = 0;
  /** TCP connections closed at once: over `tcpMaxConnections` or `tcpMaxConnectionsPerClient`. */
  tcpRefused = 0;
  /** Times a TCP connection's reading was paused (pipeline full or replies queued for a client not reading). */
  tcpPaused = 0;
  /** Queries answered SERVFAIL at once because `maxForwardsInFlight` forwards were pending. */
  forwardsRefused = 0;

  query(type: string): void {
    this.queriesByType[type] = (this.queriesByType[type] ?? 0) + 1;
  }

  response(rcode: string): void {
    this.responsesByRcode[rcode] = (this.responsesByRcode[rcode] ?? 0) + 1;
  }

  /** A copy, safe to hand to an exporter. */
  snapshot(): Omit<DnsCounters, 'query' | 'response' | 'snapshot'> {
    return {
      queriesByType: { ...this.queriesByType },
      responsesByRcode: { ...this.responsesByRcode },
      staleAnswers: this.staleAnswers,
      forwarded: this.forwarded,
      forwardTimeouts: this.forwardTimeouts,
      rateLimited: this.rateLimited,
      malformed: this.malformed,
      truncated: this.truncated,
      internalErrors: this.internalErrors,
      tcpRefused: this.tcpRefused,
      tcpPaused: this.tcpPaused,
      forwardsRefused: this.forwardsRefused,
    };
  }
}
