import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Most one-time login tokens outstanding; a new one past it drops the oldest. */
export const MAX_LOGIN_TOKENS = 16;
/** Most live sessions; a new login past it ends the oldest. */
export const MAX_SESSIONS = 64;

/**
 * The WebSocket subprotocol the dashboard answers with. The page offers it
 * and `berth.session.<key>` (a browser cannot set headers on an upgrade, so
 * the key rides as a protocol entry, as Kubernetes passes bearer tokens); the
 * server picks this plain name, so the key is never echoed back.
 */
export const SESSION_PROTOCOL = 'berth.session';
const KEY_PROTOCOL_PREFIX = `${SESSION_PROTOCOL}.`;

export interface Session {
  /** SHA-256 of the session key: the page proves it holds the key on every API request. */
  keyHash: Buffer;
  expiresAt: number;
}

/** 256 random bits, URL-safe. */
const secret = () => randomBytes(32).toString('base64url');
/** Secrets are kept by their hash: a map lookup's timing then says nothing about the secret itself. */
const key = (s: string) => createHash('sha256').update(s).digest('base64url');
const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The dashboard's login tokens and sessions, in memory only (an agent
 * restart ends them). A login token is good once, for `loginTtlMs`; it
 * becomes a session of `sessionTtlMs` from login, with two secrets: its id
 * (the cookie) and its key (handed to the page once, in the login redirect's
 * fragment; src/api/README.md says why both). Both maps are bounded.
 */
export class DashboardSessions {
  private readonly logins = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly opts: { loginTtlMs: number; sessionTtlMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** A new one-time login token and when it expires. */
  issueLogin(): { token: string; expiresAt: number } {
    this.prune();
    const token = secret();
    const expiresAt = this.now() + this.opts.loginTtlMs;
    this.logins.set(key(token), expiresAt);
    while (this.logins.size > MAX_LOGIN_TOKENS) this.logins.delete(first(this.logins));
    return { token, expiresAt };
  }

  /**
   * Exchanges a login token (once) for a session: its id (the cookie) and its
   * key (for the page only; not kept, only its hash); undefined when the token
   * is used, unknown or expired.
   */
  login(token: string): { id: string; key: string; session: Session } | undefined {
    const k = key(token);
    const expiresAt = this.logins.get(k);
    // Gone on first use, whether it is still good or not.
    this.logins.delete(k);
    if (expiresAt === undefined || expiresAt <= this.now()) return undefined;
    this.prune();
    const id = secret();
    const sessionKey = secret();
    const session = { keyHash: digest(sessionKey), expiresAt: this.now() + this.opts.sessionTtlMs };
    this.sessions.set(key(id), session);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(first(this.sessions));
    return { id, key: sessionKey, session };
  }

  /** The live session of a cookie value. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const k = key(id);
    const s = this.sessions.get(k);
    if (s && s.expiresAt <= this.now()) {
      this.sessions.delete(k);
      return undefined;
    }
    return s;
  }

  /** Ends the session of a cookie value; the session it was, if it lived. */
  end(id: string): Session | undefined {
    const k = key(id);
    const s = this.sessions.get(k);
    this.sessions.delete(k);
    return s;
  }

  /** Whether a session still lives: not expired, not dropped for a newer one, not ended. */
  isLive(session: Session): boolean {
    if (session.expiresAt <= this.now()) return false;
    for (const s of this.sessions.values()) if (s === session) return true;
    return false;
  }

  /** Whether `given` is the session's key (constant time: equal-length digests compared). */
  static keyMatches(session: Session, given: string | undefined): boolean {
    if (given === undefined || given === '') return false;
    return timingSafeEqual(session.keyHash, digest(given));
  }

  private prune(): void {
    const t = this.now();
    for (const [k, exp] of this.logins) if (exp <= t) this.logins.delete(k);
    for (const [k, s] of this.sessions) if (s.expiresAt <= t) this.sessions.delete(k);
  }
}

/** The key a WebSocket upgrade carries as a `berth.session.<key>` entry of Sec-WebSocket-Protocol. */
export function keyFromProtocols(header: string | string[] | undefined): string | undefined {
  const values = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const p of values.split(',')) {
    const v = p.trim();
    if (v.startsWith(KEY_PROTOCOL_PREFIX) && v.length > KEY_PROTOCOL_PREFIX.length)
      return v.slice(KEY_PROTOCOL_PREFIX.length);
  }
  return undefined;
}

/**
 * The subprotocol a WebSocket upgrade is answered with (ws's handleProtocols):
 * `berth.session` when offered, else the first offered entry that carries no
 * key, else none. Never a `berth.session.<key>` entry: the key is not echoed.
 */
export function answerProtocol(offered: Set<string>): string | false {
  if (offered.has(SESSION_PROTOCOL)) return SESSION_PROTOCOL;
  for (const p of offered) if (!p.startsWith(KEY_PROTOCOL_PREFIX)) return p;
  return false;
}

/** The oldest key (Maps iterate in insertion order). */
function first(m: Map<string, unknown>): string {
  return m.keys().next().value as string;
}
