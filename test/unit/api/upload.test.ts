import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EventExchange } from '../../../runtime/base/events.js';
import { silentLogger } from '../../../runtime/base/log.js';
import { ImageStore } from '../../../runtime/image/store.js';
import type { Runtime } from '../../../runtime/runtime.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { ApiServer } from '../../../src/api/server.js';
import { ApiClient } from '../../../src/cli/client.js';
import { buildTar } from '../image/_tar.js';

// Issue 12 item 13: a refused upload is answered with the refusal, not a reset connection.

describe('API uploads', () => {
  let dir: string;
  let server: ApiServer;
  let client: ApiClient;
  let hostile: string;
  let images: ImageStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-api-upload-'));
    images = new ImageStore({ root: join(dir, 'state'), logger: silentLogger() });
    // The API edge over the real image store: load and import reach it as in the agent.
    const runtime = new Proxy({} as Runtime, {
      get(_t, prop) {
        if (prop === 'load') return (s: NodeJS.ReadableStream) => images.load(s);
        if (prop === 'importRootfs')
          return (s: NodeJS.ReadableStream, r: string) => images.importRootfs(s, r);
        if (prop === 'images') return () => images.list();
        return undefined;
      },
    });
    server = new ApiServer({ runtime, events: new EventExchange<RuntimeEvent>() }, silentLogger(), () => ({
      endpoints: {},
    }));
    const socketPath = join(dir, 'berth.sock');
    await server.listen({ socketPath });
    client = new ApiClient({ socketPath });
    // A hostile first entry, then 32 MiB the agent never needs: the refusal comes long before the body ends.
    hostile = join(dir, 'hostile.tar');
    await writeFile(
      hostile,
      await buildTar([
        { name: '../../etc/evil', content: 'x' },
        { name: 'filler', content: Buffer.alloc(32 << 20, 1) },
      ]),
    );
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('berth import of a hostile tar gets the refusal', async () => {
    await assert.rejects(
      client.json('POST', '/v1/images/import', { query: { ref: 'evil:1' }, body: createReadStream(hostile) }),
      (err: Error & { code?: string }) => {
        assert.match(err.message, /rootfs: entry "..\/..\/etc\/evil" refused/);
        assert.equal(err.code, 'InvalidArgument');
        return true;
      },
    );
  });

  it('berth load of a hostile archive gets the refusal', async () => {
    await assert.rejects(
      client.json('POST', '/v1/images/load', { body: createReadStream(hostile) }),
      (err: Error & { code?: string }) => {
        assert.match(err.message, /archive: member "..\/..\/etc\/evil" refused/);
        return true;
      },
    );
  });

  it('the connection stays usable: the next request is answered', async () => {
    const again = await client.json<unknown[]>('GET', '/v1/images');
    assert.deepEqual(again, []);
    await assert.rejects(
      client.json('POST', '/v1/images/import', {
        query: { ref: 'evil:2' },
        body: Readable.from([Buffer.from('not a tar at all'.repeat(100))]),
      }),
      /InvalidArgument|refused|tar|unexpected/i,
    );
  });
});
