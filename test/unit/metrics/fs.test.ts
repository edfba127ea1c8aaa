/**
 * The writable-layer figures: where the layer is found (mountinfo), how it is
 * measured (against GNU du, which counts as cAdvisor's fs.GetDirUsage does:
 * st_blocks × 512, hard links once, inodes), how often (the bounded
 * background refresh), and the collector over a tree laid out as a DaemonSet
 * sees the host (the layer reached through <proc>/1/root).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fsCollector } from '../../../sidecar/metrics/collectors/fs.js';
import {
  dirUsage,
  FS_MAX_BACKOFF,
  LayerUsage,
  writableLayerDir,
} from '../../../sidecar/metrics/layer-usage.js';
import { fakeDescriptor } from '../../harness/fake-source.js';

const tmp = mkdtempSync(join(tmpdir(), 'berth-metrics-fs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A layer with nested dirs, an empty file, a 1 MB file, a hard link and a symlink. */
function makeLayer(dir: string): void {
  mkdirSync(join(dir, 'etc/deep/er'), { recursive: true });
  writeFileSync(join(dir, 'etc/empty'), '');
  writeFileSync(join(dir, 'etc/deep/er/big'), Buffer.alloc(1 << 20, 7));
  writeFileSync(join(dir, 'etc/small'), 'x'.repeat(100));
  linkSync(join(dir, 'etc/deep/er/big'), join(dir, 'big-again'));
  execFileSync('ln', ['-s', '/nowhere', join(dir, 'dangling')]);
}

const ROOT_LINE = (opts: string) =>
  `76 51 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/l/a:/l/b,${opts},workdir=/s/work,uuid=on`;

test('the upper dir of the root mount is found; other roots and mounts are not a layer', () => {
  const info = [
    ROOT_LINE('upperdir=/var/lib/berth/snapshots/abc/upper'),
    '77 76 0:43 / /proc rw,nosuid - proc proc rw',
    '78 76 0:44 / /data rw - overlay overlay rw,upperdir=/not/the/root',
  ].join('\n');
  assert.equal(writableLayerDir(info), '/var/lib/berth/snapshots/abc/upper');
  // Escaped characters (mountinfo writes a comma in an option as \054, a space as \040).
  assert.equal(writableLayerDir(ROOT_LINE('upperdir=/a\\054b/c\\040d')), '/a,b/c d');
  // A root that is a bind mount or a plain filesystem has no writable layer.
  assert.equal(writableLayerDir('20 1 254:0 / / rw - ext4 /dev/vda rw'), undefined);
  // Optional fields before the separator.
  assert.equal(
    writableLayerDir('76 51 0:40 / / rw shared:1 master:2 - overlay overlay rw,upperdir=/u,workdir=/w'),
    '/u',
  );
  // The top of a stack on / wins.
  assert.equal(
    writableLayerDir(`${ROOT_LINE('upperdir=/under')}\n90 76 254:0 / / rw - ext4 /dev/vda rw`),
    undefined,
  );
  assert.equal(writableLayerDir(''), undefined);
});

test('a layer measures as GNU du counts it: bytes of blocks and inodes, hard links once', async () => {
  const dir = join(tmp, 'du');
  makeLayer(dir);
  const got = await dirUsage(dir);
  const bytes = Number(execFileSync('du', ['-s', '-B1', dir], { encoding: 'utf8' }).split('\t')[0]);
  const inodes = Number(execFileSync('du', ['-s', '--inodes', dir], { encoding: 'utf8' }).split('\t')[0]);
  assert.equal(got.bytes, bytes);
  assert.equal(got.inodes, inodes);
  assert.ok(got.bytes >= 1 << 20, `${got.bytes}`);
  await assert.rejects(dirUsage(join(tmp, 'missing')), /ENOENT/);
});

test('refresh: figures served from cache, one walk at a time, measured again after the period, backoff on failure', async () => {
  let now = 0;
  let running = 0;
  let maxRunning = 0;
  const walks: string[] = [];
  let failing = false;
  const usage = new LayerUsage({
    periodMs: 1000,
    now: () => now,
    measure: async (dir) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      walks.push(dir);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      if (failing) throw new Error('EACCES');
      return { bytes: walks.length * 10, inodes: 1 };
    },
  });
  assert.equal(usage.get('/a'), undefined, 'nothing before the first walk');
  assert.equal(usage.get('/b'), undefined);
  await usage.settled();
  assert.equal(maxRunning, 1, 'walks never overlap');
  assert.deepEqual(walks, ['/a', '/b']);
  assert.deepEqual(usage.get('/a'), { bytes: 10, inodes: 1 });
  now = 999;
  usage.get('/a');
  await usage.settled();
  assert.equal(walks.length, 2, 'not measured again within the period');
  now = 1000;
  usage.get('/a');
  await usage.settled();
  assert.deepEqual(usage.get('/a'), { bytes: 30, inodes: 1 }, 'measured again once the period is over');
  // Failures keep the last figures and back off ×2 up to FS_MAX_BACKOFF periods.
  failing = true;
  const at: number[] = [];
  for (now = 2000; now < 2000 + 1000 * FS_MAX_BACKOFF * 4; now += 500) {
    const before = walks.length;
    usage.get('/a');
    await usage.settled();
    if (walks.length > before) at.push(now);
  }
  assert.deepEqual(usage.get('/a'), { bytes: 30, inodes: 1 });
  const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
  assert.deepEqual(gaps.slice(0, 5), [2000, 4000, 8000, 16000, 20000]);
  assert.ok(Math.max(...gaps) <= 1000 * FS_MAX_BACKOFF, `gaps ${gaps}`);
  // A layer nobody asks for during a period is forgotten.
  now += 5000;
  usage.get('/a');
  assert.equal(usage.size, 1, 'only /a is kept: /b was not asked for');
});

test('the collector reports the layer and its filesystem through <proc>/1/root, labelled with the device', async () => {
  const proc = join(tmp, 'host/proc');
  const upper = '/var/lib/berth/snapshots/c1/upper';
  makeLayer(join(proc, '1/root', upper));
  mkdirSync(join(proc, '4242'), { recursive: true });
  writeFileSync(join(proc, '4242/mountinfo'), `${ROOT_LINE(`upperdir=${upper}`)}\n`);
  const layer = new LayerUsage();
  const col = fsCollector({ usage: layer });
  const scrape = async () => {
    const out = new Map<string, { labels: Record<string, string>; value: number }>();
    if (col.scope !== 'container') throw new Error('scope');
    await col.update(
      {
        container: fakeDescriptor({ pid: 4242 }),
        cgroupPath: '/berth/c1',
        reader: {} as never,
        roots: { proc, sys: '/sys', cgroup: '/sys/fs/cgroup' },
        now: 1,
        skip: () => undefined,
      },
      (metric, labels, value) => out.set(metric, { labels, value }),
    );
    return out;
  };
  const first = await scrape();
  assert.equal(first.has('container_fs_usage_bytes'), false, 'usage only after the first walk');
  await layer.settled();
  const got = await scrape();
  const fsStat = statfsSync(join(proc, '1/root', upper));
  const du = Number(
    execFileSync('du', ['-s', '-B1', join(proc, '1/root', upper)], { encoding: 'utf8' }).split('\t')[0],
  );
  assert.equal(got.get('container_fs_usage_bytes')?.value, du);
  assert.equal(got.get('container_fs_limit_bytes')?.value, fsStat.blocks * fsStat.bsize);
  assert.equal(got.get('container_fs_inodes_total')?.value, fsStat.files);
  const free = got.get('container_fs_inodes_free')?.value ?? -1;
  assert.ok(Math.abs(free - fsStat.ffree) < 1000, `${free} vs ${fsStat.ffree}`);
  // /dev/<name> from sysfs, or major:minor for a filesystem without a block device (tmpfs).
  assert.match(got.get('container_fs_usage_bytes')?.labels.device ?? '', /^(\/dev\/\S+|\d+:\d+)$/);
  // A container whose root is no overlay, or with no pid, reports nothing.
  writeFileSync(join(proc, '4242/mountinfo'), '20 1 254:0 / / rw - ext4 /dev/vda rw\n');
  const plain = fsCollector();
  const out: string[] = [];
  if (plain.scope !== 'container') throw new Error('scope');
  for (const pid of [4242, undefined]) {
    await plain.update(
      {
        container: fakeDescriptor(pid === undefined ? {} : { pid }),
        cgroupPath: '/berth/c2',
        reader: {} as never,
        roots: { proc, sys: '/sys', cgroup: '/sys/fs/cgroup' },
        now: 1,
        skip: () => undefined,
      },
      (metric) => out.push(metric),
    );
  }
  assert.deepEqual(out, []);
});
