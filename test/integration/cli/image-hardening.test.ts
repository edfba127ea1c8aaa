/**
 * Issue 12 through the real CLI against a real agent: a gzip bomb through
 * `berth load` (item 9), hostile uploads answered with the refusal (item 13),
 * and the TCP API over TLS (item 5).
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { freePort } from '../../harness/ports.js';
import { makeTestCertificates } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { buildTar, dockerArchive, gzip, makeImage } from '../../unit/image/_tar.js';

const TOKEN = `tok-${Date.now()}`;
let agent: TestAgent | undefined;
let dir: string;
let port: number;
let certs: Awaited<ReturnType<typeof makeTestCertificates>>;

async function storeLeftovers(a: TestAgent): Promise<{ layers: string[]; tmp: string[] }> {
  const images = join(a.stateRoot, 'images');
  return {
    layers: await readdir(join(images, 'layers')).catch(() => []),
    tmp: await readdir(join(images, 'tmp')).catch(() => []),
  };
}

describe('image hardening through the CLI', () => {
  before(async () => {
    dir = await tempDir('cli-image-hardening');
    certs = await makeTestCertificates(dir);
    port = await freePort();
    agent = await startAgent({
      args: [
        '--image-max-layer-bytes',
        '8m',
        '--api-tcp',
        `127.0.0.1:${port}`,
        '--api-token',
        TOKEN,
        '--api-tls-cert',
        certs.certPath,
        '--api-tls-key',
        certs.keyPath,
      ],
    });
  });
  after(async () => {
    await agent?.stop();
    if (dir) await removeDir(dir);
  });

  test('berth load of a gzip bomb is refused with the reason and leaves no partial layer', async () => {
    const a = agent as TestAgent;
    const layer = await buildTar([{ name: 'zeros', content: Buffer.alloc(64 << 20) }]);
    const img = makeImage([layer]);
    // The archive carries the layer gzipped (~64 KiB): it inflates to 64 MiB, past the 8 MiB cap.
    const file = join(dir, 'bomb.tar');
    await writeFile(file, await dockerArchive({ ...img, layers: [gzip(layer)] }, ['bomb:1']));
    const r = await a.cli(['load', '-i', file]);
    assert.equal(r.code, 125, r.stdout + r.stderr);
    assert.match(r.stderr, /uncompressed size exceeds the limit of 8388608 bytes \(imageMaxLayerBytes\)/);
    assert.deepEqual(await storeLeftovers(a), { layers: [], tmp: [] });
    assert.doesNotMatch((await a.cli(['images'])).stdout, /bomb/);
  });

  test('a hostile tar through berth import and berth load prints the refusal, not a reset connection', async () => {
    const a = agent as TestAgent;
    const file = join(dir, 'hostile.tar');
    await writeFile(
      file,
      await buildTar([
        { name: '../../etc/evil', content: 'x' },
        { name: 'filler', content: Buffer.alloc(32 << 20, 1) },
      ]),
    );
    const imp = await a.cli(['import', file, 'evil:1']);
    assert.equal(imp.code, 125);
    assert.doesNotMatch(imp.stderr, /socket hang up|ECONNRESET|EPIPE/);
    assert.match(imp.stderr, /rootfs: entry "\.\.\/\.\.\/etc\/evil" refused/);
    const load = await a.cli(['load', '-i', file]);
    assert.equal(load.code, 125);
    assert.doesNotMatch(load.stderr, /socket hang up|ECONNRESET|EPIPE/);
    assert.match(load.stderr, /archive: member "\.\.\/\.\.\/etc\/evil" refused/);
    assert.deepEqual(await storeLeftovers(a), { layers: [], tmp: [] });
  });

  test('the TCP API speaks TLS: the CLI with the CA works, without it the token is never sent in clear', async () => {
    const a = agent as TestAgent;
    const tcp = { BERTH_HOST: `tcp://127.0.0.1:${port}`, BERTH_TOKEN: TOKEN };
    const good = await a.cli(['images'], { env: { ...tcp, BERTH_TLS_CA: certs.caCertPath } });
    assert.equal(good.code, 0, good.stderr);
    const info = await a.cli(['info'], { env: { ...tcp, BERTH_TLS_CA: certs.caCertPath } });
    assert.match(info.stdout, /TLS, bearer token/);
    const untrusted = await a.cli(['images'], { env: { ...tcp, BERTH_TLS: '1' } });
    assert.equal(untrusted.code, 125);
    assert.match(untrusted.stderr, /certificate/);
    const plain = await a.cli(['images'], { env: tcp });
    assert.equal(plain.code, 125);
  });
});
