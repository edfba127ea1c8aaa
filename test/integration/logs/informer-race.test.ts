/**
 * The list-then-subscribe race (issue 13): a log pipeline that starts while
 * containers are being started must ship every one of them. Before the
 * informer, LogPipeline listed, worked through the list, and only then
 * subscribed: a container started in between was never shipped.
 *
 * The real runtime in this process (runc, conmon), a real Forward receiver,
 * the real pipeline. The runtime's list is slowed by 400 ms, the time a list
 * and the sidecar's work on it take on a busy agent, so the window is certain
 * instead of a matter of luck; containers start in a tight loop across it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerSource } from '../../../runtime/types.js';
import { parseLogShippingConfig } from '../../../sidecar/logs/config.js';
import { createLogShipping, type LogShipping } from '../../../sidecar/logs/index.js';
import { type InProcessRuntime, startRuntimeInProcess } from '../../harness/runtime.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';

describe('a log pipeline starting while containers start', () => {
  let rt: InProcessRuntime | undefined;
  let receiver: ForwardReceiver | undefined;
  let shipping: LogShipping | undefined;
  let dir = '';
  before(async () => {
    rt = await startRuntimeInProcess();
    receiver = await ForwardReceiver.start();
    dir = await tempDir('berth-race-');
  });
  after(async () => {
    await shipping?.stop();
    await rt?.close();
    await receiver?.stop();
    await removeDir(dir);
  });

  it('ships the output of every container, also those started between its list and its subscription', async () => {
    assert.ok(rt && receiver);
    const manager = rt.manager;
    const runOne = async (name: string) => {
      const c = await manager.create({
        image: rt?.image,
        name,
        cmd: ['sh', '-c', `echo hello-from-${name}; sleep 600`],
        network: 'none',
      });
      await manager.start(c.id);
    };
    const tag = `r${process.pid}`;
    await runOne(`${tag}-before`);
    // The sidecar's view of the runtime: the same source, its list 400 ms slow.
    const slowList: ContainerSource = {
      list: async (o) => {
        const l = await manager.list(o);
        await sleep(400);
        return l;
      },
      get: (id) => manager.get(id),
      events: (o) => manager.events(o),
    };
    const config = parseLogShippingConfig([{ servers: [`127.0.0.1:${receiver.port}`] }]);
    shipping = await createLogShipping({ config, source: slowList, stateDir: dir });
    const names = [`${tag}-before`];
    const starting = (async () => {
      for (let i = 0; i < 6; i++) {
        names.push(`${tag}-during-${i}`);
        await runOne(`${tag}-during-${i}`);
      }
    })();
    await shipping.start();
    await starting;
    const want = names.map((n) => `hello-from-${n}`);
    const deadline = Date.now() + 20_000;
    let got: string[] = [];
    while (Date.now() < deadline) {
      got = receiver.records().map((e) => String(e.record.log ?? ''));
      if (want.every((w) => got.includes(w))) break;
      await sleep(100);
    }
    const missed = want.filter((w) => !got.includes(w));
    assert.deepEqual(missed, [], `never shipped: ${missed.join(', ')}`);
  });
});
