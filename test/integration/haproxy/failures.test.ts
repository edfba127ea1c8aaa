import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../../sidecar/haproxy/manager.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { type Backend, httpGet, lbInstance, startBackend } from './helpers.js';

const SHIPPED_TEMPLATE = new URL('../../../sidecar/haproxy/default.cfg.hbs', import.meta.url);

/**
 * Failures never take the running HAProxy down: a broken template, a config
 * HAProxy rejects (`-c`), a reload HAProxy refuses (a bind it cannot do), and
 * a killed master, which berth restarts with the live config.
 */
describe('haproxy: failures leave the previous config serving', { timeout: 60_000 }, () => {
  let dir: string | undefined;
  let catalog: LocalCatalog | undefined;
  let manager: HaproxyManager | undefined;
  const backends: Backend[] = [];
  let port = 0;
  let url = '';
  let templatePath = '';
  let configPath = '';

  const instance = (b: Backend, meta: Record<string, string> = {}): ServiceInstance =>
    lbInstance(b, port, { meta, containerId: `container-${b.name}` });

  /** Every one of `n` requests answers 200 from one of the `names`. */
  async function assertServing(n = 10): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await httpGet(url);
      assert.equal(r.status, 200, `request ${i} got ${r.status}`);
      seen.add(r.body.trim());
    }
    return seen;
  }

  before(async () => {
    dir = await tempDir('haproxy-fail');
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    templatePath = `${dir}/haproxy.cfg.hbs`;
    await copyFile(SHIPPED_TEMPLATE, templatePath);
    for (let i = 0; i < 3; i++) backends.push(await startBackend(`web${i + 1}`, `127.0.0.${i + 2}`));
    catalog = new LocalCatalog({ nodeName: 'test' });
    const first = backends[0];
    if (first === undefined) throw new Error('no backend');
    await catalog.register(instance(first));
    const options = resolveHaproxyOptions([
      {
        exporterListen: '',
        stateDir: dir,
        bindAddress: '127.0.0.1',
        templatePath,
        quietPeriod: '10ms',
        restartBackoffMin: '50ms',
      },
    ]);
    configPath = options.configPath;
    manager = new HaproxyManager({ catalog, options });
    await manager.start();
  });

  after(async () => {
    await manager?.close();
    await catalog?.close();
    for (const b of backends) await b.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test('a template error leaves HAProxy and the live config as they were', async () => {
    assert.deepEqual([...(await assertServing(4))], ['web1']);
    const live = await readFile(configPath, 'utf8');
    const good = await readFile(templatePath, 'utf8');
    await writeFile(templatePath, `${good}\n{{#each services}}\n{{/if}}\n`);
    const b = backends[1];
    if (b === undefined) throw new Error('no backend');
    await catalog?.register(instance(b));
    await pollUntil(
      'render failure',
      async () => ((manager?.metrics.renderFailures ?? 0) > 0 ? true : undefined),
      5000,
      20,
    );
    assert.equal(manager?.lastFailure?.stage, 'render');
    assert.match(
      manager?.lastFailure?.message ?? '',
      /^haproxy template .*haproxy\.cfg\.hbs: each doesn't match if - \d+:\d+/,
    );
    assert.equal(await readFile(configPath, 'utf8'), live, 'live config unchanged');
    assert.deepEqual([...(await assertServing(6))], ['web1'], 'still routing by the previous config');
    await writeFile(templatePath, good);
  });

  test('a config HAProxy rejects names the line and changes nothing', async () => {
    await manager?.settled();
    const live = await readFile(configPath, 'utf8');
    const good = await readFile(templatePath, 'utf8');
    await writeFile(
      templatePath,
      good.replace('  balance {{balance}}', '  balance {{balance}}\n  frobnicate yes'),
    );
    const before = manager?.metrics.validateFailures ?? 0;
    const b = backends[2];
    if (b === undefined) throw new Error('no backend');
    await catalog?.register(instance(b));
    await pollUntil(
      'validate failure',
      async () => ((manager?.metrics.validateFailures ?? 0) > before ? true : undefined),
      5000,
      20,
    );
    assert.equal(manager?.lastFailure?.stage, 'validate');
    assert.match(
      manager?.lastFailure?.message ?? '',
      /^haproxy rejected the rendered config: line \d+ \(frobnicate yes\): unknown keyword 'frobnicate'/,
    );
    assert.equal(await readFile(configPath, 'utf8'), live, 'live config unchanged');
    assert.equal(
      (await assertServing(6)).size,
      1,
      'the instances registered meanwhile are not routed to yet',
    );
    // The fixed template applies what is pending.
    await writeFile(templatePath, good);
    await catalog?.register({ ...instance(b), tags: ['poke'] });
    await manager?.settled();
    assert.equal(manager?.lastFailure, undefined);
    assert.deepEqual([...(await assertServing(12))].sort(), ['web1', 'web2', 'web3']);
  });

  test('a reload HAProxy refuses (a bind it cannot do) restores the previous config', async () => {
    const live = await readFile(configPath, 'utf8');
    const b = backends[0];
    if (b === undefined) throw new Error('no backend');
    // 192.0.2.1 (TEST-NET-1) is not a local address: `haproxy -c` accepts it, the new worker cannot bind.
    // A label cannot ask for it any more (frontendAllow, and berth tries a new frontend's bind first),
    // so the template binds it, outside any service.
    const good = await readFile(templatePath, 'utf8');
    await writeFile(
      templatePath,
      `${good}\nfrontend extra\n  mode http\n  bind 192.0.2.1:${await freePort()}\n  default_backend be_web\n`,
    );
    const other = { ...instance(b), id: 'test:other:80', service: 'other' };
    other.meta = { 'berth-lb-port': String(await freePort()) };
    const before = manager?.metrics.reloadFailures ?? 0;
    await catalog?.register(other);
    await pollUntil(
      'reload failure',
      async () => ((manager?.metrics.reloadFailures ?? 0) > before ? true : undefined),
      15_000,
      50,
    );
    assert.equal(manager?.lastFailure?.stage, 'reload');
    assert.equal(await readFile(configPath, 'utf8'), live, 'live config restored from the backup');
    assert.deepEqual([...(await assertServing(9))].sort(), ['web1', 'web2', 'web3']);
    await writeFile(templatePath, good);
    await catalog?.deregister('test:other:80');
    await manager?.settled();
  });

  test('HAProxy killed (SIGKILL to the master): berth restarts it with the current config', async () => {
    const pid = manager?.haproxyPid;
    assert.ok(pid !== undefined);
    const live = await readFile(configPath, 'utf8');
    process.kill(pid, 'SIGKILL');
    const fresh = await pollUntil(
      'haproxy restarted',
      async () => {
        const p = manager?.haproxyPid;
        return p !== undefined && p !== pid ? p : undefined;
      },
      10_000,
      50,
    );
    assert.notEqual(fresh, pid);
    assert.equal(manager?.metrics.restarts, 1);
    await pollUntil(
      'serving again',
      async () => ((await httpGet(url)).status === 200 ? true : undefined),
      10_000,
      50,
    );
    assert.deepEqual([...(await assertServing(9))].sort(), ['web1', 'web2', 'web3']);
    assert.equal(await readFile(configPath, 'utf8'), live);
    // Changes keep applying to the new HAProxy.
    const b = backends[2];
    if (b === undefined) throw new Error('no backend');
    await catalog?.deregister(`test:${b.name}:80`);
    await manager?.settled();
    assert.deepEqual([...(await assertServing(8))].sort(), ['web1', 'web2']);
  });
});
