// Over 400 lines: the Forward client's failover and its one connection (handshake, chunk ids, acks) are one protocol; record encoding is in entry-writer.ts, the handshake in handshake.ts.
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { decodeMultiStream, Encoder, ExtensionCodec } from '@msgpack/msgpack';
import { backoffDelay } from '../../runtime/base/backoff.js';
import type { Logger } from '../../runtime/base/log.js';
import { EntryWriter, forwardMessage } from './entry-writer.js';
import {
  bytesOf,
  checkPong,
  type HandshakeAuth,
  HandshakeError,
  handshakeType,
  makePing,
  parseHelo,
} from './handshake.js';
import type { LogRecord } from './record.js';

/**
 * The output contract, as Fluent Bit's: `flush(batch)` answers
 *   'ok'    every record was acknowledged by a receiver;
 *   'retry' not delivered now (no server reachable, ack timeout, connection
 *           lost); the caller keeps the batch and calls again later;
 *   'error' the batch can never be delivered (it does not encode); the caller
 *           drops and counts it.
 * Concurrent flushes are allowed (one per container pipeline); acks are
 * matched by chunk id, so they may come back in any order.
 */
export interface LogOutput {
  flush(batch: readonly LogRecord[]): Promise<FlushResult>;
  close(): Promise<void>;
  /** Optional: failed handshakes per receiver (`host:port`), for the pipeline's metrics. */
  handshakeFailures?(): Record<string, number>;
}

export type FlushResult = 'ok' | 'retry' | 'error';

export interface ForwardServer {
  host: string;
  port: number;
}

export interface ForwardClientOptions {
  /** Tried in order; a failing server is skipped until its backoff expires. */
  servers: readonly ForwardServer[];
  /** TLS client options (ca, cert, key, servername, rejectUnauthorized); absent for plain TCP. */
  tls?: ConnectionOptions;
  /** The Forward handshake (HELO/PING/PONG) with a shared key; absent: none is spoken. */
  auth?: HandshakeAuth;
  /** Ask the receiver to ack each message (`chunk` option); without it 'ok' means "written". */
  requireAck: boolean;
  ackTimeoutMs: number;
  connectTimeoutMs: number;
  /** gzip the entries (CompressedPackedForward). */
  compress: boolean;
  /** Reconnect backoff per server: first delay and cap; it doubles, and jitter takes up to half off. */
  backoffMinMs: number;
  backoffMaxMs: number;
  logger?: Logger;
  /** Injected for tests; Math.random by default. */
  random?: () => number;
}

/**
 * A Forward protocol v1 client that sends PackedForward (or
 * CompressedPackedForward) messages with a chunk id and waits for
 * `{ack: chunk}`.
 *
 * Why not fluent-logger (npm, installed)? Its PackedForward mode batches per
 * tag on its own timer and reports acks per emit; it waits for an ack with
 * `socket.once('data')` and decodes that one read as the whole answer (acks
 * split or coalesced by TCP are misread), an ack timeout neither retries nor
 * closes the connection, it has one server (no failover), a fixed reconnect
 * interval (no backoff or jitter) and sends the byte length as the `size`
 * option where the spec wants the event count. berth needs "this batch is
 * acked, commit its position" — a small client on @msgpack/msgpack does that.
 */
export class ForwardClient implements LogOutput {
  private conn: Connection | undefined;
  private connecting: Promise<Connection | undefined> | undefined;
  private readonly health: {
    failures: number;
    retryAt: number;
    handshakeFailures: number;
    lastHandshakeError?: string;
  }[];
  private readonly encoder: Encoder;
  private readonly writer: EntryWriter;
  private readonly random: () => number;
  private closed = false;

  constructor(private readonly opts: ForwardClientOptions) {
    if (opts.servers.length === 0) throw new Error('ForwardClient: no servers');
    this.health = opts.servers.map(() => ({ failures: 0, retryAt: 0, handshakeFailures: 0 }));
    const codec = new ExtensionCodec();
    codec.register({
      type: 0,
      encode: (v: unknown) => {
        if (!(v instanceof EventTime)) return null;
        const b = Buffer.allocUnsafe(8);
        b.writeUInt32BE(v.sec >>> 0, 0);
        b.writeUInt32BE(v.nsec >>> 0, 4);
        return b;
      },
      decode: () => null,
    });
    this.encoder = new Encoder({ extensionCodec: codec, ignoreUndefined: true });
    this.writer = new EntryWriter(this.encoder);
    this.random = opts.random ?? Math.random;
  }

  /** Handshakes that failed, per server (`host:port`): refused, wrong key, or demanded but not configured. */
  handshakeFailures(): Record<string, number> {
    const out: Record<string, number> = {};
    this.opts.servers.forEach((s, i) => {
      out[serverName(s)] = this.health[i]?.handshakeFailures ?? 0;
    });
    return out;
  }

  /** Index of the server currently connected to, for logs and tests. */
  get currentServer(): ForwardServer | undefined {
    return this.conn ? this.opts.servers[this.conn.index] : undefined;
  }

  async flush(batch: readonly LogRecord[]): Promise<FlushResult> {
    if (batch.length === 0) return 'ok';
    let messages: { payload: Uint8Array; chunk: string }[];
    try {
      messages = this.encode(batch);
    } catch (err) {
      this.opts.logger?.warn({ err }, 'log batch does not encode; dropped');
      return 'error';
    }
    const conn = await this.connection();
    if (!conn) return 'retry';
    const results = await Promise.all(messages.map((m) => conn.send(m.payload, m.chunk)));
    if (results.every((r) => r)) {
      const h = this.health[conn.index];
      if (h) h.failures = 0;
      return 'ok';
    }
    // Lost ack or connection: this server is suspect; the next flush may fail over.
    this.markFailed(conn.index);
    conn.destroy();
    if (this.conn === conn) this.conn = undefined;
    return 'retry';
  }

  async close(): Promise<void> {
    this.closed = true;
    this.conn?.destroy();
    this.conn = undefined;
  }

  private encode(batch: readonly LogRecord[]): { payload: Uint8Array; chunk: string }[] {
    // One container's batch has one tag almost always: group without copying then.
    const first = batch[0]?.tag;
    const byTag = new Map<string, LogRecord[]>();
    if (batch.every((r) => r.tag === first)) byTag.set(first ?? '', batch as LogRecord[]);
    else {
      for (const r of batch) {
        const list = byTag.get(r.tag);
        if (list) list.push(r);
        else byTag.set(r.tag, [r]);
      }
    }
    const out: { payload: Uint8Array; chunk: string }[] = [];
    for (const [tag, records] of byTag) {
      this.writer.reset();
      for (const r of records) this.writer.write(r);
      // In place: forwardMessage (or gzip) copies it out before the writer is reset again.
      let body: Buffer = this.writer.view();
      const chunk = randomBytes(16).toString('base64');
      const options: Record<string, unknown> = { size: records.length };
      if (this.opts.requireAck) options.chunk = chunk;
      if (this.opts.compress) {
        body = gzipSync(body);
        options.compressed = 'gzip';
      }
      out.push({ payload: forwardMessage(tag, body, this.encoder.encode(options)), chunk });
    }
    return out;
  }

  private async connection(): Promise<Connection | undefined> {
    if (this.closed) return undefined;
    if (this.conn && !this.conn.dead) return this.conn;
    this.conn = undefined;
    if (!this.connecting) {
      this.connecting = this.connectAny().finally(() => {
        this.connecting = undefined;
      });
    }
    const c = await this.connecting;
    if (c) this.conn = c;
    return c;
  }

  private async connectAny(): Promise<Connection | undefined> {
    const now = Date.now();
    for (let i = 0; i < this.opts.servers.length; i++) {
      const h = this.health[i];
      const server = this.opts.servers[i];
      if (!h || !server || h.retryAt > now) continue;
      try {
        const c = await Connection.open(i, server, this.opts, (err) => this.handshakeFailed(i, err));
        this.opts.logger?.info({ server: serverName(server) }, 'connected to log receiver');
        return c;
      } catch (err) {
        this.markFailed(i);
        if (err instanceof HandshakeError) this.handshakeFailed(i, err);
        else {
          this.opts.logger?.warn(
            { err, server: serverName(server) },
            'log receiver unreachable; trying the next one',
          );
        }
      }
    }
    return undefined;
  }

  /**
   * Counted and logged (the receiver and the reason, never a secret); the
   * batch is answered 'retry', so its records wait in the spool until a
   * handshake succeeds (after the config is fixed, or on another server).
   */
  private handshakeFailed(i: number, err: HandshakeError): void {
    const h = this.health[i];
    const server = this.opts.servers[i];
    if (!h || !server) return;
    h.handshakeFailures++;
    // The first failure, a new reason, then every 10th: the counter has the rest.
    const repeat = err.message === h.lastHandshakeError && h.handshakeFailures % 10 !== 0;
    h.lastHandshakeError = err.message;
    if (repeat) return;
    this.opts.logger?.warn(
      { server: serverName(server), reason: err.message, handshakeFailures: h.handshakeFailures },
      `log receiver ${serverName(server)}: Forward handshake failed: ${err.message}; records wait in the spool`,
    );
  }

  private markFailed(i: number): void {
    const h = this.health[i];
    if (!h) return;
    h.failures++;
    const delay = backoffDelay(
      h.failures - 1,
      { initialMs: this.opts.backoffMinMs, maxMs: this.opts.backoffMaxMs, jitter: 0.5 },
      this.random,
    );
    h.retryAt = Date.now() + delay;
  }
}

class EventTime {
  constructor(
    readonly sec: number,
    readonly nsec: number,
  ) {}
}

function serverName(s: ForwardServer): string {
  return s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

type Messages = AsyncIterator<unknown, void>;

/**
 * A receiver only ever sends acks and handshake messages, all small: bigger
 * ones are refused before they are buffered. Raw strings: a HELO nonce is
 * bytes and need not be valid UTF-8.
 */
const RECEIVER_DECODING = {
  rawStrings: true,
  maxStrLength: 4096,
  maxBinLength: 4096,
  maxArrayLength: 16,
  maxMapLength: 16,
  maxExtLength: 64,
} as const;

/** One TCP/TLS connection with its pending acks. */
class Connection {
  private readonly pending = new Map<string, (ok: boolean) => void>();
  dead = false;

  private constructor(
    readonly index: number,
    private readonly socket: Socket,
    private readonly opts: ForwardClientOptions,
    private readonly messages: Messages,
    private readonly onHandshakeError: (err: HandshakeError) => void,
  ) {
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    void this.readAcks();
  }

  /** Connects, and speaks the handshake when `opts.auth` is set; rejects with HandshakeError when it fails. */
  static async open(
    index: number,
    server: ForwardServer,
    opts: ForwardClientOptions,
    onHandshakeError: (err: HandshakeError) => void,
  ): Promise<Connection> {
    const socket = await Connection.connect(server, opts);
    const messages = decodeMultiStream<undefined>(socket as AsyncIterable<Uint8Array>, RECEIVER_DECODING)[
      Symbol.asyncIterator
    ]();
    if (opts.auth) {
      try {
        await handshake(socket, messages, opts.auth, opts.connectTimeoutMs);
      } catch (err) {
        socket.destroy();
        throw err;
      }
    }
    return new Connection(index, socket, opts, messages, onHandshakeError);
  }

  private static connect(server: ForwardServer, opts: ForwardClientOptions): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = opts.tls
        ? tlsConnect({ ...opts.tls, host: server.host, port: server.port })
        : netConnect({ host: server.host, port: server.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new Error(`connect to ${server.host}:${server.port} timed out after ${opts.connectTimeoutMs}ms`),
        );
      }, opts.connectTimeoutMs);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 10_000);
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      });
    });
  }

  /** Resolves true when written (and acked, when acks are required), false on timeout or loss. */
  send(payload: Uint8Array, chunk: string): Promise<boolean> {
    if (this.dead) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (ok: boolean) => {
        if (timer) clearTimeout(timer);
        this.pending.delete(chunk);
        resolve(ok);
      };
      if (this.opts.requireAck) {
        this.pending.set(chunk, done);
        timer = setTimeout(() => done(false), this.opts.ackTimeoutMs);
      }
      this.socket.write(payload, (err) => {
        if (err) done(false);
        else if (!this.opts.requireAck) done(true);
      });
    });
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    for (const done of [...this.pending.values()]) done(false);
    this.pending.clear();
  }

  private async readAcks(): Promise<void> {
    try {
      for (let r = await this.messages.next(); !r.done; r = await this.messages.next()) {
        const msg = r.value;
        if (handshakeType(msg) === 'HELO') {
          // A receiver with a shared key greets first and takes nothing before a PING.
          this.onHandshakeError(
            new HandshakeError(
              'the receiver demands the Forward handshake (it sent HELO) and logs.sharedKey is not set',
            ),
          );
          break;
        }
        const ack = msg !== null && typeof msg === 'object' ? (msg as { ack?: unknown }).ack : undefined;
        const id = bytesOf(ack)?.toString('latin1');
        if (id !== undefined) this.pending.get(id)?.(true);
      }
    } catch {
      // A garbled answer: the connection cannot be trusted for acks any more.
    }
    this.destroy();
  }
}

/** HELO → PING → PONG on a fresh connection, each answer awaited at most `timeoutMs`. */
async function handshake(
  socket: Socket,
  messages: Messages,
  auth: HandshakeAuth,
  timeoutMs: number,
): Promise<void> {
  const next = async (what: string): Promise<unknown> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HandshakeError(
              what === 'HELO'
                ? `no HELO from the receiver within ${timeoutMs}ms: logs.sharedKey is set but the receiver does not speak the handshake (no <security> section?)`
                : `no ${what} from the receiver within ${timeoutMs}ms`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      const r = await Promise.race([messages.next(), timeout]);
      if (r.done) throw new HandshakeError(`the receiver closed the connection before its ${what}`);
      return r.value;
    } catch (err) {
      if (err instanceof HandshakeError) throw err;
      throw new HandshakeError(`${what} unreadable: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  };
  const helo = parseHelo(await next('HELO'));
  const ping = makePing(helo, auth);
  socket.write(forwardEncoder.encode(ping.message));
  checkPong(await next('PONG'), helo, ping, auth);
}

const forwardEncoder = new Encoder();
