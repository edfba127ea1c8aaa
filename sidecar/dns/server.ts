// Over 400 lines: listeners, rate limit, answer cache and forwarding share the server's counters and caps on the hot path; the pure parts are answer.ts, wire.ts, names.ts and framing.ts.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import { InvalidArgumentError, messageOf, UnavailableError } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import { silentLogger } from '../../runtime/base/log.js';
import type { CatalogView } from '../discovery/types.js';
import { answer, isOurs, type TtlOptions, type Zone } from './answer.js';
import { DNS_DEFAULTS, dnsServerOptions } from './config.js';
import { DnsCounters } from './counters.js';
import { Forwarder, parseUpstream, systemNameservers, type Upstream } from './forwarder.js';
import { TcpFramer } from './framing.js';
import { normalizeDomain } from './names.js';
import { ClientRateLimiter } from './ratelimit.js';
import {
  CLASS_ANY,
  CLASS_IN,
  encodeError,
  encodeResponse,
  parseRequest,
  RCODE,
  RCODE_NAMES,
  type Request,
  type Response,
  truncateForwarded,
  typeName,
} from './wire.js';

/** The container names one client sees. */
export interface ContainerScope {
  /** Equal for clients that see the same names ('' for the unscoped). */
  key: string;
  /** Name → address(es), several answered in rotating order. */
  names: ReadonlyMap<string, string | readonly string[]>;
  /** A new object whenever any scope's names change: the answer cache is dropped then. */
  generation: object;
}

export interface ListenAddress {
  address: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
}

export interface DnsServerOptions {
  /** The current catalog view (`catalog.view()`); read on every query, never awaited. */
  view: () => CatalogView;
  /** Default `consul.` (so containers may keep Consul names). */
  domain?: string;
  /** Default `dc1`. */
  datacenter?: string;
  /** This host's node name, answered as `<nodeName>.node.<domain>`. */
  nodeName: string;
  nodeAddress?: string;
  /** Default loopback only (`127.0.0.1:53`); the agent adds the bridge gateway. */
  listen?: ListenAddress[];
  /** `ip` or `ip:port`; default the nameservers of /etc/resolv.conf that are not this server. */
  upstreams?: string[];
  /** Default 2000 ms; no answer by then means SERVFAIL. */
  upstreamTimeoutMs?: number;
  /** TTLs in seconds (all default 0, as Consul's). */
  ttl?: Partial<TtlOptions>;
  /** Leave out critical and maintenance instances (default true). */
  healthyOnly?: boolean;
  /** Also leave out warning instances (default false: Consul's default). */
  onlyPassing?: boolean;
  /** Per-client-IP token bucket; default 1000 q/s, burst 2000. `false` disables it. */
  rateLimit?: { qps: number; burst: number } | false;
  /** Container name → address, answered as `<name>.<containerDomain>` (to every client alike). */
  containerNames?: () => ReadonlyMap<string, string>;
  /**
   * Names by client instead (wins over containerNames): what the client at an
   * address may resolve, e.g. only the names on its own networks
   * (container-names.ts). Answers are cached per scope `key`.
   */
  containerScope?: (clientAddress: string) => ContainerScope;
  /** Domain of container names; default the service domain. `false` disables container names. */
  containerDomain?: string | false;
  /** Largest UDP answer we send whatever the client advertises; default 4096 (also what our OPT advertises). */
  maxUdpSize?: number;
  /** Idle TCP connections are closed after this; default 10000 ms (RFC 7766). */
  tcpIdleTimeoutMs?: number;
  /** Open TCP connections over all clients; one more is closed at once. Default 256. */
  tcpMaxConnections?: number;
  /** Open TCP connections per client address; one more is closed at once. Default 16. */
  tcpMaxConnectionsPerClient?: number;
  /**
   * Reply bytes a TCP connection may have queued (written, not yet taken by the
   * kernel) before the server stops reading its queries; reading resumes when
   * the queue drains. Default 65536 (at least the socket's high-water mark).
   */
  tcpMaxQueuedBytes?: number;
  /** Forwarded queries awaiting an upstream, over all clients; beyond it SERVFAIL at once. Default 256. */
  maxForwardsInFlight?: number;
  /** Bytes the answer cache may hold (encoded answers + an estimate of the records); oldest go first. Default 16 MiB. */
  answerCacheMaxBytes?: number;
  log?: Logger;
}

interface Client {
  address: string;
  transport: 'udp' | 'tcp';
}

/** An encoded answer for one exact query (bytes after the id) against one view. */
interface CachedAnswer {
  type: string;
  /** The answer with its records in canonical order; rotations are encoded from it. */
  response: Response;
  maxBytes: number;
  /** Encodings by rotation of the answer records, filled as they are asked for. */
  rotations: (Buffer | undefined)[];
  truncated: (boolean | undefined)[];
  /** What this entry counts against `answerCacheMaxBytes`. */
  bytes: number;
  /** Evicted: it may still serve the query that made it, but holds no more bytes. */
  evicted: boolean;
}

const UDP_DEFAULT = 512;
/** Most cached queries per view; past it the oldest go (random names cannot grow it without bound). */
const CACHE_MAX = 10_000;
/** Defaults of the options, caps included (README: "Limits"): the rows of DNS_CONFIG (config.ts). */
const DEFAULTS = dnsServerOptions(DNS_DEFAULTS);
/** Estimated heap cost of one decoded record object kept for re-encoding rotations. */
const RECORD_OBJECT_BYTES = 128;
/** Answers with more records than this are rotated and encoded per query instead of cached per rotation. */
const CACHE_ROTATIONS_MAX = 64;
const TCP_MAX = 65535;
/** Queries a TCP client may have in flight on one connection; past it the server stops reading it. */
const TCP_PIPELINE = 64;

/**
 * The embedded DNS server: answers Consul-style names from the catalog view
 * and container names, forwards the rest. UDP and TCP on every listen
 * address, on the same port.
 *
 * Transport is node:dgram/node:net rather than dns2's servers: dns2's UDP
 * server drops every record when an answer does not fit (we send as many
 * whole records as fit with TC set) and hides the raw packet we need to
 * answer FORMERR and to forward byte-exact. Answers are encoded by wire.ts
 * and cached per exact query and view (see the README's answer cache).
 */
export class DnsServer {
  readonly counters = new DnsCounters();
  private readonly zone: Zone;
  private readonly forwarder: Forwarder;
  private readonly limiter: ClientRateLimiter | undefined;
  private readonly log: Logger;
  private readonly udp: UdpSocket[] = [];
  private readonly tcp: TcpServer[] = [];
  private readonly conns = new Set<TcpSocket>();
  /** Open TCP connections per client address. */
  private readonly connsPerClient = new Map<string, number>();
  private forwardsInFlight = 0;
  private closed = false;
  private bound: ListenAddress[] = [];
  private readonly cache = new Map<string, CachedAnswer>();
  private cacheBytes = 0;
  private cacheView: CatalogView | undefined;
  private cacheContainers: object | undefined;
  private readonly listen: ListenAddress[];
  private readonly maxUdp: number;
  private readonly limits: {
    tcpConnections: number;
    tcpPerClient: number;
    tcpQueuedBytes: number;
    forwards: number;
    cacheBytes: number;
  };

  constructor(private readonly opts: DnsServerOptions) {
    this.log = opts.log ?? silentLogger();
    this.listen = opts.listen ?? [{ address: '127.0.0.1', port: 53 }];
    for (const l of this.listen) {
      if (isIP(l.address) === 0) {
        throw new InvalidArgumentError(`listen: "${l.address}" is not an IP address`, { field: 'listen' });
      }
    }
    const domain = normalizeDomain(opts.domain ?? 'consul.');
    if (domain === '') throw new InvalidArgumentError('domain: must not be the root', { field: 'domain' });
    const containerDomain =
      opts.containerDomain === false ? undefined : normalizeDomain(opts.containerDomain ?? domain);
    this.zone = {
      domain,
      datacenter: opts.datacenter ?? 'dc1',
      nodeName: opts.nodeName,
      ttl: {
        service: opts.ttl?.service ?? DEFAULTS.ttl.service,
        node: opts.ttl?.node ?? DEFAULTS.ttl.node,
        container: opts.ttl?.container ?? DEFAULTS.ttl.container,
        negative: opts.ttl?.negative ?? DEFAULTS.ttl.negative,
        perService: opts.ttl?.perService ?? {},
      },
      healthyOnly: opts.healthyOnly ?? DEFAULTS.healthyOnly,
      onlyPassing: opts.onlyPassing ?? DEFAULTS.onlyPassing,
      // Canonical order: the server rotates the records per answer (see cachedAnswer), which
      // spreads clients over instances like a shuffle while letting encodings be cached.
      shuffle: (items) => items,
    };
    if (opts.nodeAddress !== undefined) this.zone.nodeAddress = opts.nodeAddress;
    if (containerDomain !== undefined && containerDomain !== '') this.zone.containerDomain = containerDomain;
    this.maxUdp = Math.max(UDP_DEFAULT, Math.min(opts.maxUdpSize ?? DEFAULTS.maxUdpSize, TCP_MAX));
    const upstreams = (opts.upstreams ?? this.defaultUpstreams()).map(parseUpstream);
    this.forwarder = new Forwarder(upstreams, opts.upstreamTimeoutMs ?? DEFAULTS.upstreamTimeoutMs);
    const rl = opts.rateLimit ?? DEFAULTS.rateLimit;
    this.limiter = rl === false ? undefined : new ClientRateLimiter(rl.qps, rl.burst);
    this.limits = {
      tcpConnections: positiveInt(opts.tcpMaxConnections, DEFAULTS.tcpMaxConnections, 'tcpMaxConnections'),
      tcpPerClient: positiveInt(
        opts.tcpMaxConnectionsPerClient,
        DEFAULTS.tcpMaxConnectionsPerClient,
        'tcpMaxConnectionsPerClient',
      ),
      tcpQueuedBytes: positiveInt(opts.tcpMaxQueuedBytes, DEFAULTS.tcpMaxQueuedBytes, 'tcpMaxQueuedBytes'),
      forwards: positiveInt(opts.maxForwardsInFlight, DEFAULTS.maxForwardsInFlight, 'maxForwardsInFlight'),
      cacheBytes: positiveInt(opts.answerCacheMaxBytes, DEFAULTS.answerCacheMaxBytes, 'answerCacheMaxBytes'),
    };
  }

  /** Open TCP connections. */
  tcpConnections(): number {
    return this.conns.size;
  }

  /** Reply bytes queued on all TCP connections (written, not yet taken by the kernel). */
  tcpQueuedBytes(): number {
    let n = 0;
    for (const c of this.conns) n += c.writableLength;
    return n;
  }

  /** Forwarded queries awaiting an upstream. */
  forwardsPending(): number {
    return this.forwardsInFlight;
  }

  /** Keys and estimated bytes held by the answer cache, and its byte bound. */
  answerCacheStats(): { entries: number; bytes: number; maxBytes: number } {
    return { entries: this.cache.size, bytes: this.cacheBytes, maxBytes: this.limits.cacheBytes };
  }

  /** Upstreams in use (after defaults and excluding ourselves). */
  get upstreams(): readonly Upstream[] {
    return this.forwarder.upstreams;
  }

  /** Where the server listens, with the ports actually bound. */
  addresses(): ListenAddress[] {
    return this.bound.map((b) => ({ ...b }));
  }

  async start(): Promise<void> {
    this.closed = false;
    try {
      for (const l of this.listen) this.bound.push(await this.bindBoth(l));
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    this.connsPerClient.clear();
    await Promise.all([
      ...this.udp.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...this.tcp.map((s) => new Promise<void>((r) => s.close(() => r()))),
    ]);
    this.udp.length = 0;
    this.tcp.length = 0;
    this.bound = [];
  }

  /**
   * Answers one raw query as the transport would; undefined means no answer
   * (dropped). Public so tests and benchmarks can drive it without sockets.
   */
  async handle(buf: Buffer, client: Client): Promise<Buffer | undefined> {
    return this.respond(buf, client);
  }

  /**
   * `handle` without a promise when the answer is cached: the UDP hot path
   * sends it in the same tick (a promise and a microtask per query are a
   * measurable share of the cost at tens of thousands of queries/s).
   */
  private respond(buf: Buffer, client: Client): Buffer | undefined | Promise<Buffer | undefined> {
    try {
      const limited = this.limiter !== undefined && !this.limiter.take(client.address);
      if (!limited && buf.length >= 12) {
        const hit = this.fromCache(buf, client);
        if (hit !== undefined) return hit;
      }
      return this.handleUnsafe(buf, client, limited).catch((err: unknown) => this.failed(err, buf));
    } catch (err) {
      return this.failed(err, buf);
    }
  }

  private failed(err: unknown, buf: Buffer): Buffer | undefined {
    this.counters.internalErrors++;
    this.log.error({ err }, 'dns: failed to answer a query');
    if (buf.length < 12) return undefined;
    return this.reply(encodeError(buf.readUInt16BE(0), 0, false, RCODE.SERVFAIL, undefined));
  }

  private async handleUnsafe(buf: Buffer, client: Client, limited: boolean): Promise<Buffer | undefined> {
    const parsed = parseRequest(buf);
    if (!parsed.ok) {
      if ('drop' in parsed) {
        this.counters.malformed++;
        return undefined;
      }
      if (parsed.rcode === RCODE.FORMERR) this.counters.malformed++;
      if (limited) return this.limitedAnswer(client, parsed.id);
      return this.reply(encodeError(parsed.id, parsed.opcode, parsed.rd, parsed.rcode, parsed.question));
    }
    const req = parsed.request;
    this.counters.query(typeName(req.question.type));
    if (limited) return this.limitedAnswer(client, req.id);
    const edns = req.edns !== undefined ? { udpSize: this.maxUdp } : undefined;
    if (req.edns !== undefined && req.edns.version > 0) {
      return this.reply(encodeError(req.id, 0, req.rd, RCODE.BADVERS, req.question, edns));
    }
    const maxBytes =
      client.transport === 'tcp'
        ? TCP_MAX
        : req.edns !== undefined
          ? Math.min(Math.max(req.edns.udpSize, UDP_DEFAULT), this.maxUdp)
          : UDP_DEFAULT;

    if (!isOurs(this.zone, req.question.name)) return this.forward(buf, req, client, maxBytes);

    if (req.question.class !== CLASS_IN && req.question.class !== CLASS_ANY) {
      return this.reply(encodeError(req.id, 0, req.rd, RCODE.REFUSED, req.question, edns));
    }
    const view = this.opts.view();
    if (view.stale) this.counters.staleAnswers++;
    const scope = this.scopeOf(client.address);
    this.syncCache(view, scope.generation);
    const a = answer(this.zone, req.question.name, req.question.type, view, scope.names);
    const res: Response = {
      id: 0,
      opcode: 0,
      rd: req.rd,
      cd: req.cd,
      aa: true,
      rcode: a.rcode,
      question: req.question,
      answers: a.answers,
      authority: a.authority,
      additional: a.additional,
    };
    if (edns !== undefined) res.edns = edns;
    const key = cacheKey(buf, client, scope.key);
    const records = res.answers.length + res.authority.length + res.additional.length;
    const entry: CachedAnswer = {
      type: typeName(req.question.type),
      response: res,
      maxBytes,
      rotations: [],
      truncated: [],
      bytes: 0,
      evicted: false,
    };
    if (this.cache.size >= CACHE_MAX) this.evictOldest();
    this.cache.set(key, entry);
    this.charge(entry, key.length + records * RECORD_OBJECT_BYTES);
    return this.reply(this.encodeRotated(entry, req.id));
  }

  /**
   * The answer to a query seen before against the same view, without
   * parsing or looking anything up: the key is the query's bytes after its
   * id (flags, question, EDNS size) and the transport, so equal keys get
   * equal answers but for the id and the order of the records.
   */
  private fromCache(buf: Buffer, client: Client): Buffer | undefined {
    const view = this.opts.view();
    const scope = this.scopeOf(client.address);
    this.syncCache(view, scope.generation);
    const entry = this.cache.get(cacheKey(buf, client, scope.key));
    if (entry === undefined) return undefined;
    this.counters.query(entry.type);
    if (view.stale) this.counters.staleAnswers++;
    return this.reply(this.encodeRotated(entry, buf.readUInt16BE(0)));
  }

  /** The names this client sees: its scope, or the same map for everyone. */
  private scopeOf(address: string): ContainerScope {
    if (this.opts.containerScope) return this.opts.containerScope(address);
    const names = this.opts.containerNames?.() ?? NO_CONTAINERS;
    return { key: '', names, generation: names };
  }

  /** Drops every cached answer when the view or the container names change. */
  private syncCache(view: CatalogView, containers: object): void {
    if (view === this.cacheView && containers === this.cacheContainers) return;
    for (const e of this.cache.values()) e.evicted = true;
    this.cache.clear();
    this.cacheBytes = 0;
    this.cacheView = view;
    this.cacheContainers = containers;
  }

  /** Counts `bytes` more for a cached entry, then evicts the oldest entries while over the byte bound. */
  private charge(entry: CachedAnswer, bytes: number): void {
    entry.bytes += bytes;
    this.cacheBytes += bytes;
    while (this.cacheBytes > this.limits.cacheBytes && this.cache.size > 0) this.evictOldest();
  }

  private evictOldest(): void {
    const oldest = this.cache.entries().next();
    if (oldest.done) return;
    const [key, e] = oldest.value;
    this.cache.delete(key);
    this.cacheBytes -= e.bytes;
    e.bytes = 0;
    e.evicted = true;
  }

  /** Encodes (or reuses) the answer rotated by a random offset, with this id. */
  private encodeRotated(entry: CachedAnswer, id: number): Buffer {
    const n = entry.response.answers.length;
    const r = n > 1 ? Math.floor(Math.random() * n) : 0;
    let out = entry.rotations[r];
    let truncated = entry.truncated[r] ?? false;
    if (out === undefined) {
      const res =
        r === 0 ? entry.response : { ...entry.response, answers: rotate(entry.response.answers, r) };
      const enc = encodeResponse(res, entry.maxBytes);
      out = enc.buf;
      truncated = enc.truncated;
      if (n <= CACHE_ROTATIONS_MAX && !entry.evicted) {
        entry.rotations[r] = out;
        entry.truncated[r] = truncated;
        this.charge(entry, out.length);
      }
    }
    if (truncated) this.counters.truncated++;
    // A copy: the cached bytes must not change while a send of an earlier copy is in flight.
    const copy = Buffer.allocUnsafe(out.length);
    out.copy(copy);
    copy.writeUInt16BE(id, 0);
    return copy;
  }

  private limitedAnswer(client: Client, id: number): Buffer | undefined {
    this.counters.rateLimited++;
    // Over UDP silence is the answer (no amplification for spoofed sources);
    // a TCP client has proven its address, so tell it.
    return client.transport === 'tcp'
      ? this.reply(encodeError(id, 0, false, RCODE.REFUSED, undefined))
      : undefined;
  }

  private async forward(
    buf: Buffer,
    req: Request,
    client: Client,
    maxBytes: number,
  ): Promise<Buffer | undefined> {
    const edns = req.edns !== undefined ? { udpSize: this.maxUdp } : undefined;
    if (this.forwarder.upstreams.length === 0) {
      return this.reply(encodeError(req.id, 0, req.rd, RCODE.REFUSED, req.question, edns));
    }
    if (this.forwardsInFlight >= this.limits.forwards) {
      // Every forward holds a socket until its answer or the timeout: past the
      // cap, a flood (of spoofed sources, say) gets SERVFAIL, not more sockets.
      this.counters.forwardsRefused++;
      return this.reply(encodeError(req.id, 0, req.rd, RCODE.SERVFAIL, req.question, edns));
    }
    this.counters.forwarded++;
    this.forwardsInFlight++;
    let ans: Buffer | undefined;
    try {
      ans = await this.forwarder.forward(buf, client.transport === 'tcp');
    } finally {
      this.forwardsInFlight--;
    }
    if (ans === undefined) {
      this.counters.forwardTimeouts++;
      return this.reply(encodeError(req.id, 0, req.rd, RCODE.SERVFAIL, req.question, edns));
    }
    return this.reply(client.transport === 'udp' ? truncateForwarded(ans, maxBytes) : ans);
  }

  /** Counts the rcode of an answer on its way out. */
  private reply(buf: Buffer): Buffer {
    const rcode = buf.length >= 4 ? buf.readUInt16BE(2) & 0xf : RCODE.SERVFAIL;
    this.counters.response(RCODE_NAMES[rcode] ?? `RCODE${rcode}`);
    return buf;
  }

  private defaultUpstreams(): string[] {
    const ours = new Set(this.listen.filter((l) => l.port === 53).map((l) => l.address));
    return systemNameservers().filter((ns) => !ours.has(ns) && ns !== '0.0.0.0');
  }

  private async bindBoth(l: ListenAddress): Promise<ListenAddress> {
    // Port 0: let the kernel pick for UDP, then take the same port for TCP (retry if TCP's is taken).
    for (let attempt = 0; attempt < 10; attempt++) {
      const udp = await this.bindUdp(l);
      const port = udp.address().port;
      try {
        const tcp = await this.bindTcp({ address: l.address, port });
        this.udp.push(udp);
        this.tcp.push(tcp);
        return { address: l.address, port };
      } catch (err) {
        await new Promise<void>((r) => udp.close(() => r()));
        if (l.port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
          throw new UnavailableError(`dns: cannot listen on tcp ${l.address}:${port}: ${messageOf(err)}`, {
            cause: err,
          });
        }
      }
    }
    throw new UnavailableError(`dns: no port free for both UDP and TCP on ${l.address}`);
  }

  private bindUdp(l: ListenAddress): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: isIP(l.address) === 6 ? 'udp6' : 'udp4' });
      const onErr = (err: Error): void => {
        sock.close();
        reject(
          new UnavailableError(`dns: cannot listen on udp ${l.address}:${l.port}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      sock.once('error', onErr);
      sock.bind(l.port, l.address, () => {
        sock.off('error', onErr);
        sock.on('error', (err) => this.log.warn({ err }, 'dns: udp socket error'));
        sock.on('message', (msg, rinfo) => {
          // No send callback: Node then tries a synchronous send (uv_udp_try_send)
          // instead of queueing a request. A reply that cannot be sent is lost like
          // any datagram; the client retries.
          const out = this.respond(msg, { address: rinfo.address, transport: 'udp' });
          if (out instanceof Promise) {
            void out.then((o) => {
              // An answer that completes after close() has no socket to go out on.
              if (o !== undefined && !this.closed) sock.send(o, rinfo.port, rinfo.address);
            });
          } else if (out !== undefined) {
            sock.send(out, rinfo.port, rinfo.address);
          }
        });
        resolve(sock);
      });
    });
  }

  private bindTcp(l: ListenAddress): Promise<TcpServer> {
    return new Promise((resolve, reject) => {
      const srv = createServer((c) => this.serveTcp(c));
      srv.once('error', reject);
      srv.listen({ host: l.address, port: l.port, exclusive: true }, () => {
        srv.off('error', reject);
        srv.on('error', (err) => this.log.warn({ err }, 'dns: tcp server error'));
        resolve(srv);
      });
    });
  }

  /**
   * Length-prefixed messages (RFC 1035 §4.2.2), pipelined, answered as they
   * complete (RFC 7766). Connections are capped over all clients and per
   * client address (one over is closed at once). Reading pauses while
   * `TCP_PIPELINE` queries are in flight or `tcpMaxQueuedBytes` of replies
   * wait for a client that does not read, and resumes when that drains, so
   * a connection holds at most a read chunk of queries (≤ 64 KiB) and about
   * twice the queue bound of replies, whatever the client does.
   */
  private serveTcp(c: TcpSocket): void {
    const address = c.remoteAddress ?? '';
    const mine = this.connsPerClient.get(address) ?? 0;
    if (this.closed || this.conns.size >= this.limits.tcpConnections || mine >= this.limits.tcpPerClient) {
      this.counters.tcpRefused++;
      c.on('error', () => undefined);
      c.destroy();
      return;
    }
    this.conns.add(c);
    this.connsPerClient.set(address, mine + 1);
    c.setTimeout(this.opts.tcpIdleTimeoutMs ?? DEFAULTS.tcpIdleTimeoutMs, () => c.destroy());
    c.on('close', () => {
      this.conns.delete(c);
      const n = (this.connsPerClient.get(address) ?? 1) - 1;
      if (n <= 0) this.connsPerClient.delete(address);
      else this.connsPerClient.set(address, n);
    });
    c.on('error', () => c.destroy());
    const framer = new TcpFramer();
    const maxQueued = Math.max(this.limits.tcpQueuedBytes, c.writableHighWaterMark);
    let inFlight = 0;
    let paused = false;
    // The biggest reply seen here: answers in flight are counted at this size
    // against the queue bound, so 64 pipelined 60 KB answers cannot land on a
    // queue that had room for one.
    let biggest = 512;
    const client: Client = { address, transport: 'tcp' };
    const send = (out: Buffer | undefined): void => {
      inFlight--;
      if (out !== undefined && !c.destroyed) {
        const framed = Buffer.allocUnsafe(2 + out.length);
        biggest = Math.max(biggest, framed.length);
        framed.writeUInt16BE(out.length, 0);
        out.copy(framed, 2);
        c.write(framed);
      }
      pump();
    };
    // Dispatches the complete queries the limits allow; pauses or resumes reading to match.
    const pump = (): void => {
      if (c.destroyed) return;
      let blocked = false;
      for (;;) {
        const queued = c.writableLength;
        if (
          inFlight >= TCP_PIPELINE ||
          queued >= maxQueued ||
          (inFlight > 0 && queued + (inFlight + 1) * biggest > maxQueued)
        ) {
          blocked = true;
          break;
        }
        const msg = framer.next();
        if (msg === undefined) break;
        inFlight++;
        void this.handle(msg, client).then(send);
      }
      if (blocked && !paused) {
        paused = true;
        this.counters.tcpPaused++;
        c.pause();
      } else if (!blocked && paused) {
        paused = false;
        c.resume();
      }
    };
    c.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      pump();
    });
    c.on('drain', pump);
  }
}

const NO_CONTAINERS: ReadonlyMap<string, string> = new Map();

/** Transport + the query after its id: UDP and TCP differ in size limits. */
function cacheKey(buf: Buffer, client: Client, scope: string): string {
  // The scope first, length-prefixed: no scope key can run into the query's bytes.
  return `${scope.length}:${scope}${client.transport === 'udp' ? 'u' : 't'}${buf.toString('latin1', 2)}`;
}

function positiveInt(v: number | undefined, dflt: number, field: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError(`${field}: must be a positive integer, got ${String(v)}`, { field });
  }
  return v;
}

/** `items` starting at index r, wrapping around. */
function rotate<T>(items: T[], r: number): T[] {
  return [...items.slice(r), ...items.slice(0, r)];
}
