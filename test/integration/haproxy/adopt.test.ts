import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { type HaproxyOptions, resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../../sidecar/haproxy/manager.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { type Backend, httpGet, lbInstance, startBackend } from './helpers.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Agent restart: `close({keepHaproxy})` leaves HAProxy serving, the next start on the same state dir adopts it. */
describe('haproxy: adoption across an agent restart', { timeout: 60_000 }, () => {
  let dir: string | undefined;
  let catalog: LocalCatalog | undefined;
  let first: HaproxyManager | undefined;
  let second: HaproxyManager | undefined;
  let options: HaproxyOptions | undefined;
  let haproxyPid: number | undefined;
  const backends: Backend[] = [];
  let port = 0;

  const instance = (b: Backend): ServiceInstance => lbInstance(b, port);

  before(async () => {
    dir = await tempDir('haproxy-adopt');
    port = await freePort();
    for (let i = 0; i < 2; i++) backends.push(await startBackend(`web${i + 1}`, `127.0.0.${i + 2}`));
    catalog = new LocalCatalog({ nodeName: 'test' });
    const b = backends[0];
    if (b === undefined) throw new Error('no backend');
    await catalog.register(instance(b));
    options = resolveHaproxyOptions([
      { stateDir: dir, exporterListen: '', bindAddress: '127.0.0.1', quietPeriod: '10ms' },
    ]);
    first = new HaproxyManager({ catalog, options });
    await first.start();
    haproxyPid = first.haproxyPid;
  });

  after(async () => {
    await first?.close();
    await second?.close();
    // Safety net for a failed assertion: the HAProxy this test started, by PID.
    if (haproxyPid !== undefined && alive(haproxyPid)) process.kill(haproxyPid, 'SIGKILL');
    await catalog?.close();
    for (const b of backends) await b.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test('close({keepHaproxy}) leaves it serving; a new manager adopts the same master', async () => {
    await first?.close({ keepHaproxy: true });
    first = undefined;
    assert.ok(haproxyPid !== undefined && alive(haproxyPid));
    assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).body.trim(), 'web1');
    if (catalog === undefined || options === undefined) throw new Error('setup failed');
    second = new HaproxyManager({ catalog, options });
    await second.start();
    assert.equal(second.haproxyPid, haproxyPid, 'no second HAProxy was started');
    const b = backends[1];
    if (b === undefined) throw new Error('no backend');
    await catalog.register(instance(b));
    await second.settled();
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await httpGet(`http://127.0.0.1:${port}/`)).body.trim());
    assert.deepEqual([...seen].sort(), ['web1', 'web2']);
  });

  test('close() of the adopting manager stops the adopted HAProxy', async () => {
    await second?.close();
    second = undefined;
    const pid = haproxyPid ?? 0;
    await pollUntil('haproxy gone', async () => (alive(pid) ? undefined : true), 5000, 50);
  });
});
