import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Most one-time login tokens outstanding; a new one past it drops the oldest. */
export const MAX_LOGIN_TOKENS = 16;
/** Most live sessions; a new login past it ends the oldest. */
export const MAX_SESSIONS = 64;

export interface Session {
  /** The page sends it back in `X-Berth-CSRF` on every state-changing request. */
  csrf: string;
  expiresAt: number;
}

/** 256 random bits, URL-safe. */
const secret = () => randomBytes(32).toString('base64url');
/** Secrets are kept by their hash: a map lookup's timing then says nothing about the secret itself. */
const key = (s: string) => createHash('sha256').update(s).digest('base64url');

/**
 * The dashboard's login tokens and sessions, in memory only (an agent
 * restart ends them). A login token is good once, for `loginTtlMs`; it
 * becomes a session of `sessionTtlMs` from login. Both maps are bounded.
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

  /** Exchanges a login token (once) for a session: its id (the cookie) and CSRF token; undefined when used, unknown or expired. */
  login(token: string): { id: string; session: Session } | undefined {
    const k = key(token);
    const expiresAt = this.logins.get(k);
    // Gone on first use, whether it is still good or not.
    this.logins.delete(k);
    if (expiresAt === undefined || expiresAt <= this.now()) return undefined;
    this.prune();
    const id = secret();
    const session = { csrf: secret(), expiresAt: this.now() + this.opts.sessionTtlMs };
    this.sessions.set(key(id), session);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(first(this.sessions));
    return { id, session };
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

  end(id: string): void {
    this.sessions.delete(key(id));
  }

  /** Whether `given` is the session's CSRF token (constant time). */
  static csrfMatches(session: Session, given: string | undefined): boolean {
    if (given === undefined) return false;
    const a = Buffer.from(session.csrf);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private prune(): void {
    const t = this.now();
    for (const [k, exp] of this.logins) if (exp <= t) this.logins.delete(k);
    for (const [k, s] of this.sessions) if (s.expiresAt <= t) this.sessions.delete(k);
  }
}

/** The oldest key (Maps iterate in insertion order). */
function first(m: Map<string, unknown>): string {
  return m.keys().next().value as string;
}
