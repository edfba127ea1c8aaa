import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import { installConfig, restoreBackup } from '../../../sidecar/haproxy/install.js';
import { validateConfigText } from '../../../sidecar/haproxy/validate.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const GOOD =
  'defaults\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n\nlisten x\n  bind 127.0.0.1:1\n';

describe('haproxy: validate with haproxy -c, install atomically', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('haproxy-validate');
  });
  after(async () => {
    await removeDir(dir);
  });
  const opts = () => ({ binary: 'haproxy', preludeFiles: [], dir, timeoutMs: 5000 });

  test('a config HAProxy rejects: the error names the line and its text, no file is left', async () => {
    const bad = GOOD.replace('  timeout server 1s\n', '  timeout server 1s\n  balance nonsense\n');
    await assert.rejects(validateConfigText(bad, opts()), (err: unknown) => {
      assert.ok(isInvalidArgument(err));
      assert.match(
        (err as Error).message,
        /^haproxy rejected the rendered config: line 5 \(balance nonsense\): /,
      );
      return true;
    });
    assert.deepEqual(await readdir(dir), []);
  });

  test('install keeps the previous config as .bak; restore puts it back', async () => {
    const live = `${dir}/haproxy.cfg`;
    await installConfig(await validateConfigText(GOOD, opts()), live);
    assert.equal(await readFile(live, 'utf8'), GOOD);
    const second = GOOD.replace('listen x', 'listen y');
    await installConfig(await validateConfigText(second, opts()), live);
    assert.equal(await readFile(live, 'utf8'), second);
    assert.equal(await readFile(`${live}.bak`, 'utf8'), GOOD);
    assert.equal(await restoreBackup(live), true);
    assert.equal(await readFile(live, 'utf8'), GOOD);
    assert.deepEqual((await readdir(dir)).sort(), ['haproxy.cfg', 'haproxy.cfg.bak']);
  });

  test('a missing haproxy binary is a precondition error', async () => {
    await assert.rejects(
      validateConfigText(GOOD, { ...opts(), binary: '/nonexistent/haproxy' }),
      /not found/,
    );
    assert.ok(!(await readdir(dir)).some((f) => f.startsWith('.candidate')), 'no candidate left behind');
  });
});
