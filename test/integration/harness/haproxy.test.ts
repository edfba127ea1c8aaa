import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type HaproxyHandle, startHaproxy } from '../../harness/haproxy.js';

describe('harness: haproxy', () => {
  const body = `hello from node ${randomBytes(4).toString('hex')}`;
  let server: Server;
  let backendPort = 0;
  let haproxy: HaproxyHandle | undefined;

  before(async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    backendPort = (server.address() as AddressInfo).port;
    haproxy = await startHaproxy({ frontends: [{ name: 'web', servers: [`127.0.0.1:${backendPort}`] }] });
  });

  after(async () => {
    await haproxy?.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('proxies a request to the node server through the generated frontend', async () => {
    const port = haproxy?.frontendPorts.web;
    assert.ok(port !== undefined, 'frontend port for "web"');
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), body);
  });

  it('answers Runtime API commands on the stats socket with the configured server', async () => {
    assert.ok(haproxy);
    const state = await haproxy.runtimeCommand('show servers state be_web');
    assert.match(state, /be_web\s+\d+\s+s0\s+127\.0\.0\.1\s/);
    assert.match(state, new RegExp(`\\s${backendPort}\\s`));
    const stat = await haproxy.runtimeCommand('show stat');
    assert.match(stat, /^be_web,s0,/m);
  });

  it('reloads seamlessly through the master CLI and keeps serving', async () => {
    assert.ok(haproxy);
    const before = await haproxy.workerPids();
    await haproxy.reload();
    const afterPids = await haproxy.workerPids();
    assert.ok(
      afterPids.some((p) => !before.includes(p)),
      `a new worker (before ${before}, after ${afterPids})`,
    );
    const res = await fetch(`http://127.0.0.1:${haproxy.frontendPorts.web}/`);
    assert.equal(await res.text(), body);
  });

  it('reports a reload with a broken config as failed while the old worker keeps serving', async () => {
    assert.ok(haproxy);
    const good = await readFile(haproxy.configPath, 'utf8');
    await writeFile(haproxy.configPath, `${good}\nbackend broken\n  server s0 not-an-address:::\n`);
    try {
      await assert.rejects(haproxy.reload(), /reload failed/);
      const res = await fetch(`http://127.0.0.1:${haproxy.frontendPorts.web}/`);
      assert.equal(await res.text(), body);
    } finally {
      await writeFile(haproxy.configPath, good);
    }
    await haproxy.reload();
    const res = await fetch(`http://127.0.0.1:${haproxy.frontendPorts.web}/`);
    assert.equal(await res.text(), body);
  });
});
