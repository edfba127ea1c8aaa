import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { SessionSockets } from '../../../src/api/session-sockets.js';

/** A socket that records destroy() and then closes, as a net.Socket does. */
function fakeSocket(): Socket & { destroyed: boolean } {
  const s = new EventEmitter() as EventEmitter & { destroyed: boolean; destroy(): void };
  s.destroyed = false;
  s.destroy = () => {
    s.destroyed = true;
    s.emit('close');
  };
  return s as unknown as Socket & { destroyed: boolean };
}

describe('session sockets', () => {
  it("closes a session's connections when it ends, and only its own", () => {
    const live = new Set(['a', 'b'].map((name) => ({ name })));
    const [a, b] = [...live];
    assert.ok(a && b);
    const sockets = new SessionSockets<{ name: string }>((s) => live.has(s));
    const a1 = fakeSocket();
    const a2 = fakeSocket();
    const b1 = fakeSocket();
    sockets.add(a, a1);
    sockets.add(a, a2);
    sockets.add(b, b1);
    assert.equal(sockets.count(), 3);
    sockets.close(a);
    assert.ok(a1.destroyed && a2.destroyed);
    assert.ok(!b1.destroyed);
    assert.equal(sockets.count(), 1);
  });

  it('the sweep closes those of sessions no longer live; a closed connection is forgotten', () => {
    const a = { name: 'a' };
    const b = { name: 'b' };
    const live = new Set([a, b]);
    const sockets = new SessionSockets<{ name: string }>((s) => live.has(s));
    const a1 = fakeSocket();
    const b1 = fakeSocket();
    const b2 = fakeSocket();
    sockets.add(a, a1);
    sockets.add(b, b1);
    sockets.add(b, b2);
    b2.emit('close');
    assert.equal(sockets.count(), 2, 'a connection that closed by itself is forgotten');
    assert.equal(sockets.sweep(), 0);
    live.delete(a);
    assert.equal(sockets.sweep(), 1);
    assert.ok(a1.destroyed);
    assert.ok(!b1.destroyed);
    assert.equal(sockets.count(), 1);
    sockets.start();
    sockets.stop();
  });
});
