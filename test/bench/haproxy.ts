/**
 * Catalog change → HAProxy routing accordingly, over 100 changes (instances
 * added and removed) under light load. The clock starts at the catalog write
 * and stops when the Runtime API's `show servers state` shows the server
 * ready (added) or out of rotation (removed: drain/maint), polled every 2 ms.
 * Reference in the same run: adding new services, which needs a reload.
 */
import { LocalCatalog } from '../../sidecar/discovery/local.js';
import type { ServiceInstance } from '../../sidecar/discovery/types.js';
import { resolveHaproxyOptions } from '../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../sidecar/haproxy/manager.js';
import { cliCommand } from '../../sidecar/haproxy/runtime-api.js';
import { freePort } from '../harness/ports.js';
import { removeDir, tempDir } from '../harness/tmp.js';
import { type Backend, httpGet, startBackend } from '../integration/haproxy/helpers.js';
import { quantile, round } from './_stats.js';

export const description = 'catalog change → HAProxy routing (ms), 100 add/remove changes under light load';

/**
 * True when some slot of `show servers state` routes to addr:port: operational
 * state 2 (running) and no maint/drain flag in the admin state except 0x04
 * (CMAINT: "disabled in the config", which HAProxy keeps as a marker after
 * `state ready`). A freed slot keeps its last address in maint, so several
 * rows may match.
 */
function inRotation(text: string, address: string, port: number): boolean {
  return text.split('\n').some((line) => {
    const f = line.split(' ');
    return f[4] === address && f[18] === String(port) && f[5] === '2' && (Number(f[6]) & ~0x04) === 0;
  });
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const changes = Number(args[0] ?? 100);
  const dir = await tempDir('bench-haproxy');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const catalog = new LocalCatalog({ nodeName: 'bench' });
  const pool: Backend[] = [];
  for (let i = 0; i < 8; i++) pool.push(await startBackend(`web${i + 1}`, `127.0.0.${i + 2}`));
  const inst = (b: Backend, service = 'web', lbPort = port): ServiceInstance => ({
    id: `bench:${service}:${b.name}`,
    service,
    tags: [],
    meta: { 'berth-lb-port': String(lbPort) },
    address: b.address,
    port: b.port,
    node: 'bench',
    health: 'passing',
    containerId: `c-${b.name}`,
  });
  const registered = new Set<Backend>();
  for (const b of pool.slice(0, 4)) {
    await catalog.register(inst(b));
    registered.add(b);
  }
  const options = resolveHaproxyOptions([
    { stateDir: dir, exporterListen: '', bindAddress: '127.0.0.1', slotsPerBackend: 16 },
  ]);
  const manager = new HaproxyManager({ catalog, options });
  const stats = options.statsSocket ?? '';
  let stopLoad = false;
  let requests = 0;
  let failed = 0;
  const loadLoop = async (): Promise<void> => {
    for (let i = 0; i < 1_000_000 && !stopLoad; i++) {
      const r = await httpGet(url, 5000);
      requests++;
      if (r.status !== 200) failed++;
      await new Promise((res) => setTimeout(res, 5));
    }
  };
  const waitFor = async (pred: (text: string) => boolean, backend: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
      if (pred(await cliCommand(stats, `show servers state ${backend}`))) return;
      await new Promise((res) => setTimeout(res, 2));
    }
    const last = await cliCommand(stats, `show servers state ${backend}`);
    throw new Error(
      `haproxy did not route accordingly within 10 s (last failure: ${manager.lastFailure?.message ?? 'none'}):\n${last}`,
    );
  };

  const applyMs: number[] = [];
  const reloadRefMs: number[] = [];
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  try {
    await manager.start();
    const loads = [loadLoop(), loadLoop()];
    for (let i = 0; i < changes; i++) {
      const free = pool.filter((b) => !registered.has(b));
      const add = (i % 2 === 0 && free.length > 0) || registered.size <= 1;
      const t0 = performance.now();
      if (add) {
        const b = free[rand(free.length)];
        if (b === undefined) throw new Error('no free backend');
        await catalog.register(inst(b));
        registered.add(b);
        await waitFor((t) => inRotation(t, b.address, b.port), 'be_web');
      } else {
        const list = [...registered];
        const b = list[rand(list.length)];
        if (b === undefined) throw new Error('no registered backend');
        await catalog.deregister(inst(b).id);
        registered.delete(b);
        await waitFor((t) => !inRotation(t, b.address, b.port), 'be_web');
      }
      applyMs.push(performance.now() - t0);
      // Let drains finish so the next change starts from a settled HAProxy.
      await manager.settled(15_000);
    }
    // Reference: a new service needs a new frontend, i.e. a reload.
    for (let i = 0; i < 5; i++) {
      const b = pool[i];
      if (b === undefined) break;
      const t0 = performance.now();
      await catalog.register(inst(b, `ref${i}`, await freePort()));
      await waitFor((t) => inRotation(t, b.address, b.port), `be_ref${i}`);
      reloadRefMs.push(performance.now() - t0);
      await manager.settled(15_000);
    }
    stopLoad = true;
    await Promise.all(loads);
    const m = manager.metrics.snapshot();
    return {
      changes: applyMs.length,
      apply_ms_p50: round(quantile(applyMs, 0.5)),
      apply_ms_p99: round(quantile(applyMs, 0.99)),
      apply_ms_max: round(Math.max(...applyMs)),
      quiet_period_ms: options.quietPeriodMs,
      reloads: m.reloads,
      runtime_api_applies: m.runtimeApiApplies,
      failed_requests: failed,
      requests,
      reference_new_service_reload_ms_p50: round(quantile(reloadRefMs, 0.5)),
      target_p50_ms: 200,
    };
  } finally {
    stopLoad = true;
    await manager.close();
    await catalog.close();
    for (const b of pool) await b.close();
    await removeDir(dir);
  }
}
