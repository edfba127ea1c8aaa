import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeAgentRoots, secureAgentDirs } from '../../../src/agent/dirs.js';

const mode = async (p: string) => ((await stat(p)).mode & 0o7777).toString(8);

describe('agent state and run dirs', () => {
  const made: string[] = [];
  after(async () => {
    for (const d of made) await rm(d, { recursive: true, force: true });
  });

  it('new roots are 0700 and 0710 with their holders 0700', async () => {
    const base = await mkdtemp(join(tmpdir(), 'berth-dirs-'));
    made.push(base);
    const dirs = { stateRoot: join(base, 'state'), runDir: join(base, 'run') };
    await makeAgentRoots(dirs);
    await secureAgentDirs(dirs);
    assert.equal(await mode(dirs.stateRoot), '700');
    assert.equal(await mode(dirs.runDir), '710');
    for (const h of ['images', 'containers', 'snapshots', 'volumes', 'network'])
      assert.equal(await mode(join(dirs.stateRoot, h)), '700', h);
    for (const h of ['exec', 'containers']) assert.equal(await mode(join(dirs.runDir, h)), '700', h);
  });

  it("an older release's open dirs are tightened; files and symlinked targets are left alone", async () => {
    const base = await mkdtemp(join(tmpdir(), 'berth-dirs-'));
    made.push(base);
    const dirs = { stateRoot: join(base, 'state'), runDir: join(base, 'run') };
    const elsewhere = join(base, 'elsewhere');
    for (const d of [dirs.stateRoot, dirs.runDir, elsewhere]) await mkdir(d, { mode: 0o711 });
    for (const d of ['snapshots', 'images', 'haproxy']) await mkdir(join(dirs.stateRoot, d), { mode: 0o755 });
    await mkdir(join(dirs.runDir, 'exec'), { mode: 0o755 });
    await chmod(elsewhere, 0o755);
    await symlink(elsewhere, join(dirs.stateRoot, 'link'));
    await writeFile(join(dirs.stateRoot, 'agent.pid'), '1\n', { mode: 0o644 });
    const changed = await secureAgentDirs(dirs);
    assert.deepEqual(
      await Promise.all([
        mode(dirs.stateRoot),
        mode(dirs.runDir),
        mode(join(dirs.stateRoot, 'snapshots')),
        mode(join(dirs.stateRoot, 'images')),
        mode(join(dirs.stateRoot, 'haproxy')),
        mode(join(dirs.runDir, 'exec')),
      ]),
      ['700', '710', '700', '700', '700', '700'],
    );
    assert.equal(await mode(elsewhere), '755', 'a symlink is not followed');
    assert.ok((await lstat(join(dirs.stateRoot, 'link'))).isSymbolicLink());
    assert.equal(await mode(join(dirs.stateRoot, 'agent.pid')), '644');
    assert.ok(
      changed.some((c) => c.includes('mode 711 -> 700')),
      changed.join('; '),
    );
  });

  it('a root that is a file is refused, naming the field', async () => {
    const base = await mkdtemp(join(tmpdir(), 'berth-dirs-'));
    made.push(base);
    const dirs = { stateRoot: join(base, 'state'), runDir: join(base, 'run') };
    await writeFile(dirs.stateRoot, '');
    await mkdir(dirs.runDir);
    await assert.rejects(secureAgentDirs(dirs), /stateRoot: .* is not a directory/);
  });
});
