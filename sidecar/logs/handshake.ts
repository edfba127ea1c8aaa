import { createHash, randomBytes } from 'node:crypto';

/**
 * The Forward protocol v1 handshake, client side (Fluentd's out_forward with
 * `<security>`; spec: "Forward Protocol Specification v1", Handshake Messages):
 *
 *   server → HELO  ['HELO', {nonce, auth, keepalive}]
 *   client → PING  ['PING', self_hostname, shared_key_salt,
 *                   sha512_hex(shared_key_salt + self_hostname + nonce + shared_key),
 *                   username || '', sha512_hex(auth_salt + username + password) || '']
 *   server → PONG  ['PONG', auth_result, reason, server_hostname,
 *                   sha512_hex(shared_key_salt + server_hostname + nonce + shared_key)]
 *
 * A server with a shared key sends HELO as soon as a client connects and
 * takes no events before a good PING. The PONG's digest proves that the
 * server knows the key too. `auth` in HELO is a salt when the server wants a
 * username and password, empty otherwise. Pure functions over decoded
 * messages, so a test can drive them without a socket.
 */
export interface HandshakeAuth {
  sharedKey: string;
  /** PING's self_hostname; Fluentd refuses one equal to its own. */
  selfHostname: string;
  username?: string;
  password?: string;
}

/** A handshake that failed, with a reason fit for the agent log (never a secret). */
export class HandshakeError extends Error {
  readonly code = 'HANDSHAKE_FAILED';
}

export interface Helo {
  nonce: Buffer;
  /** Salt for the user authentication; empty when the server wants none. */
  authSalt: Buffer;
}

/** Strings arrive as bytes (the connection decodes raw strings: a nonce need not be UTF-8). */
export function bytesOf(v: unknown): Buffer | undefined {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

function textOf(v: unknown): string | undefined {
  return bytesOf(v)?.toString('utf8');
}

/** The message's type when it is a handshake message (`HELO`, `PONG`, …), else undefined. */
export function handshakeType(msg: unknown): string | undefined {
  if (!Array.isArray(msg) || msg.length < 2) return undefined;
  const t = textOf(msg[0]);
  return t === 'HELO' || t === 'PING' || t === 'PONG' ? t : undefined;
}

export function parseHelo(msg: unknown): Helo {
  if (handshakeType(msg) !== 'HELO') {
    throw new HandshakeError(`expected HELO, the receiver sent ${describe(msg)}`);
  }
  const opts = (msg as unknown[])[1];
  if (opts === null || typeof opts !== 'object') throw new HandshakeError('HELO without options');
  const o = opts as Record<string, unknown>;
  const nonce = bytesOf(o.nonce);
  if (!nonce || nonce.length === 0) throw new HandshakeError('HELO without a nonce');
  return { nonce, authSalt: bytesOf(o.auth) ?? Buffer.alloc(0) };
}

function sha512hex(...parts: (Buffer | string)[]): string {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

export interface Ping {
  message: unknown[];
  /** What the PONG is checked against. */
  salt: Buffer;
}

export function makePing(helo: Helo, auth: HandshakeAuth, salt: Buffer = randomBytes(16)): Ping {
  const wantsUser = helo.authSalt.length > 0;
  if (wantsUser && !auth.username) {
    throw new HandshakeError(
      'the receiver demands a username and password (HELO has an auth salt); set logs.username and logs.passwordFile',
    );
  }
  const user = wantsUser ? (auth.username ?? '') : '';
  const passwordDigest = wantsUser ? sha512hex(helo.authSalt, user, auth.password ?? '') : '';
  return {
    salt,
    message: [
      'PING',
      auth.selfHostname,
      salt,
      sha512hex(salt, auth.selfHostname, helo.nonce, auth.sharedKey),
      user,
      passwordDigest,
    ],
  };
}

/** Checks a PONG; returns the server's hostname, throws HandshakeError with the reason. */
export function checkPong(msg: unknown, helo: Helo, ping: Ping, auth: HandshakeAuth): string {
  if (handshakeType(msg) !== 'PONG' || (msg as unknown[]).length < 5) {
    throw new HandshakeError(`expected PONG, the receiver sent ${describe(msg)}`);
  }
  const [, ok, reason, host, digest] = msg as unknown[];
  if (ok !== true) {
    throw new HandshakeError(`the receiver refused the handshake: ${textOf(reason) || 'no reason given'}`);
  }
  const serverHost = textOf(host) ?? '';
  if (serverHost === auth.selfHostname) {
    throw new HandshakeError(
      `the receiver's hostname equals ours (${serverHost}); set logs.selfHostname to another name`,
    );
  }
  if (textOf(digest) !== sha512hex(ping.salt, serverHost, helo.nonce, auth.sharedKey)) {
    throw new HandshakeError(
      "shared key mismatch: the receiver's PONG does not prove logs.sharedKey (a receiver with another key, or not the receiver we meant)",
    );
  }
  return serverHost;
}

function describe(msg: unknown): string {
  const t = handshakeType(msg);
  if (t) return t;
  if (Array.isArray(msg)) return `an array of ${msg.length}`;
  if (msg !== null && typeof msg === 'object') return `a map (${Object.keys(msg).slice(0, 3).join(', ')})`;
  return typeof msg;
}
