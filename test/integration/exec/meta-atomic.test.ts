/**
 * Issue 12 item 16: a container's meta.json (what a restarted agent re-adopts
 * it from) is replaced atomically. On a filesystem that is full, a failed
 * rewrite must leave the previous meta.json whole, not truncated.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type ContainerMeta, readMeta, StateLayout, writeMeta } from '../../../runtime/exec/state.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const run = promisify(execFile);
let dir: string;
let mounted = false;

describe('meta.json writes', () => {
  before(async () => {
    dir = await tempDir('meta-atomic');
    // A tiny tmpfs that the test can fill: the write of a new meta.json then fails with ENOSPC.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    mounted = true;
  });
  after(async () => {
    if (mounted) await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
    await removeDir(dir);
  });

  test('a rewrite that fails on a full disk leaves the previous meta.json whole', async () => {
    const layout = new StateLayout(join(dir, 'exec'));
    const id = 'c0ffee';
    await mkdir(layout.containerDir(id), { recursive: true });
    const first: ContainerMeta = { bundleDir: '/b', logPath: '/l', createdAt: '2026-12-07T00:00:00Z' };
    await writeMeta(layout, id, first);
    // Fill the filesystem to the last block.
    await writeFile(join(dir, 'filler'), Buffer.alloc(128 * 1024)).catch(() => undefined);
    const second: ContainerMeta = { ...first, logPath: `/${'x'.repeat(16 * 1024)}` };
    await assert.rejects(writeMeta(layout, id, second), /ENOSPC/);
    assert.deepEqual(await readMeta(layout, id), first, 'the old meta.json survives the failed write');
    // And no temp file is left beside it.
    assert.deepEqual(await readdir(layout.containerDir(id)), ['meta.json']);
  });
});
