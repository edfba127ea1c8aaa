/**
 * --services-dir on a ConfigMap volume, as the Helm chart mounts it: the
 * kubelet's atomic writer keeps the files in `..<timestamp>/`, links `..data`
 * to it and each file name through `..data`, and applies an update by
 * writing a new timestamped dir, pointing a temporary link at it and renaming
 * that over `..data` (then removing the old dir). The watcher must load the
 * first version and see the swap (kubernetes pkg/volume/util/atomic_writer.go
 * describes the steps).
 */
import assert from 'node:assert/strict';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ServiceDirWatcher, type ServiceLoad } from '../../../runtime/source/observe/services.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

let dir = '';
before(async () => {
  dir = await tempDir('services-configmap');
});
after(() => removeDir(dir));

/** One version of the volume's payload, as the atomic writer writes it. */
async function payload(vol: string, stamp: string, services: string[]): Promise<void> {
  await mkdir(join(vol, stamp), { recursive: true });
  await writeFile(
    join(vol, stamp, 'services.json'),
    JSON.stringify({ services: services.map((name, i) => ({ name, port: 8000 + i })) }),
  );
}

test('a ConfigMap volume: the first payload loads, and an update swapped in by the kubelet is seen', async () => {
  const vol = join(dir, 'services');
  await payload(vol, '..2026_12_07_12_00_00.000000001', ['web']);
  await symlink('..2026_12_07_12_00_00.000000001', join(vol, '..data'));
  await symlink('..data/services.json', join(vol, 'services.json'));
  const loads: ServiceLoad[] = [];
  const watcher = new ServiceDirWatcher(
    vol,
    async (load) => {
      loads.push(load);
    },
    { debounceMs: 50 },
  );
  try {
    await watcher.start();
    assert.deepEqual(
      loads.at(-1)?.services.map((s) => s.name),
      ['web'],
    );
    assert.deepEqual(loads.at(-1)?.errors, []);
    // The kubelet's update: new dir, ..data_tmp -> it, renamed over ..data, old dir removed.
    await payload(vol, '..2026_12_07_12_05_00.000000002', ['web', 'api']);
    await symlink('..2026_12_07_12_05_00.000000002', join(vol, '..data_tmp'));
    await rename(join(vol, '..data_tmp'), join(vol, '..data'));
    await rm(join(vol, '..2026_12_07_12_00_00.000000001'), { recursive: true });
    const seen = await pollUntil(
      'the swapped payload loaded',
      async () => (loads.at(-1)?.services.length === 2 ? loads.at(-1) : undefined),
      10_000,
      50,
    );
    assert.deepEqual(
      seen.services.map((s) => [s.name, s.port]),
      [
        ['web', 8000],
        ['api', 8001],
      ],
    );
    assert.deepEqual(seen.errors, []);
  } finally {
    await watcher.close();
  }
});
