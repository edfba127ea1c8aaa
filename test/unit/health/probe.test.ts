import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { probeNetwork } from '../../../runtime/health/probe.js';
import { HEALTH_OUTPUT_MAX } from '../../../runtime/health/types.js';

describe('http probe', () => {
  let server: Server | undefined;
  let port = 0;
  /** Bytes the endless endpoint wrote before its client went away, per request. */
  const written: number[] = [];

  before(async () => {
    const chunk = Buffer.alloc(64 << 10, 'x');
    server = createServer((req, res) => {
      if (req.url === '/small') return res.end('fine');
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const pump = (): void => {
        // Bounded: 256 MiB at most, far more than a probe may read.
        while (n < 256 << 20 && res.write(chunk)) n += chunk.length;
        if (n < 256 << 20) res.once('drain', pump);
        else res.end();
      };
      res.once('close', () => written.push(n));
      pump();
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it(`reads at most ${HEALTH_OUTPUT_MAX} bytes of the body and closes the connection`, async () => {
    const r = await probeNetwork(
      { kind: 'http', url: `http://localhost:${port}/endless`, host: '127.0.0.1' },
      AbortSignal.timeout(10_000),
    );
    assert.equal(r.ok, true);
    assert.equal(r.output, `HTTP 200 ${'x'.repeat(HEALTH_OUTPUT_MAX)}`);
    // The server sees the client go away long before it sent everything.
    for (let i = 0; i < 100 && written.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(written.length, 1);
    assert.ok((written[0] ?? 0) < 64 << 20, `the server wrote ${written[0]} bytes before the probe closed`);
  });

  it('a short body is reported whole', async () => {
    const r = await probeNetwork(
      { kind: 'http', url: `http://localhost:${port}/small`, host: '127.0.0.1' },
      AbortSignal.timeout(10_000),
    );
    assert.deepEqual(r, { ok: true, output: 'HTTP 200 fine' });
  });
});
