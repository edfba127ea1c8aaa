/**
 * Issue 12 item 8: the tailer's join cap. A line of partial records longer
 * than `maxJoinBytes` (UTF-8 bytes) comes in parts of at most the cap (plus
 * one fragment); every part keeps the line's start and time, and a part's
 * commit offset (`end`) never passes the line's start, so a crash re-reads
 * the whole line.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FileTailer } from '../../../sidecar/logs/tailer.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-tailer-cap-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a line over the join cap comes in parts that keep its start and time, nothing lost', async () => {
  const p = join(dir, 'a.log');
  const frag = 'é'.repeat(500); // 1000 bytes, 500 characters
  const recs: string[] = [];
  for (let i = 0; i < 50; i++) {
    recs.push(`2026-12-07T10:00:00.${String(i).padStart(9, '0')}Z stdout ${i === 49 ? 'F' : 'P'} ${frag}`);
  }
  recs.push('2026-12-07T10:00:01.000000000Z stdout F next');
  await writeFile(p, `${recs.join('\n')}\n`);
  const t = new FileTailer(p, { maxJoinBytes: 10_000 });
  const lines = [];
  for (let r = await t.poll(); ; r = await t.poll()) {
    lines.push(...r.lines);
    if (!r.more) break;
  }
  await t.closeAll();
  const next = lines.pop();
  assert.equal(next?.line.text, 'next');
  assert.equal(next?.line.part, undefined);
  assert.equal(lines.length, 5, '50,000 bytes in parts of 10,000');
  assert.deepEqual(
    lines.map((l) => l.line.part?.last),
    [false, false, false, false, true],
  );
  assert.ok(lines.every((l) => Buffer.byteLength(l.line.text) <= 10_000));
  assert.equal(lines.map((l) => l.line.text).join(''), frag.repeat(50));
  assert.ok(lines.every((l) => l.start === 0 && l.line.time === '2026-12-07T10:00:00.000000000Z'));
  assert.deepEqual(
    lines.slice(0, -1).map((l) => l.end),
    [0, 0, 0, 0],
    'a part commits no further than the line start',
  );
  assert.ok((lines.at(-1)?.end ?? 0) > 0);
});
