/**
 * K8sLogReader with berth's kept old file (`<path>.1`): a read shows `.1`
 * then the file, `--tail` counts across both, a line conmon cut at the
 * rotation is joined, and with no file at the path (rotation in progress, or
 * an exited container rotated by the rename alone) `.1` is read and a follow
 * picks up the new file when it appears.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isNotFound } from '../../../runtime/base/errors.js';
import { K8sLogReader } from '../../../runtime/exec/logfile.js';
import type { LogLine } from '../../../runtime/runtime.js';

const T = '2026-12-07T10:00:00.000000001+00:00';
const rec = (text: string, flag = 'F') => `${T} stdout ${flag} ${text}\n`;
const lines = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => rec(`n${from + i}`)).join('');

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-k8slog-rot-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const reader = new K8sLogReader({ pollIntervalMs: 20 });
async function read(path: string, query = {}): Promise<string[]> {
  const out: LogLine[] = [];
  for await (const l of reader.read(path, query)) out.push(l);
  return out.map((l) => l.line);
}
const names = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `n${from + i}`);

describe('K8sLogReader with a kept .1', () => {
  test('a read shows .1 then the file; --tail counts across both', async () => {
    const path = join(dir, 'both.log');
    await writeFile(`${path}.1`, lines(1, 50));
    await writeFile(path, lines(51, 60));
    assert.deepEqual(await read(path), names(1, 60));
    assert.deepEqual(await read(path, { tail: 5 }), names(56, 60));
    assert.deepEqual(await read(path, { tail: 10 }), names(51, 60));
    assert.deepEqual(await read(path, { tail: 25 }), names(36, 60));
    assert.deepEqual(await read(path, { tail: 500 }), names(1, 60));
  });

  test('a line cut at the rotation (P at the end of .1, F at the start of the file) is one line', async () => {
    const path = join(dir, 'cut.log');
    await writeFile(`${path}.1`, rec('a') + rec('hel', 'P'));
    await writeFile(path, rec('lo') + rec('b'));
    assert.deepEqual(await read(path), ['a', 'hello', 'b']);
  });

  test('no file at the path: .1 alone, and a follow goes on into the new file', async () => {
    const path = join(dir, 'pending.log');
    await writeFile(`${path}.1`, lines(1, 3));
    assert.deepEqual(await read(path), names(1, 3));
    const ac = new AbortController();
    const got: string[] = [];
    const following = (async () => {
      for await (const l of reader.read(path, { follow: true, signal: ac.signal })) got.push(l.line);
    })();
    await new Promise((r) => setTimeout(r, 50));
    // conmon still writes to the renamed file until its reopen, then to the new one.
    await appendFile(`${path}.1`, rec('n4'));
    await writeFile(path, rec('n5'));
    for (let i = 0; i < 100 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await following;
    assert.deepEqual(got, names(1, 5));
  });

  test('neither file: NotFound naming the path', async () => {
    const path = join(dir, 'none.log');
    await assert.rejects(read(path), (e: unknown) => isNotFound(e) && String(e).includes(path));
  });
});
