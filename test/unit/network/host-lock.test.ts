import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { withHostLock } from '../../../runtime/network/host-lock.js';

describe('withHostLock (agents on one host take turns picking subnets)', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const lockFile = async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'berth-lock-'));
    dirs.push(d);
    return path.join(d, 'pool.lock');
  };

  test('holders never overlap, and the file is gone after', async () => {
    const file = await lockFile();
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withHostLock(file, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
    assert.ok(!existsSync(file));
  });

  test('a lock left by a process that is gone is taken over; a live holder times out the waiter', async () => {
    const file = await lockFile();
    await writeFile(file, '999999999');
    assert.equal(await withHostLock(file, async () => 'ran'), 'ran');
    await writeFile(file, String(process.pid));
    await assert.rejects(
      withHostLock(file, async () => 'no', 100),
      /held by pid/,
    );
    await rm(file);
  });
});
