/**
 * berth's runtime in the test process itself (not an agent child): the real
 * ContainerManager over runc and conmon, wired by the agent's own
 * composeRuntime, for tests that need the runtime's ContainerSource in hand
 * (the conformance suite, the informer race test). Its own state root, run
 * dir, bridge and subnet, as startAgent's; `close()` removes every container
 * and sweeps the host state.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { EventExchange } from '../../runtime/base/events.js';
import type { ContainerManager } from '../../runtime/containers/manager.js';
import type { RuntimeEvent } from '../../runtime/types.js';
import { composeRuntime } from '../../src/agent/compose.js';
import { loadAgentConfig } from '../../src/agent/config.js';
import { makeAgentRoots, secureAgentDirs } from '../../src/agent/dirs.js';
import { sweep } from './agent.js';
import { leaseSubnet, requireRoot } from './host-shared.js';
import { buildBusyboxImage } from './images.js';
import { removeDir, tempDir } from './tmp.js';

export interface InProcessRuntime {
  manager: ContainerManager;
  /** The busybox image every container here runs (`test/busybox:inproc`). */
  image: string;
  /** Creates and starts `sleep 600` named `name` without a network; resolves with its id once it runs. */
  startSleeper(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function startRuntimeInProcess(): Promise<InProcessRuntime> {
  requireRoot("startRuntimeInProcess (berth's runtime over runc)");
  const dir = await tempDir('berth-inproc-');
  const tag = randomBytes(3).toString('hex');
  const bridge = `bt${tag}`;
  const runDir = join(dir, 'run');
  const lease = await leaseSubnet();
  const cfg = await loadAgentConfig(
    {
      stateRoot: join(dir, 'state'),
      runDir,
      socket: join(dir, 'berth.sock'),
      bridge,
      subnet: lease.subnet,
    },
    {},
  );
  await makeAgentRoots(cfg);
  await secureAgentDirs(cfg);
  const runtime = await composeRuntime(cfg, pino({ level: 'warn' }), new EventExchange<RuntimeEvent>());
  const image = 'test/busybox:inproc';
  try {
    const tar = await buildBusyboxImage({ format: 'docker', ref: image, config: { Env: ['PATH=/bin'] } });
    await runtime.manager.load(createReadStream(tar));
  } catch (err) {
    await runtime.close();
    await sweep(dir, runDir, bridge);
    await removeDir(dir);
    await lease.release();
    throw err;
  }
  return {
    manager: runtime.manager,
    image,
    async startSleeper(name) {
      const c = await runtime.manager.create({ image, name, cmd: ['sleep', '600'], network: 'none' });
      await runtime.manager.start(c.id);
      return c.id;
    },
    async close() {
      for (const c of await runtime.manager.list({ all: true }).catch(() => [])) {
        await runtime.manager.remove(c.id, { force: true }).catch(() => undefined);
      }
      await runtime.close();
      await sweep(dir, runDir, bridge);
      await removeDir(dir);
      await lease.release();
    },
  };
}
