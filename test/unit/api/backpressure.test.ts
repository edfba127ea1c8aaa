import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { EventExchange } from '../../../runtime/base/events.js';
import { createLogger } from '../../../runtime/base/log.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { MAX_STREAM_BUFFER_BYTES } from '../../../src/api/backpressure.js';
import { ApiServer } from '../../../src/api/server.js';

// Issue 12 item 11: a client that does not read its event stream is cut off after a bounded buffer.

const EVENTS = 2000;
const PAYLOAD = 'x'.repeat(16 * 1024); // 2000 × 16 KiB ≈ 32 MiB: far past any bounded buffer

describe('API event streams under a client that does not read', () => {
  let dir: string;
  let server: ApiServer;
  let socketPath: string;
  let events: EventExchange<RuntimeEvent>;
  const logLines: Array<Record<string, unknown>> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-api-bp-'));
    socketPath = join(dir, 'berth.sock');
    events = new EventExchange<RuntimeEvent>();
    const sink = new PassThrough();
    sink.on('data', (l: Buffer) => {
      for (const line of String(l).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    });
    server = new ApiServer(
      { runtime: {} as Runtime, events },
      createLogger({ level: 'warn', destination: sink }),
      () => ({ endpoints: {} }),
    );
    await server.listen({ socketPath });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Publishes EVENTS big events as fast as the reading client takes them (at
   * most 100 events, 1.6 MiB, ahead of it): the stalled client falls behind
   * by everything, the reading one by never more than that.
   */
  async function flood(received: () => number): Promise<void> {
    for (let i = 0; i < EVENTS; i++) {
      events.publish('container.started', { id: `c${i}`, payload: PAYLOAD } as unknown as RuntimeEvent);
      if (i % 20 === 19) await waitFor(() => i - received() < 100, 10_000);
    }
  }

  let readCount = 0;
  /** A reading client: counts the events it gets (in readCount) until `count` arrived. */
  function reader(count: number): Promise<number> {
    readCount = 0;
    return new Promise((resolve, reject) => {
      const req = request({ socketPath, path: '/v1/events', method: 'GET' }, (res) => {
        let n = 0;
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += String(c);
          const lines = buf.split('\n');
          buf = lines.pop() ?? '';
          n += lines.filter(Boolean).length;
          readCount = n;
          if (n >= count) {
            req.destroy();
            resolve(n);
          }
        });
        res.on('error', reject);
        res.on('end', () => resolve(n));
      });
      req.on('error', (e) => (e.message.includes('aborted') ? undefined : reject(e)));
      req.end();
    });
  }

  it('/v1/events: the stalled client is cut off with a reason; a reading client gets everything', async () => {
    const stalled: Socket = connect({ path: socketPath });
    await new Promise((r) => stalled.once('connect', r));
    stalled.write('GET /v1/events HTTP/1.1\r\nHost: berth\r\n\r\n');
    stalled.pause();
    await waitFor(() => events.subscribers >= 1);
    const good = reader(EVENTS);
    await waitFor(() => events.subscribers >= 2);
    await flood(() => readCount);
    assert.equal(await good, EVENTS);
    // Now read what the agent kept for the stalled client: bounded, then an end with the reason.
    let got = 0;
    let tail = '';
    const ended = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      stalled.on('data', (c: Buffer) => {
        got += c.length;
        tail = (tail + String(c)).slice(-2000);
      });
      stalled.on('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    stalled.resume();
    const endedOk = await ended;
    assert.equal(endedOk, true, 'the agent ends the stalled client');
    stalled.destroy();
    // Bounded by the cap plus what the kernel's socket buffers held, never the whole 32 MiB.
    assert.ok(got < MAX_STREAM_BUFFER_BYTES + 4 * 1024 * 1024, `the stalled client got ${got} bytes`);
    assert.match(
      tail,
      /"error":\{"code":"Unavailable","message":"client too slow: more than \d+ bytes unsent/,
    );
    assert.ok(
      logLines.some((l) => /event stream client cut off/.test(String(l.msg)) && l.route === '/v1/events'),
      'the cut-off is logged',
    );
  });

  it('/v1/ws/events: the stalled WebSocket is closed with a reason; a reading one gets everything', async () => {
    const stalled = new WebSocket(`ws+unix://${socketPath}:/v1/ws/events`);
    await new Promise((r) => stalled.once('open', r));
    stalled.pause();
    const good = new WebSocket(`ws+unix://${socketPath}:/v1/ws/events`);
    let n = 0;
    good.on('message', () => n++);
    await new Promise((r) => good.once('open', r));
    await waitFor(() => events.subscribers >= 2);
    let bytes = 0;
    stalled.on('message', (m: Buffer) => {
      bytes += m.length;
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      stalled.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    await flood(() => n);
    await waitFor(() => n >= EVENTS, 10_000);
    good.close();
    stalled.resume();
    const c = await Promise.race([closed, sleep(5000).then(() => ({ code: 0, reason: 'not closed' }))]);
    assert.equal(c.code, 1008);
    assert.match(c.reason, /client too slow: more than \d+ bytes unsent/);
    assert.ok(bytes < MAX_STREAM_BUFFER_BYTES + 4 * 1024 * 1024, `the stalled WebSocket got ${bytes} bytes`);
    assert.ok(
      logLines.some((l) => /event stream client cut off/.test(String(l.msg)) && l.route === '/v1/ws/events'),
    );
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
}
