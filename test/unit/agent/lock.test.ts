import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FailedPreconditionError } from '../../../runtime/base/errors.js';
import { lockAgentDirs } from '../../../src/agent/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
const stateRoot = join(dir, 'state');
const runDir = join(dir, 'run');
mkdirSync(stateRoot);
mkdirSync(runDir);
after(() => rmSync(dir, { recursive: true, force: true }));

test('one holder per state root and per run dir, named in the refusal; free again once released', async () => {
  const first = await lockAgentDirs({ stateRoot, runDir });
  assert.ok(existsSync(join(stateRoot, 'agent.pid')));
  const other = join(dir, 'other-run');
  mkdirSync(other);
  await assert.rejects(lockAgentDirs({ stateRoot, runDir: other }), (e: unknown) => {
    assert.ok(e instanceof FailedPreconditionError);
    assert.match(
      e.message,
      new RegExp(`^stateRoot: ${stateRoot} is in use by another berth agent \\(pid ${process.pid}\\)`),
    );
    return true;
  });
  // The same directory through a symlink is the same directory.
  const alias = join(dir, 'run-alias');
  symlinkSync(runDir, alias);
  const otherRoot = join(dir, 'other-state');
  mkdirSync(otherRoot);
  await assert.rejects(lockAgentDirs({ stateRoot: otherRoot, runDir: alias }), /runDir: .* is in use/);
  // A refused attempt holds nothing: the other state root is free.
  const third = await lockAgentDirs({ stateRoot: otherRoot, runDir: other });
  await third.release();
  await first.release();
  assert.ok(!existsSync(join(stateRoot, 'agent.pid')));
  const again = await lockAgentDirs({ stateRoot, runDir });
  await again.release();
});
