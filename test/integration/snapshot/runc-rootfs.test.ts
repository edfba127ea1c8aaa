import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { detectCgroups } from '../../../runtime/cgroups/detect.js';
import type { ResolvedImage } from '../../../runtime/image/types.js';
import { OciSpecBuilder } from '../../../runtime/oci/builder.js';
import { OverlaySnapshotter } from '../../../runtime/snapshot/overlay.js';
import { removeEmptyBerthCgroups } from '../../harness/agent.js';
import { makeBusyboxRootfs } from '../../harness/rootfs.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const run = promisify(execFile);

/**
 * A snapshot is only useful if an OCI runtime can run a container on it:
 * this runs busybox under runc with berth's own spec over an overlay
 * snapshot, and checks what the process sees (user, limits, read-only root,
 * no-new-privileges, seccomp, writes landing in the upper dir only).
 */
describe('runc over an overlay snapshot with the berth spec', () => {
  let work = '';
  let layer = '';
  let snaps: OverlaySnapshotter;
  let builder: OciSpecBuilder;
  const ids: string[] = [];
  const cgroups = detectCgroups();

  before(async () => {
    work = await tempDir('berth-runc-snap-');
    layer = join(work, 'layer');
    await makeBusyboxRootfs(layer);
    snaps = new OverlaySnapshotter({ root: join(work, 'snapshots') });
    builder = new OciSpecBuilder({
      cgroups,
      volumesRoot: join(work, 'volumes'),
      stateDir: join(work, 'state'),
    });
  });

  after(async () => {
    for (const id of ids) {
      try {
        execFileSync('runc', ['delete', '-f', id], { stdio: 'ignore', timeout: 10_000 });
      } catch {
        // never created or already gone
      }
      await snaps.remove(id).catch(() => undefined);
      await builder.release(id);
    }
    await removeEmptyBerthCgroups();
    if (work) await removeDir(work);
  });

  async function runContainer(request: Record<string, unknown>): Promise<string> {
    const id = `berth-test-${Math.random().toString(36).slice(2, 10)}`;
    ids.push(id);
    const image: ResolvedImage = {
      id: 'sha256:test',
      ref: 'busybox:test',
      name: 'busybox',
      tag: 'test',
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
      layerDirs: [layer],
    };
    const cfg = await builder.validate({ image: 'busybox:test', network: 'none', ...request }, image);
    const { rootfs } = await snaps.prepare(id, image.layerDirs);
    const spec = await builder.build(cfg, {
      id,
      rootfs,
      hostname: 'snaphost',
      networkMode: cfg.network,
      cgroupPath: builder.cgroupPath(id),
    });
    const bundle = join(work, 'bundles', id);
    await mkdir(bundle, { recursive: true });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
    const { stdout } = await run('runc', ['run', '--bundle', bundle, id], { timeout: 30_000 });
    return stdout;
  }

  it('runs with the default confinement and the requested limits', async () => {
    const memFile =
      cgroups.version === 'v2' ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    const out = await runContainer({
      user: 'nobody',
      memory: '64m',
      readOnly: true,
      tmpfs: ['/tmp'],
      cmd: [
        'sh',
        '-c',
        `id -u; hostname; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; cat ${memFile}; touch /x 2>/dev/null || echo ro; touch /tmp/ok && echo tmpfs-rw`,
      ],
    });
    assert.deepEqual(out.trim().split('\n'), [
      '65534',
      'snaphost',
      'NoNewPrivs:\t1',
      'Seccomp:\t2',
      String(64 * 1024 * 1024),
      'ro',
      'tmpfs-rw',
    ]);
  });

  it('keeps container writes in the snapshot, not in the shared layer', async () => {
    const out = await runContainer({ cmd: ['sh', '-c', 'echo hi > /written && cat /written'] });
    assert.equal(out.trim(), 'hi');
    const id = ids[ids.length - 1] ?? '';
    assert.equal(
      execFileSync('cat', [join(work, 'snapshots', id, 'upper', 'written')], { encoding: 'utf8' }),
      'hi\n',
    );
    assert.throws(() => execFileSync('cat', [join(layer, 'written')], { stdio: 'ignore' }));
  });
});
