/**
 * Issue 12, item 10, against the real HAProxy: one service with a bad LB
 * label (an unmatched quote, a port another process holds, a port or
 * address outside the frontend allow-list) is left out and reported; it
 * must not make `haproxy -c` or the reload fail for everyone, and the good
 * services keep picking up changes while it is there.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import { resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../../sidecar/haproxy/manager.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { type Backend, httpGet, lbInstance, startBackend } from './helpers.js';

describe('haproxy: a bad service does not freeze the others', { timeout: 90_000 }, () => {
  let dir: string | undefined;
  let catalog: LocalCatalog | undefined;
  let manager: HaproxyManager | undefined;
  let blocker: Server | undefined;
  const backends: Backend[] = [];
  let webPort = 0;
  let web2Port = 0;
  let busyPort = 0;

  /** The names answering on `port` over `n` requests (every one must be a 200). */
  async function names(port: number, n = 8): Promise<string[]> {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await httpGet(`http://127.0.0.1:${port}/`);
      if (r.status !== 200) throw new Error(`request ${i} to :${port} got ${r.status}`);
      seen.add(r.body.trim());
    }
    return [...seen].sort();
  }

  before(async () => {
    dir = await tempDir('haproxy-badsvc');
    [webPort, web2Port, busyPort] = [await freePort(), await freePort(), await freePort()];
    // Another process holds busyPort.
    blocker = createServer();
    blocker.listen(busyPort, '127.0.0.1');
    await once(blocker, 'listening');
    for (let i = 0; i < 3; i++) backends.push(await startBackend(`web${i + 1}`, `127.0.0.${i + 2}`));
    catalog = new LocalCatalog({ nodeName: 'test' });
    const [b1] = backends;
    if (b1 === undefined) throw new Error('no backend');
    await catalog.register(lbInstance(b1, webPort));
    manager = new HaproxyManager({
      catalog,
      // Default frontend allow-list: unprivileged ports on loopback and the bridge gateway.
      options: resolveHaproxyOptions([{ stateDir: dir, exporterListen: '', quietPeriod: '10ms' }]),
    });
    await manager.start();
  });

  after(async () => {
    await manager?.close();
    await catalog?.close();
    for (const b of backends) await b.close();
    blocker?.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test('bad services are left out and reported; good ones keep routing and pick up changes', async () => {
    const [b1, b2, b3] = backends;
    if (b1 === undefined || b2 === undefined || b3 === undefined || catalog === undefined || !manager) {
      throw new Error('setup failed');
    }
    assert.deepEqual(await names(webPort), ['web1']);
    const bad = async (id: string, meta: Record<string, string>) => {
      const lbPort = meta['berth-lb-port'] ?? String(await freePort());
      await catalog?.register(
        lbInstance(b3, Number(lbPort), {
          id: `test:${id}:80`,
          service: id,
          meta: { ...meta, 'berth-lb-port': lbPort },
        }),
      );
    };
    await bad('quote', { 'berth-lb-check': "/x'" }); // an unmatched quote
    await bad('busy', { 'berth-lb-port': String(busyPort) }); // a port another process holds
    await bad('priv', { 'berth-lb-port': '81' }); // a privileged port, not in the allow-list
    await bad('wide', { 'berth-lb-bind': '0.0.0.0' }); // an address not in the allow-list
    // Changes to the good services while the bad ones are there: a new service (a reload) and a new instance.
    await catalog.register(lbInstance(b2, web2Port, { id: 'test:svc-web2:80', service: 'web2' }));
    await catalog.register(lbInstance(b2, webPort));
    await manager.settled();
    assert.deepEqual(
      await pollUntil(
        'web2 routed',
        async () => ((await names(web2Port, 2)).length > 0 ? true : undefined),
        5000,
        100,
      ).then(() => names(web2Port, 2)),
      ['web2'],
    );
    assert.deepEqual(await names(webPort), ['web1', 'web2'], 'web did not pick up its new instance');
    const m = manager.metrics.snapshot();
    assert.equal(m.serviceProblems, 3, `busy, priv and wide are not all counted: ${JSON.stringify(m)}`);
    assert.equal(m.labelProblems, 1, `the quote label is not counted: ${JSON.stringify(m)}`);
    assert.deepEqual([...manager.slots().keys()].sort(), ['web', 'web2']);
    // And another change while the bad ones stay.
    await catalog.deregister(`test:${b1.name}:80`);
    await manager.settled();
    assert.deepEqual(await names(webPort), ['web2']);
    assert.equal(manager.lastFailure, undefined, `an apply failed: ${JSON.stringify(manager.lastFailure)}`);
  });
});

describe('haproxy: a service HAProxy itself refuses is left out', { timeout: 60_000 }, () => {
  let dir: string | undefined;
  let catalog: LocalCatalog | undefined;
  let manager: HaproxyManager | undefined;
  const backends: Backend[] = [];

  before(async () => {
    dir = await tempDir('haproxy-refused');
    // The shipped template, plus a keyword HAProxy does not know in the frontend of service "odd" only.
    const shipped = await readFile(
      new URL('../../../sidecar/haproxy/default.cfg.hbs', import.meta.url),
      'utf8',
    );
    const templatePath = `${dir}/t.hbs`;
    await writeFile(
      templatePath,
      shipped.replace(
        '  default_backend',
        '{{#if (eq name "odd")}}  frobnicate yes\n{{/if}}  default_backend',
      ),
    );
    for (let i = 0; i < 2; i++) backends.push(await startBackend(`r${i + 1}`, `127.0.0.${i + 5}`));
    catalog = new LocalCatalog({ nodeName: 'test' });
    const [b1] = backends;
    if (b1 === undefined) throw new Error('no backend');
    await catalog.register(lbInstance(b1, await freePort(), { id: 'test:odd:80', service: 'odd' }));
    manager = new HaproxyManager({
      catalog,
      options: resolveHaproxyOptions([
        { stateDir: dir, exporterListen: '', quietPeriod: '10ms', templatePath },
      ]),
    });
    // The refused service is there from the start: start() must not fail for it.
    await manager.start();
  });

  after(async () => {
    await manager?.close();
    await catalog?.close();
    for (const b of backends) await b.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test("haproxy -c refusing one service's section leaves that service out; a new one is served", async () => {
    const [, b2] = backends;
    if (b2 === undefined || catalog === undefined || manager === undefined) throw new Error('setup failed');
    assert.deepEqual([...manager.slots().keys()], [], 'odd was not left out at start');
    const port = await freePort();
    await catalog.register(lbInstance(b2, port, { id: 'test:good:80', service: 'good' }));
    await manager.settled();
    const r = await httpGet(`http://127.0.0.1:${port}/`);
    assert.equal(r.status, 200, `good got ${r.status}; lastFailure ${JSON.stringify(manager.lastFailure)}`);
    assert.equal(r.body.trim(), 'r2');
    assert.deepEqual([...manager.slots().keys()], ['good']);
    assert.equal(manager.metrics.serviceProblems, 1, JSON.stringify(manager.metrics.snapshot()));
  });
});
