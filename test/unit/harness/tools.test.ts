import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { readVersions, toolPath } from '../../harness/tools.js';

describe('harness: built tool paths', () => {
  const saved = process.env.BERTH_CACHE;
  const dirs: string[] = [];
  after(async () => {
    if (saved === undefined) delete process.env.BERTH_CACHE;
    else process.env.BERTH_CACHE = saved;
    for (const d of dirs) await removeDir(d);
  });

  it('reads the pinned versions from test/tools/versions.env', () => {
    const v = readVersions();
    assert.match(v.CONSUL_VERSION ?? '', /^\d+\.\d+\.\d+$/);
    assert.match(v.HELM_VERSION ?? '', /^\d+\.\d+\.\d+$/);
  });

  it('names the fix when a binary is not built', async () => {
    const cache = await tempDir('tools-empty');
    dirs.push(cache);
    process.env.BERTH_CACHE = cache;
    assert.throws(
      () => toolPath('consul'),
      (err: unknown) =>
        err instanceof Error &&
        err.message.includes(join(cache, 'bin', `consul-${readVersions().CONSUL_VERSION}`)) &&
        err.message.includes('bash .ci/setup.sh test'),
    );
  });

  it('finds the versioned binary under BERTH_CACHE', async () => {
    const cache = await tempDir('tools-cache');
    dirs.push(cache);
    const bin = join(cache, 'bin', `helm-${readVersions().HELM_VERSION}`);
    await mkdir(join(cache, 'bin'));
    await writeFile(bin, '#!/bin/sh\n');
    await chmod(bin, 0o755);
    process.env.BERTH_CACHE = cache;
    assert.equal(toolPath('helm'), bin);
  });
});
