import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../../sidecar/haproxy/manager.js';
import { cliCommand } from '../../../sidecar/haproxy/runtime-api.js';
import { freePort } from '../../harness/ports.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { type Backend, httpGet, runWrk, socketErrorCount, startBackend, type WrkResult } from './helpers.js';

/**
 * Scale one service 1→5→1→0→3 while wrk drives load through the HAProxy
 * berth manages. Errors are counted in every phase with at least one
 * instance, transitions included (1→5 is a reload: 4 slots per backend;
 * 5→1 drains); the 1→0 phase expects 503s (no server) and only reports.
 */
describe('haproxy: scaling under load', { timeout: 120_000 }, () => {
  let dir: string | undefined;
  let catalog: LocalCatalog | undefined;
  let manager: HaproxyManager | undefined;
  const backends = new Map<string, Backend>();
  let url = '';
  const results: Record<string, WrkResult> = {};

  const instance = (b: Backend): ServiceInstance => ({
    id: `test:${b.name}:80`,
    service: 'web',
    tags: [],
    meta: { 'berth-lb-port': String(frontendPort), 'berth-lb-balance': 'roundrobin' },
    address: b.address,
    port: b.port,
    node: 'test',
    health: 'passing',
    containerId: `container-${b.name}`,
  });
  let frontendPort = 0;

  async function scaleTo(n: number): Promise<void> {
    const cat = catalog;
    if (cat === undefined) throw new Error('no catalog');
    const names = [...backends.keys()].sort();
    for (let i = 0; i < n; i++) {
      const name = `web${i + 1}`;
      if (backends.has(name)) continue;
      const b = await startBackend(name, `127.0.0.${i + 2}`);
      backends.set(name, b);
      await cat.register(instance(b));
    }
    const gone = names.filter((name) => Number(name.slice(3)) > n);
    for (const name of gone) await cat.deregister(`test:${name}:80`);
    // Stop the instances only once HAProxy has drained them, as the runtime does with preStop.
    await manager?.settled(15_000);
    for (const name of gone) {
      await backends.get(name)?.close();
      backends.delete(name);
    }
  }

  before(async () => {
    dir = await tempDir('haproxy-scale');
    frontendPort = await freePort();
    url = `http://127.0.0.1:${frontendPort}/`;
    catalog = new LocalCatalog({ nodeName: 'test' });
    const b = await startBackend('web1', '127.0.0.2');
    backends.set('web1', b);
    await catalog.register(instance(b));
    manager = new HaproxyManager({
      catalog,
      options: resolveHaproxyOptions([
        {
          exporterListen: '',
          stateDir: dir,
          bindAddress: '127.0.0.1',
          slotsPerBackend: 4,
          quietPeriod: '20ms',
          drainTimeout: '5s',
        },
      ]),
    });
    await manager.start();
  });

  after(async () => {
    await manager?.close();
    await catalog?.close();
    for (const b of backends.values()) await b.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test('1 → 5 (a reload: slots exhausted) with Connection: close: no error', async (t) => {
    assert.equal((await httpGet(url)).status, 200);
    const load = runWrk(url, { seconds: 3, close: true });
    await sleep(1000);
    await scaleTo(5);
    const r = await load;
    results.up = r;
    t.diagnostic(
      `1→5: ${r.requests} requests, ${r.requestsPerSec}/s, non-2xx ${r.non2xx}, socket errors ${socketErrorCount(r)}`,
    );
    assert.ok(r.requests > 100, r.raw);
    assert.equal(r.non2xx, 0, r.raw);
    assert.equal(socketErrorCount(r), 0, r.raw);
    assert.equal(manager?.metrics.reloads, 1);
    const hits = [...backends.values()].map((b) => b.hits);
    assert.ok(
      hits.every((h) => h > 0),
      `every instance got traffic: ${hits}`,
    );
  });

  test('steady 5 and 5 → 1 (drain, then stop): no error', async (t) => {
    const load = runWrk(url, { seconds: 3, close: true });
    await sleep(1000);
    const reloads = manager?.metrics.reloads;
    await scaleTo(1);
    const r = await load;
    results.down = r;
    t.diagnostic(
      `5→1: ${r.requests} requests, ${r.requestsPerSec}/s, non-2xx ${r.non2xx}, socket errors ${socketErrorCount(r)}`,
    );
    assert.equal(r.non2xx, 0, r.raw);
    assert.equal(socketErrorCount(r), 0, r.raw);
    assert.equal(manager?.metrics.reloads, reloads, 'scaling down is done through the Runtime API');
    assert.ok((manager?.metrics.drainsCompleted ?? 0) >= 4);
  });

  // Not an error-free phase by design: once no instance is left, HAProxy answers 503
  // (the transition's socket errors are reported, not asserted).
  test('1 → 0: HAProxy answers 503', async (t) => {
    const load = runWrk(url, { seconds: 2, close: true });
    await sleep(700);
    await scaleTo(0);
    const r = await load;
    t.diagnostic(`1→0: ${r.requests} requests, non-2xx ${r.non2xx}, socket errors ${socketErrorCount(r)}`);
    assert.ok(r.non2xx > 0, 'requests after the last instance left get 503');
    assert.equal((await httpGet(url)).status, 503);
  });

  test('0 → 3 without a reload (the frontend was kept), then load: no error', async (t) => {
    const reloads = manager?.metrics.reloads;
    await scaleTo(3);
    assert.equal(manager?.metrics.reloads, reloads);
    const r = await runWrk(url, { seconds: 3, close: true });
    t.diagnostic(`3: ${r.requests} requests, ${r.requestsPerSec}/s, non-2xx ${r.non2xx}`);
    assert.equal(r.non2xx, 0, r.raw);
    assert.equal(socketErrorCount(r), 0, r.raw);
  });

  test('keep-alive: 3 → 4 → 3 under load, numbers reported', async (t) => {
    const load = runWrk(url, { seconds: 3, close: false });
    await sleep(800);
    await scaleTo(4);
    await sleep(800);
    await scaleTo(3);
    const r = await load;
    t.diagnostic(
      `keep-alive 3→4→3: ${r.requests} requests, ${r.requestsPerSec}/s, non-2xx ${r.non2xx}, socket errors ${socketErrorCount(r)}`,
    );
    assert.equal(r.non2xx, 0, r.raw);
    assert.equal(socketErrorCount(r), 0, r.raw);
    const m = manager?.metrics.snapshot();
    t.diagnostic(`metrics: ${JSON.stringify(m)}`);
    assert.equal(m?.backends, 1);
    assert.equal(m?.servers.ready, 3);
  });

  test('what berth believes matches what HAProxy reports', async () => {
    const stats = statsSocket(dir ?? '');
    const state = await cliCommand(stats, 'show servers state be_web');
    const rows = state
      .split('\n')
      .filter((l) => /^\d+ be_web /.test(l))
      .map((l) => l.split(' '));
    // Admin state 0x04 (CMAINT) marks a slot that was `disabled` in the config; after `state ready` it serves anyway.
    const ready = rows
      .filter((f) => f[5] === '2' && (Number(f[6]) & ~0x04) === 0)
      .map((f) => `${f[4]}:${f[18]}`);
    const believed = [...(manager?.slots().get('web')?.slots ?? [])]
      .filter((s) => s.state === 'ready')
      .map((s) => `${s.address}:${s.port}`);
    assert.deepEqual(ready.sort(), believed.sort());
  });
});

const statsSocket = (stateDir: string): string => `${stateDir}/stats.sock`;
