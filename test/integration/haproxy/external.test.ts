import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../../sidecar/haproxy/manager.js';
import { type HaproxyHandle, startHaproxy } from '../../harness/haproxy.js';
import { freePort } from '../../harness/ports.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { type Backend, httpGet, lbInstance, startBackend } from './helpers.js';

/** External mode: berth drives a HAProxy it did not start, through its master socket and config path only. */
describe('haproxy: driving an existing HAProxy', { timeout: 60_000 }, () => {
  let haproxy: HaproxyHandle | undefined;
  let dir: string | undefined;
  let catalog: LocalCatalog | undefined;
  let manager: HaproxyManager | undefined;
  const backends: Backend[] = [];
  let port = 0;

  const instance = (b: Backend): ServiceInstance => lbInstance(b, port, { service: 'api' });

  before(async () => {
    haproxy = await startHaproxy(
      'defaults\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n',
    );
    dir = await tempDir('haproxy-external');
    port = await freePort();
    for (let i = 0; i < 2; i++) backends.push(await startBackend(`api${i + 1}`, `127.0.0.${i + 2}`));
    catalog = new LocalCatalog({ nodeName: 'test' });
    const first = backends[0];
    if (first === undefined) throw new Error('no backend');
    await catalog.register(instance(first));
    manager = new HaproxyManager({
      catalog,
      options: resolveHaproxyOptions([
        {
          exporterListen: '',
          mode: 'external',
          stateDir: dir,
          configPath: haproxy.configPath,
          masterSocket: haproxy.masterSocket,
          bindAddress: '127.0.0.1',
          quietPeriod: '10ms',
        },
      ]),
    });
    await manager.start();
  });

  after(async () => {
    await manager?.close();
    await catalog?.close();
    await haproxy?.stop();
    for (const b of backends) await b.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test('start renders into the given config and reloads the running HAProxy', async () => {
    assert.match(await readFile(haproxy?.configPath ?? '', 'utf8'), /frontend 'fe_api'/);
    assert.equal(manager?.metrics.reloads, 0, 'the start-up reload is not a catalog apply');
    const r = await httpGet(`http://127.0.0.1:${port}/`);
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'api1');
  });

  test('server changes go through the master CLI (@1) without a reload', async () => {
    const workers = await haproxy?.workerPids();
    const b = backends[1];
    if (b === undefined) throw new Error('no backend');
    await catalog?.register(instance(b));
    await manager?.settled();
    assert.equal(manager?.metrics.runtimeApiApplies, 1);
    assert.deepEqual(await haproxy?.workerPids(), workers, 'same worker: no reload');
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await httpGet(`http://127.0.0.1:${port}/`)).body.trim());
    assert.deepEqual([...seen].sort(), ['api1', 'api2']);
  });

  test('close leaves the external HAProxy running', async () => {
    await manager?.close();
    manager = undefined;
    assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).status, 200);
  });
});
