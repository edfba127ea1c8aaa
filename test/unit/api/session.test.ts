import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  answerProtocol,
  DashboardSessions,
  keyFromProtocols,
  MAX_LOGIN_TOKENS,
  MAX_SESSIONS,
} from '../../../src/api/session.js';

describe('dashboard sessions', () => {
  const clock = () => {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it('a login token works once, then never again', () => {
    const c = clock();
    const s = new DashboardSessions({ loginTtlMs: 60_000, sessionTtlMs: 3_600_000 }, c.now);
    const { token } = s.issueLogin();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, URL-safe');
    const first = s.login(token);
    assert.ok(first);
    assert.equal(s.login(token), undefined, 'used');
    assert.equal(s.get(first.id), first.session);
    assert.match(first.key, /^[A-Za-z0-9_-]{43}$/, 'the key: 256 random bits too');
    assert.notEqual(first.key, first.id);
    assert.ok(!JSON.stringify(first.session).includes(first.key), 'the session keeps only its hash');
  });

  it('an expired login token is refused, and an expired session ends', () => {
    const c = clock();
    const s = new DashboardSessions({ loginTtlMs: 60_000, sessionTtlMs: 120_000 }, c.now);
    const late = s.issueLogin().token;
    const fresh = s.issueLogin().token;
    c.advance(60_000);
    assert.equal(s.login(late), undefined);
    assert.equal(s.login('made-up'), undefined);
    s.issueLogin();
    const t = s.issueLogin().token;
    const ok = s.login(t);
    assert.ok(ok);
    c.advance(119_999);
    assert.ok(s.get(ok.id));
    assert.ok(s.isLive(ok.session));
    c.advance(1);
    assert.ok(!s.isLive(ok.session), 'expired');
    assert.equal(s.get(ok.id), undefined, 'session over');
    assert.equal(s.login(fresh), undefined);
  });

  it('keeps at most MAX_LOGIN_TOKENS tokens and MAX_SESSIONS sessions, dropping the oldest', () => {
    const s = new DashboardSessions({ loginTtlMs: 60_000, sessionTtlMs: 60_000 });
    const tokens = Array.from({ length: MAX_LOGIN_TOKENS + 1 }, () => s.issueLogin().token);
    assert.equal(s.login(tokens[0] ?? ''), undefined, 'the oldest was dropped');
    assert.ok(s.login(tokens[1] ?? ''));
    const ids: string[] = [];
    for (let i = 0; i < MAX_SESSIONS + 1; i++) ids.push(s.login(s.issueLogin().token)?.id ?? '');
    assert.equal(s.get(ids[0]), undefined);
    assert.equal(s.end(ids[0] ?? ''), undefined, 'dropped, so not live either');
    assert.ok(s.get(ids[MAX_SESSIONS]));
  });

  it('matches the session key exactly, and only its own session', () => {
    const s = new DashboardSessions({ loginTtlMs: 60_000, sessionTtlMs: 60_000 });
    const l = s.login(s.issueLogin().token);
    const other = s.login(s.issueLogin().token);
    assert.ok(l && other);
    assert.ok(DashboardSessions.keyMatches(l.session, l.key));
    assert.ok(!DashboardSessions.keyMatches(l.session, undefined));
    assert.ok(!DashboardSessions.keyMatches(l.session, ''));
    assert.ok(!DashboardSessions.keyMatches(l.session, `${l.key}x`));
    assert.ok(!DashboardSessions.keyMatches(l.session, l.id), 'the cookie is not the key');
    assert.ok(!DashboardSessions.keyMatches(l.session, other.key), "another session's key");
    assert.ok(s.isLive(l.session));
    assert.equal(s.end(l.id), l.session);
    assert.equal(s.get(l.id), undefined, 'logged out');
    assert.ok(!s.isLive(l.session));
    assert.equal(s.end(l.id), undefined, 'ended already');
  });

  it('reads the key from a WebSocket protocol entry and never answers with it', () => {
    assert.equal(keyFromProtocols('berth.session, berth.session.abc_-1'), 'abc_-1');
    assert.equal(keyFromProtocols(['berth.session', 'berth.session.k2']), 'k2');
    assert.equal(keyFromProtocols('berth.session'), undefined);
    assert.equal(keyFromProtocols('berth.session.'), undefined);
    assert.equal(keyFromProtocols(undefined), undefined);
    assert.equal(answerProtocol(new Set(['berth.session.secret', 'berth.session'])), 'berth.session');
    assert.equal(answerProtocol(new Set(['berth.session.secret'])), false);
    assert.equal(answerProtocol(new Set(['berth.session.secret', 'chat'])), 'chat');
  });
});
