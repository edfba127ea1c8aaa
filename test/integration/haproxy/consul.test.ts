import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConsulCatalog } from '../../../sidecar/discovery/consul.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../../sidecar/haproxy/manager.js';
import { type ConsulHandle, startConsul } from '../../harness/consul.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { type Backend, httpGet, lbInstance, startBackend } from './helpers.js';

/**
 * With Consul as the catalog the LB config travels in service meta
 * (`berth-lb-*`), so any host's berth balances every host's instances.
 */
describe('haproxy: Consul as the catalog', { timeout: 90_000 }, () => {
  let consul: ConsulHandle | undefined;
  let catalog: ConsulCatalog | undefined;
  let manager: HaproxyManager | undefined;
  let dir: string | undefined;
  const backends: Backend[] = [];
  let port = 0;

  const instance = (b: Backend, health: ServiceInstance['health'] = 'passing'): ServiceInstance =>
    lbInstance(b, port, {
      id: `lb-${b.name}`,
      node: consul?.nodeName ?? '',
      health,
      containerId: `container-${b.name}`,
    });

  const seen = async (n: number): Promise<string[]> => {
    const out = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await httpGet(`http://127.0.0.1:${port}/`);
      out.add(r.status === 200 ? r.body.trim() : String(r.status));
    }
    return [...out].sort();
  };

  before(async () => {
    consul = await startConsul();
    dir = await tempDir('haproxy-consul');
    port = await freePort();
    for (let i = 0; i < 2; i++) backends.push(await startBackend(`web${i + 1}`, `127.0.0.${i + 2}`));
    catalog = new ConsulCatalog({
      host: '127.0.0.1',
      port: consul.httpPort,
      nodeName: consul.nodeName,
      wait: '5s',
      requestTimeoutMs: 1500,
    });
    manager = new HaproxyManager({
      catalog,
      options: resolveHaproxyOptions([
        { stateDir: dir, exporterListen: '', bindAddress: '127.0.0.1', quietPeriod: '20ms' },
      ]),
    });
    await manager.start();
  });

  after(async () => {
    await manager?.close();
    await catalog?.close();
    await consul?.stop();
    for (const b of backends) await b.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test('instances registered in Consul with berth-lb-* meta get a frontend and are balanced', async () => {
    for (const b of backends) await catalog?.register(instance(b));
    await pollUntil(
      'both instances routed',
      async () => ((await seen(4)).join() === 'web1,web2' ? true : undefined),
      15_000,
      100,
    );
  });

  test('a critical instance leaves the backend', async () => {
    const b = backends[1];
    if (b === undefined) throw new Error('no backend');
    await catalog?.setHealth(instance(b).id, 'critical');
    await pollUntil(
      'only web1 routed',
      async () => ((await seen(6)).join() === 'web1' ? true : undefined),
      15_000,
      100,
    );
    assert.equal(
      manager?.metrics.reloads,
      1,
      'one reload: the new frontend; health changes go through the Runtime API',
    );
  });
});
