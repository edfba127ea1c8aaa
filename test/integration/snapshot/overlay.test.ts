import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OverlaySnapshotter } from '../../../runtime/snapshot/overlay.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

function mountedPaths(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '');
}

describe('OverlaySnapshotter', () => {
  let work = '';
  let layers: string[] = [];
  let snaps: OverlaySnapshotter;
  const suffix = Math.random().toString(36).slice(2, 8);
  const keyA = `a-${suffix}`;
  const keyB = `b-${suffix}`;

  before(async () => {
    work = await tempDir('berth-snap-');
    const base = join(work, 'layers', 'base');
    const top = join(work, 'layers', 'top');
    await mkdir(join(base, 'etc'), { recursive: true });
    await writeFile(join(base, 'etc', 'os-release'), 'base\n');
    await writeFile(join(base, 'shared.txt'), 'from base\n');
    await writeFile(join(base, 'deleted-by-top'), 'should be hidden\n');
    await mkdir(top, { recursive: true });
    await writeFile(join(top, 'shared.txt'), 'from top\n');
    // An image layer's whiteout in overlay form: a 0/0 character device.
    execFileSync('mknod', [join(top, 'deleted-by-top'), 'c', '0', '0']);
    layers = [base, top];
    snaps = new OverlaySnapshotter({ root: join(work, 'snapshots') });
  });

  after(async () => {
    // Unmount whatever a failed test left behind, then delete.
    for (const key of [keyA, keyB]) await snaps.remove(key).catch(() => undefined);
    for (const p of mountedPaths().filter((m) => work && m.startsWith(work))) {
      try {
        execFileSync('umount', ['-l', p]);
      } catch {
        // already gone
      }
    }
    if (work) await removeDir(work);
  });

  it('mounts the layers top-first with the upper layer winning and its whiteouts honoured', async () => {
    const { rootfs } = await snaps.prepare(keyA, layers);
    assert.ok(mountedPaths().includes(rootfs), 'rootfs is a mount point');
    assert.equal(await readFile(join(rootfs, 'shared.txt'), 'utf8'), 'from top\n');
    assert.equal(await readFile(join(rootfs, 'etc', 'os-release'), 'utf8'), 'base\n');
    assert.equal(existsSync(join(rootfs, 'deleted-by-top')), false);
  });

  it('is idempotent: a second prepare returns the same mounted rootfs without stacking mounts', async () => {
    const first = await snaps.prepare(keyA, layers);
    const again = await snaps.prepare(keyA, layers);
    assert.equal(again.rootfs, first.rootfs);
    assert.equal(mountedPaths().filter((m) => m === first.rootfs).length, 1);
  });

  it('keeps writes of two snapshots over the same layers apart and never touches the layers', async () => {
    const a = (await snaps.prepare(keyA, layers)).rootfs;
    const b = (await snaps.prepare(keyB, layers)).rootfs;
    await writeFile(join(a, 'etc', 'os-release'), 'changed in a\n');
    await writeFile(join(a, 'new-in-a'), 'a\n');
    await unlink(join(a, 'shared.txt'));

    assert.equal(await readFile(join(b, 'etc', 'os-release'), 'utf8'), 'base\n');
    assert.equal(existsSync(join(b, 'new-in-a')), false);
    assert.equal(await readFile(join(b, 'shared.txt'), 'utf8'), 'from top\n');
    assert.equal(await readFile(join(layers[0] ?? '', 'etc', 'os-release'), 'utf8'), 'base\n');
    assert.equal(await readFile(join(layers[1] ?? '', 'shared.txt'), 'utf8'), 'from top\n');

    // The delete in a is a whiteout in a's upper dir that hides the lower file.
    assert.equal(existsSync(join(a, 'shared.txt')), false);
    const wh = lstatSync(join(work, 'snapshots', keyA, 'upper', 'shared.txt'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'upper holds a 0/0 whiteout');
  });

  it('gives a single-layer image a writable root too', async () => {
    const key = `one-${suffix}`;
    try {
      const { rootfs } = await snaps.prepare(key, [layers[0] ?? '']);
      await writeFile(join(rootfs, 'written'), 'x');
      assert.equal(existsSync(join(layers[0] ?? '', 'written')), false);
      assert.ok(mountedPaths().includes(rootfs));
    } finally {
      await snaps.remove(key);
    }
  });

  it('lists snapshots and restores (remounts) one that lost its mount', async () => {
    const listed = await snaps.list();
    assert.deepEqual(
      listed.map((s) => [s.key, s.mounted]),
      [
        [keyA, true],
        [keyB, true],
      ],
    );
    const b = listed.find((s) => s.key === keyB);
    assert.ok(b);
    assert.deepEqual(b.layerDirs, layers);
    execFileSync('umount', [b.rootfs]);
    assert.equal(mountedPaths().includes(b.rootfs), false);
    const restored = await snaps.restore([keyA, keyB]);
    assert.equal(restored.length, 2);
    assert.ok(mountedPaths().includes(b.rootfs));
    assert.equal(await readFile(join(b.rootfs, 'shared.txt'), 'utf8'), 'from top\n');
  });

  it('restore with a keep list removes leaked and half-made snapshots', async () => {
    const leaked = `leak-${suffix}`;
    const { rootfs } = await snaps.prepare(leaked, layers);
    const halfMade = join(work, 'snapshots', `half-${suffix}`);
    await mkdir(join(halfMade, 'upper'), { recursive: true });
    const kept = await snaps.restore([keyA, keyB]);
    assert.deepEqual(kept.map((s) => s.key).sort(), [keyA, keyB].sort());
    assert.equal(mountedPaths().includes(rootfs), false);
    assert.equal(existsSync(join(work, 'snapshots', leaked)), false);
    assert.equal(existsSync(halfMade), false);
  });

  it('removes: unmounts and deletes the snapshot dir, leaving the layers', async () => {
    const a = join(work, 'snapshots', keyA);
    const rootfsA = join(a, 'rootfs');
    await snaps.remove(keyA);
    assert.equal(mountedPaths().includes(rootfsA), false);
    assert.equal(existsSync(a), false);
    assert.equal(await readFile(join(layers[1] ?? '', 'shared.txt'), 'utf8'), 'from top\n');
    await snaps.remove(keyA); // idempotent
  });

  it('removes a busy snapshot with a lazy unmount', async () => {
    const b = join(work, 'snapshots', keyB, 'rootfs');
    const fh = await open(join(b, 'etc', 'os-release'), 'r');
    // A child process with its cwd inside the mount keeps it busy.
    const child = spawn('sleep', ['30'], { cwd: b, stdio: 'ignore' });
    try {
      await snaps.remove(keyB);
      assert.equal(mountedPaths().includes(b), false);
      assert.equal(existsSync(join(work, 'snapshots', keyB)), false);
    } finally {
      child.kill('SIGKILL');
      await fh.close();
    }
  });

  it('rejects keys that could escape the root', async () => {
    await assert.rejects(snaps.prepare('../evil', layers), /snapshot key: "..\/evil" must match/);
    await assert.rejects(snaps.remove('a/../../x'), /snapshot key/);
    assert.equal(existsSync(join(work, 'evil')), false);
  });
});
