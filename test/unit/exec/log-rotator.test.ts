/**
 * LogRotator's decisions on real files, with a fake monitor control (the real
 * conmon is in test/integration/exec/log-rotation.test.ts): when it rotates,
 * when it waits for the shipper, the cap past which the old file is dropped
 * (counted), exited containers, a lost reopen.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LogControl } from '../../../runtime/exec/log-control.js';
import { LogRotator, type OldLogState, type RotatableLog } from '../../../runtime/exec/log-rotator.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

let dir: string;
before(async () => {
  dir = await tempDir('log-rotator');
});
after(async () => {
  await removeDir(dir);
});

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** A monitor that, like conmon, starts a new empty file at the path on reopen. */
function fakeMonitor(path: string, alive = true) {
  const calls = { opened: 0, reopened: 0 };
  return {
    calls,
    open: async (): Promise<LogControl | undefined> => {
      if (!alive) return undefined;
      calls.opened++;
      return {
        reopen: async () => {
          calls.reopened++;
          await writeFile(path, '');
        },
        close: async () => {},
      };
    },
  };
}

function setup(name: string, o: { running?: boolean; alive?: boolean; state?: () => OldLogState } = {}) {
  const path = join(dir, name);
  const c: RotatableLog = { id: name, logPath: path, running: o.running ?? true };
  const mon = fakeMonitor(path, o.alive ?? true);
  const r = new LogRotator({ maxBytes: 100, containers: () => [c], openControl: mon.open });
  if (o.state) r.setGate(o.state);
  return { path, old: `${path}.1`, r, mon };
}

describe('LogRotator', () => {
  test('below maxBytes nothing happens; at it the file becomes .1 and the monitor reopens', async () => {
    const { path, old, r, mon } = setup('basic');
    await writeFile(path, 'x'.repeat(99));
    await r.tick();
    assert.equal(r.counters.rotations, 0);
    assert.equal(mon.calls.opened, 0);
    await writeFile(path, 'y'.repeat(100));
    await r.tick();
    assert.equal(r.counters.rotations, 1);
    assert.equal(mon.calls.reopened, 1);
    assert.equal(await readFile(old, 'utf8'), 'y'.repeat(100));
    assert.equal((await stat(path)).size, 0);
  });

  test('an old file the shipper has not acknowledged: the rotation waits, then the cap drops it (counted once per drop)', async () => {
    let state: OldLogState = 'pending';
    const { path, old, r } = setup('gated', { state: () => state });
    await writeFile(old, 'o'.repeat(150));
    await writeFile(path, 'a'.repeat(120));
    await r.tick();
    await r.tick();
    assert.equal(r.counters.rotations, 0);
    assert.equal(r.counters.deferred, 1, 'one wait, however many looks');
    assert.equal((await stat(old)).size, 150, '.1 kept while unacknowledged');
    // Acknowledged: rotates at once.
    state = 'shipped';
    await r.tick();
    assert.equal(r.counters.rotations, 1);
    assert.equal(r.counters.oldFilesDropped, 0);
    assert.equal((await stat(old)).size, 120);
    // Not acknowledged again; both files together reach the cap (4 x 100): the old one goes, counted.
    state = 'pending';
    await writeFile(path, 'b'.repeat(250));
    await r.tick();
    assert.equal(r.counters.rotations, 1, '120 + 250 < 400: still waiting');
    await writeFile(path, 'b'.repeat(280));
    await r.tick();
    assert.equal(r.counters.rotations, 2);
    assert.equal(r.counters.oldFilesDropped, 1);
    assert.equal(r.counters.deferred, 2);
    assert.equal((await stat(old)).size, 280);
  });

  test('a running container whose monitor is gone is not rotated (nobody would start a new file)', async () => {
    const { path, old, r } = setup('nomon', { alive: false });
    await writeFile(path, 'z'.repeat(200));
    await r.tick();
    assert.equal(r.counters.rotations, 0);
    assert.equal(await exists(old), false);
    assert.equal((await stat(path)).size, 200);
  });

  test('an exited container is rotated by the rename alone', async () => {
    const { path, old, r, mon } = setup('exited', { running: false });
    await writeFile(path, 'e'.repeat(200));
    await r.tick();
    assert.equal(r.counters.rotations, 1);
    assert.equal(mon.calls.opened, 0);
    assert.equal(await exists(path), false);
    assert.equal((await stat(old)).size, 200);
    await r.tick();
    assert.equal(r.counters.rotations, 1);
  });

  test('no file at the path after a rotation an earlier agent did not finish: the reopen is sent again, once', async () => {
    const { path, old, r, mon } = setup('lost');
    await writeFile(old, 'l'.repeat(50));
    await r.tick();
    assert.equal(mon.calls.reopened, 1);
    assert.equal(await exists(path), true);
    await r.tick();
    assert.equal(mon.calls.reopened, 1);
  });

  test('nudge looks at once (at most every 50 ms), only for known containers and past maxBytes', async () => {
    const { path, r } = setup('nudged');
    await writeFile(path, 'n'.repeat(150));
    r.nudge('nudged', 150);
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(r.counters.rotations, 0, 'unknown until the first tick lists it');
    await writeFile(path, 'n'.repeat(50));
    await r.tick();
    await writeFile(path, 'n'.repeat(150));
    r.nudge('nudged', 50);
    r.nudge('other', 500);
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(r.counters.rotations, 0, 'below maxBytes the nudge is ignored');
    await new Promise((res) => setTimeout(res, 60));
    r.nudge('nudged', 150);
    // The look it starts is asynchronous (a stat, a rename, a reopen): bounded wait, not a fixed pause.
    for (let i = 0; i < 200 && r.counters.rotations === 0; i++)
      await new Promise((res) => setTimeout(res, 10));
    assert.equal(r.counters.rotations, 1);
  });

  test('a failing container listing is counted and logged, never thrown (the timer does not await it)', async () => {
    const r = new LogRotator({
      maxBytes: 100,
      containers: () => Promise.reject(new Error('listing failed')),
      openControl: async () => undefined,
    });
    await r.tick();
    assert.equal(r.counters.failures, 1);
  });

  test('a running file over half of maxBytes is looked at every hotIntervalMs, not only per tick', async () => {
    const path = join(dir, 'hot');
    const mon = fakeMonitor(path);
    const r = new LogRotator({
      maxBytes: 100,
      intervalMs: 60_000,
      hotIntervalMs: 10,
      containers: () => [{ id: 'hot', logPath: path, running: true }],
      openControl: mon.open,
    });
    await writeFile(path, 'h'.repeat(60));
    await r.tick();
    r.start();
    try {
      await writeFile(path, 'h'.repeat(120));
      for (let i = 0; i < 100 && r.counters.rotations === 0; i++)
        await new Promise((res) => setTimeout(res, 10));
      assert.equal(r.counters.rotations, 1, 'rotated between ticks');
    } finally {
      await r.close();
    }
  });

  test('past the cap an old file the shipper still reads is not replaced (its blocks stay while open)', async () => {
    let state: OldLogState = 'reading';
    const { path, old, r } = setup('reading', { state: () => state });
    await writeFile(old, 'o'.repeat(150));
    await writeFile(path, 'r'.repeat(300));
    await r.tick();
    assert.equal(r.counters.rotations, 0);
    assert.equal(r.counters.oldFilesDropped, 0);
    // The shipper closed it without an acknowledgement (records only in memory or the spool): dropped, counted.
    state = 'pending';
    await r.tick();
    assert.equal(r.counters.rotations, 1);
    assert.equal(r.counters.oldFilesDropped, 1);
  });
});
