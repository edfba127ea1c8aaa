import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createTlsServer } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { decodeMulti, decodeMultiStream, ExtensionCodec, encode } from '@msgpack/msgpack';

/**
 * A Fluentd Forward protocol v1 server for tests: what a central Fluentd's
 * in_forward would do, minus the plugins. Accepts Message, Forward,
 * PackedForward and CompressedPackedForward (gzip) over TCP (optionally TLS),
 * answers `{ack: chunk}` when the client asks, answers UDP heartbeats, and
 * keeps every event in memory so a test can assert on what arrived.
 *
 * Not implemented: the optional handshake phase (HELO/PING/PONG with
 * shared_key authentication); a client that requires it is not a berth need.
 *
 * The knobs simulate a troubled receiver: acks held back, a connection cut
 * after N events (events of the cutting message are kept but not acked, as
 * when an ack is lost on the wire), slow reads (back-pressure).
 */

export type ForwardMode = 'Message' | 'Forward' | 'PackedForward' | 'CompressedPackedForward';

export interface ReceivedEvent {
  tag: string;
  /** Unix seconds. */
  sec: number;
  /** Nanoseconds within the second (0 when the sender used integer time). */
  nsec: number;
  /** True when the time came as an EventTime ext (type 0) rather than an integer. */
  eventTime: boolean;
  record: Record<string, unknown>;
  mode: ForwardMode;
  /** The chunk id of the message that carried it, when the client sent one. */
  chunk?: string;
}

export interface ReceiverOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** PEM key and certificate: serve TLS instead of plain TCP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Answer UDP heartbeats on the same port (default true). */
  heartbeat?: boolean;
}

/** What the receiver saw, for assertions about the protocol itself. */
export interface ReceiverStats {
  connections: number;
  messages: number;
  acksSent: number;
  heartbeats: number;
  byMode: Record<ForwardMode, number>;
  /** Messages that could not be understood (the connection is then closed, as in_forward does). */
  protocolErrors: number;
  /** Messages whose `size` option was not their event count. */
  sizeMismatches: number;
}

class EventTime {
  constructor(
    readonly sec: number,
    readonly nsec: number,
  ) {}
}

function makeCodec(): ExtensionCodec {
  const codec = new ExtensionCodec();
  codec.register({
    type: 0,
    encode: () => null,
    decode: (data: Uint8Array) => {
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      return new EventTime(view.getUint32(0), view.getUint32(4));
    },
  });
  return codec;
}

export class ForwardReceiver {
  private readonly events: ReceivedEvent[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly codec = makeCodec();
  private server: Server | undefined;
  private udp: UdpSocket | undefined;
  private waiters: { n: number; resolve: () => void }[] = [];
  private ackPaused = false;
  private heldAcks: { socket: Socket; chunk: string }[] = [];
  private dropAfterN: number | undefined;
  private readDelayMs = 0;
  private boundPort = 0;
  readonly stats: ReceiverStats = {
    connections: 0,
    messages: 0,
    acksSent: 0,
    heartbeats: 0,
    byMode: { Message: 0, Forward: 0, PackedForward: 0, CompressedPackedForward: 0 },
    protocolErrors: 0,
    sizeMismatches: 0,
  };

  private constructor(private readonly opts: ReceiverOptions) {}

  static async start(opts: ReceiverOptions = {}): Promise<ForwardReceiver> {
    const r = new ForwardReceiver(opts);
    await r.up();
    return r;
  }

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.boundPort;
  }

  /** Every event received so far (a copy), in arrival order, duplicates included. */
  records(): ReceivedEvent[] {
    return [...this.events];
  }

  get count(): number {
    return this.events.length;
  }

  /** Resolves once at least `n` events arrived; rejects after `timeoutMs` saying how many did. */
  waitFor(n: number, timeoutMs: number): Promise<void> {
    if (this.events.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`forward receiver: ${this.events.length} of ${n} events after ${timeoutMs}ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Hold acks back (the events are still stored); `false` sends the held ones. */
  pauseAcks(paused: boolean): void {
    this.ackPaused = paused;
    if (!paused) {
      const held = this.heldAcks;
      this.heldAcks = [];
      for (const h of held) this.sendAck(h.socket, h.chunk);
    }
  }

  /**
   * Cut the connection (without acking) when the stored total reaches `n`
   * events; once only, then the knob resets. `undefined` disables it.
   */
  dropConnectionAfter(n: number | undefined): void {
    this.dropAfterN = n;
  }

  /** Wait this long before reading each message (simulates a slow receiver). */
  slowReads(delayMs: number): void {
    this.readDelayMs = delayMs;
  }

  /** Listen (again) on the same port; the stored events are kept. */
  async up(): Promise<void> {
    if (this.server) return;
    const onConn = (s: Socket) => this.handle(s);
    const server = this.opts.tls
      ? createTlsServer({ key: this.opts.tls.key, cert: this.opts.tls.cert }, onConn)
      : createTcpServer(onConn);
    const port = this.boundPort || this.opts.port || 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('forward receiver: no TCP address');
    this.boundPort = addr.port;
    this.server = server;
    if (this.opts.heartbeat ?? true) {
      const udp = createSocket('udp4');
      udp.on('message', (_msg, rinfo) => {
        this.stats.heartbeats++;
        udp.send(Buffer.from([0x00]), rinfo.port, rinfo.address);
      });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.boundPort, this.host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      this.udp = udp;
    }
  }

  /** Stop listening and cut every connection (unacked chunks stay unacked); `up()` resumes. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.heldAcks = [];
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const udp = this.udp;
    this.udp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async stop(): Promise<void> {
    await this.down();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  private handle(socket: Socket): void {
    this.stats.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    void this.readLoop(socket);
  }

  private async readLoop(socket: Socket): Promise<void> {
    try {
      for await (const msg of decodeMultiStream(socket as AsyncIterable<Uint8Array>, {
        extensionCodec: this.codec,
      })) {
        if (this.readDelayMs > 0) await sleep(this.readDelayMs);
        if (socket.destroyed) return;
        if (msg === null) continue; // client heartbeat over TCP
        this.onMessage(socket, msg);
      }
    } catch {
      if (!socket.destroyed) {
        this.stats.protocolErrors++;
        socket.destroy();
      }
    }
  }

  private onMessage(socket: Socket, msg: unknown): void {
    if (!Array.isArray(msg) || typeof msg[0] !== 'string') throw new Error('not a forward message');
    const tag = msg[0];
    const second: unknown = msg[1];
    let mode: ForwardMode;
    let entries: [unknown, unknown][];
    let options: Record<string, unknown> = {};
    if (Array.isArray(second)) {
      mode = 'Forward';
      entries = second as [unknown, unknown][];
      options = asOptions(msg[2]);
    } else if (second instanceof Uint8Array || typeof second === 'string') {
      options = asOptions(msg[2]);
      let bytes = typeof second === 'string' ? Buffer.from(second, 'latin1') : second;
      if (options.compressed === 'gzip') {
        mode = 'CompressedPackedForward';
        bytes = gunzipSync(bytes);
      } else {
        mode = 'PackedForward';
      }
      entries = [...decodeMulti(bytes, { extensionCodec: this.codec })] as [unknown, unknown][];
    } else {
      mode = 'Message';
      entries = [[second, msg[2]]];
      options = asOptions(msg[3]);
    }
    const chunk = typeof options.chunk === 'string' ? options.chunk : undefined;
    // in_forward treats `size` as a hint only, and fluent-logger (npm) sends the
    // byte length there instead of the event count: count, do not reject.
    if (typeof options.size === 'number' && options.size !== entries.length) this.stats.sizeMismatches++;
    this.stats.messages++;
    this.stats.byMode[mode]++;
    for (const e of entries) {
      if (!Array.isArray(e)) throw new Error('entry is not [time, record]');
      const [t, record] = e;
      const ev: ReceivedEvent = {
        tag,
        sec: 0,
        nsec: 0,
        eventTime: false,
        record: (record ?? {}) as Record<string, unknown>,
        mode,
      };
      if (t instanceof EventTime) {
        ev.sec = t.sec;
        ev.nsec = t.nsec;
        ev.eventTime = true;
      } else if (typeof t === 'number') {
        ev.sec = Math.floor(t);
        ev.nsec = Math.round((t - ev.sec) * 1e9);
      } else {
        throw new Error('event time is neither an integer nor an EventTime');
      }
      if (chunk !== undefined) ev.chunk = chunk;
      this.events.push(ev);
    }
    this.wake();
    if (this.dropAfterN !== undefined && this.events.length >= this.dropAfterN) {
      this.dropAfterN = undefined;
      socket.destroy();
      return;
    }
    if (chunk !== undefined) {
      if (this.ackPaused) this.heldAcks.push({ socket, chunk });
      else this.sendAck(socket, chunk);
    }
  }

  private sendAck(socket: Socket, chunk: string): void {
    if (socket.destroyed) return;
    socket.write(encode({ ack: chunk }));
    this.stats.acksSent++;
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.events.length >= w.n);
    this.waiters = this.waiters.filter((w) => this.events.length < w.n);
    for (const w of ready) w.resolve();
  }
}

function asOptions(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
