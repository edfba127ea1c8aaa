import assert from 'node:assert/strict';
import { appendFile, rename, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { normalizeTime, parseTime } from '../../../runtime/base/rfc3339.js';
import { MultilineJoiner } from '../../../sidecar/logs/multiline.js';
import { DiskSpool } from '../../../sidecar/logs/spool.js';
import { FileTailer, type TailLine } from '../../../sidecar/logs/tailer.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const T = '2026-11-27T18:50:13.000000001+00:00';
const entry = (text: string, stream = 'stdout', flag = 'F') => `${T} ${stream} ${flag} ${text}\n`;

let dir: string;
before(async () => {
  dir = await tempDir('logs-tailer');
});
after(async () => {
  await removeDir(dir);
});

async function pollAll(t: FileTailer): Promise<TailLine[]> {
  const out: TailLine[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await t.poll();
    out.push(...r.lines);
    if (!r.more) break;
  }
  return out;
}

describe('FileTailer', () => {
  test('reads entries, joins partials per stream, keeps the first fragment time', async () => {
    const p = join(dir, 'partials.log');
    await writeFile(
      p,
      `2026-11-27T18:50:13.000000001+00:00 stdout P hel\n` +
        entry('err whole', 'stderr') +
        `2026-11-27T18:50:14.000000001+00:00 stdout F lo\n` +
        `${T} stdout F\n`,
    );
    const t = new FileTailer(p);
    const lines = await pollAll(t);
    assert.deepEqual(
      lines.map((l) => [l.line.stream, l.line.text]),
      [
        ['stderr', 'err whole'],
        ['stdout', 'hello'],
        ['stdout', ''],
      ],
    );
    assert.equal(lines[1]?.line.time, '2026-11-27T18:50:13.000000001Z');
    assert.equal(lines[1]?.start, 0);
    await t.close();
  });

  test('an unterminated last entry waits for its newline', async () => {
    const p = join(dir, 'torn.log');
    await writeFile(p, `${entry('one')}${T} stdout F tw`);
    const t = new FileTailer(p);
    assert.deepEqual(
      (await pollAll(t)).map((l) => l.line.text),
      ['one'],
    );
    await appendFile(p, 'o\n');
    assert.deepEqual(
      (await pollAll(t)).map((l) => l.line.text),
      ['two'],
    );
    await t.close();
  });

  test('rotation by rename (conmon): the old file is read to its end, then the new one', async () => {
    const p = join(dir, 'rot.log');
    await writeFile(p, entry('a1'));
    const t = new FileTailer(p);
    assert.deepEqual(
      (await pollAll(t)).map((l) => l.line.text),
      ['a1'],
    );
    await appendFile(p, entry('a2'));
    // conmon: write <path>.tmp, rename it over <path>
    await writeFile(`${p}.tmp`, entry('b1'));
    await rename(`${p}.tmp`, p);
    const r = await t.poll();
    assert.equal(r.rotated, true);
    assert.deepEqual(
      r.lines.map((l) => l.line.text),
      ['a2', 'b1'],
    );
    assert.notEqual(r.lines[0]?.inode, r.lines[1]?.inode);
    await t.close();
  });

  test('a line conmon cut at a rotation (P in the old file, F in the new) is shipped whole, not split', async () => {
    // The rotation e2e test lost `line 185683` and got `line 18568` twice this way (1 in ~70 runs).
    const p = join(dir, 'rot-split.log');
    await writeFile(p, entry('a1'));
    const t = new FileTailer(p);
    await pollAll(t);
    await appendFile(p, entry('line 18568', 'stdout', 'P') + entry('err-part', 'stderr', 'P'));
    await writeFile(`${p}.tmp`, entry('3') + entry(' whole', 'stderr') + entry('b1'));
    await rename(`${p}.tmp`, p);
    const r = await t.poll();
    assert.equal(r.rotated, true);
    assert.deepEqual(
      r.lines.map((l) => l.line.text),
      ['line 185683', 'err-part whole', 'b1'],
    );
    // The joined lines belong to the new file, from its start (a position commit holds at 0 until whole).
    const newInode = r.lines[2]?.inode;
    assert.equal(r.lines[0]?.inode, newInode);
    assert.equal(r.lines[0]?.start, 0);
    await t.close();
  });

  test('truncation restarts at offset 0', async () => {
    const p = join(dir, 'trunc.log');
    await writeFile(p, entry('x'.repeat(100)));
    const t = new FileTailer(p);
    await pollAll(t);
    await truncate(p, 0);
    await appendFile(p, entry('after'));
    const r = await t.poll();
    assert.equal(r.rotated, true);
    assert.deepEqual(
      r.lines.map((l) => l.line.text),
      ['after'],
    );
    await t.close();
  });

  test('resumes at a stored position only for the same inode', async () => {
    const p = join(dir, 'resume.log');
    await writeFile(p, entry('one') + entry('two'));
    const t1 = new FileTailer(p);
    const first = await pollAll(t1);
    const pos = {
      inode: first[0]?.inode ?? 0,
      offset: first[0]?.end ?? 0,
      fingerprint: first[0]?.fingerprint,
    };
    await t1.close();
    const t2 = new FileTailer(p, { position: pos });
    assert.deepEqual(
      (await pollAll(t2)).map((l) => l.line.text),
      ['two'],
    );
    await t2.close();
    // The kernel hands the freed inode number straight to the next file.
    await unlink(p);
    await writeFile(p, entry('new'));
    const t3 = new FileTailer(p, { position: pos });
    assert.deepEqual(
      (await pollAll(t3)).map((l) => l.line.text),
      ['new'],
    );
    await t3.close();
  });

  test("conmon's times are read from the bytes exactly as the general parser reads them", async () => {
    const p = join(dir, 'times.log');
    const times = [
      '2026-11-27T18:50:13.183691507+00:00',
      '2026-11-27T18:50:13.999999999+00:00',
      '2026-11-27T18:50:14.000000001Z',
      '2026-12-31T23:59:59.000000000Z',
      '2027-01-01T00:00:00.123456789+00:00',
      '2026-11-27T18:50:13.5+01:00', // not conmon's form: the general way
      '2024-02-29T12:00:00.000000000Z',
    ];
    await writeFile(p, times.map((t, i) => `${t} stdout F line${i}\n`).join(''));
    const t = new FileTailer(p);
    const r = await t.poll();
    assert.equal(r.malformed, 0);
    assert.equal(r.lines.length, times.length);
    for (const [i, raw] of times.entries()) {
      const line = r.lines[i]?.line;
      const want = normalizeTime(raw);
      assert.equal(line?.time, want, raw);
      const parsed = parseTime(want ?? '');
      if (line?.sec !== undefined) assert.deepEqual({ sec: line.sec, nsec: line.nsec }, parsed, raw);
    }
    // The fast path took conmon's two forms.
    assert.equal(r.lines[0]?.line.sec, parseTime('2026-11-27T18:50:13Z')?.sec);
    assert.equal(r.lines[2]?.line.nsec, 1);
    await t.close();
  });

  test('malformed lines are counted and skipped', async () => {
    const p = join(dir, 'bad.log');
    const t0 = '2026-11-27T18:50:13.183691507+00:00';
    // Streams that are almost stdout/stderr, an unknown tag: all refused, one by one.
    const bad = [`${t0} stdouu F x`, `${t0} stdxrr F x`, `${t0} stdin F x`, `${t0} stderr X x`];
    await writeFile(p, `garbage\n${bad.join('\n')}\n${entry('ok')}`);
    const t = new FileTailer(p);
    const r = await t.poll();
    assert.equal(r.malformed, 1 + bad.length);
    assert.deepEqual(
      r.lines.map((l) => l.line.text),
      ['ok'],
    );
    await t.close();
  });
});

describe('MultilineJoiner', () => {
  const tl = (text: string, start: number): TailLine => ({
    line: { time: T, stream: 'stderr', text },
    inode: 1,
    fingerprint: 'f',
    start,
    end: start + 10,
  });
  test('continuation lines join the start line; the group holds its start offset back', () => {
    const j = new MultilineJoiner({ start: /^\S/, maxLines: 100, maxBytes: 1 << 20 });
    assert.deepEqual(j.push(tl('Exception: x', 0), 0), []);
    assert.deepEqual(j.push(tl('  at a()', 10), 0), []);
    assert.equal(j.pendingStart(), 0);
    const [g] = j.push(tl('next', 20), 0);
    assert.equal(g?.line.text, 'Exception: x\n  at a()');
    assert.equal(g?.end, 20);
    assert.equal(j.flush()?.line.text, 'next');
  });
  test('maxLines bounds a group', () => {
    const j = new MultilineJoiner({ start: /^\S/, maxLines: 2, maxBytes: 1 << 20 });
    j.push(tl('E', 0), 0);
    j.push(tl(' 1', 10), 0);
    const [g] = j.push(tl(' 2', 20), 0);
    assert.equal(g?.line.text, 'E\n 1');
  });
});

describe('DiskSpool', () => {
  const rec = (n: number) => ({
    seq: n,
    inode: 1,
    fingerprint: 'f',
    commit: n * 10,
    record: { tag: 't', sec: n, nsec: 0, fields: { log: `line ${n} ${'x'.repeat(200)}` } },
  });
  test('FIFO across segments, survives reopen, deletes acked segments', async () => {
    const d = join(dir, 'spool1');
    const s = DiskSpool.open(d, { maxBytes: 1 << 20, segmentBytes: 4096 });
    for (let i = 1; i <= 100; i++) s.append(rec(i));
    assert.equal(s.pending, 100);
    const a = s.read(30);
    assert.deepEqual(
      a.map((i) => i.seq),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    const before = s.bytes;
    s.ack(30);
    s.read(1); // moves the reader past the fully acked segments
    s.ack(31);
    assert.ok(s.bytes < before, 'acked segments are deleted');
    s.close();
    const again = DiskSpool.open(d, { maxBytes: 1 << 20 });
    const rest = again.read(1000);
    assert.equal(rest[rest.length - 1]?.seq, 100);
    assert.ok((rest[0]?.seq ?? 0) <= 32, 'unacked items come back after a restart');
    again.destroy();
  });

  test('past the cap the oldest items are dropped and counted, appends never fail', () => {
    const d = join(dir, 'spool2');
    const s = DiskSpool.open(d, { maxBytes: 65536, segmentBytes: 4096 });
    for (let i = 1; i <= 2000; i++) s.append(rec(i));
    assert.ok(s.bytes <= 65536, `bytes ${s.bytes}`);
    assert.ok(s.dropped > 0);
    const all = s.read(100000);
    assert.equal(all.length + s.dropped, 2000);
    assert.equal(all[all.length - 1]?.seq, 2000, 'the newest survive');
    s.destroy();
  });
});
