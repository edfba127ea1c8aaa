import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../../sidecar/haproxy/manager.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { type Backend, httpGet, startBackend } from './helpers.js';

/** preStop: the container's server drains and berth waits (bounded) for its sessions to end. */
describe('haproxy: drain on stop', { timeout: 60_000 }, () => {
  let dir: string | undefined;
  let catalog: LocalCatalog | undefined;
  let manager: HaproxyManager | undefined;
  const backends: Backend[] = [];
  let url = '';

  before(async () => {
    dir = await tempDir('haproxy-prestop');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    catalog = new LocalCatalog({ nodeName: 'test' });
    for (let i = 0; i < 2; i++) {
      const b = await startBackend(`web${i + 1}`, `127.0.0.${i + 2}`, { delayMs: 1200 });
      backends.push(b);
      const inst: ServiceInstance = {
        id: `test:${b.name}:80`,
        service: 'web',
        tags: [],
        // leastconn: the slow request pins one server, so the next one goes to the other.
        meta: { 'berth-lb-port': String(port), 'berth-lb-balance': 'leastconn' },
        address: b.address,
        port: b.port,
        node: 'test',
        health: 'passing',
        containerId: `container-${b.name}`,
      };
      await catalog.register(inst);
    }
    manager = new HaproxyManager({
      catalog,
      options: resolveHaproxyOptions([
        { stateDir: dir, exporterListen: '', bindAddress: '127.0.0.1', quietPeriod: '10ms' },
      ]),
    });
    await manager.start();
  });

  after(async () => {
    await manager?.close();
    await catalog?.close();
    for (const b of backends) await b.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test('preStop drains the container and returns once its in-flight request finished', async () => {
    const slow = httpGet(`${url}/slow`, 5000);
    // The slow request has reached a backend.
    const busy = await pollUntil(
      'the slow request at a backend',
      async () => backends.find((b) => b.hits === 1),
      5000,
      20,
    ).catch(() => undefined);
    assert.ok(busy !== undefined, 'one backend is serving the slow request');
    const t0 = Date.now();
    const stopping = manager?.preStop({ id: `container-${busy.name}` }, { timeoutMs: 5000 });
    // While it drains, new requests go to the other instance only.
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 6; i++) {
      const r = await httpGet(`${url}/`);
      assert.equal(r.status, 200);
      assert.notEqual(r.body.trim(), busy.name);
    }
    const result = await stopping;
    const waited = Date.now() - t0;
    assert.deepEqual(result, {
      servers: [`be_web/s${backends.indexOf(busy) + 1}`],
      drained: true,
      sessions: 0,
    });
    assert.ok(waited >= 700 && waited < 3000, `waited ${waited} ms for the in-flight request`);
    const done = await slow;
    assert.equal(done.status, 200);
    assert.equal(done.body.trim(), busy.name, 'the in-flight request completed on the draining server');
  });

  test('the wait is bounded: a session outliving the timeout is reported', async () => {
    const other = backends.find((b) =>
      manager
        ?.slots()
        .get('web')
        ?.slots.some((s) => s.containerId === `container-${b.name}` && s.state === 'ready'),
    );
    assert.ok(other !== undefined);
    const hitsBefore = other.hits;
    const slow = httpGet(`${url}/slow`, 5000);
    // The slow request has reached the one ready backend.
    await pollUntil(
      'the slow request at the ready backend',
      async () => (other.hits > hitsBefore ? true : undefined),
      5000,
      20,
    );
    const result = await manager?.preStop({ id: `container-${other.name}` }, { timeoutMs: 300 });
    assert.equal(result?.drained, false);
    assert.equal(result?.sessions, 1);
    assert.equal((await slow).status, 200);
  });

  test('a container in no backend returns at once', async () => {
    assert.deepEqual(await manager?.preStop({ id: 'not-balanced' }), {
      servers: [],
      drained: true,
      sessions: 0,
    });
  });
});
