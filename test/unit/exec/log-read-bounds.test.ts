/**
 * Issue 12 item 8, the `berth logs` read path (runtime/exec/logfile.ts):
 * a line of partial (`P`) records is joined up to MAX_JOINED_LINE_BYTES and
 * the rest comes as further pieces flagged `partial` (nothing lost), and
 * `--tail N` reads the file from its end instead of all of it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_JOINED_LINE_BYTES } from '../../../runtime/exec/k8s-format.js';
import { K8sLogReader } from '../../../runtime/exec/logfile.js';
import type { LogLine, LogQuery } from '../../../runtime/runtime.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-logread-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(path: string, q: LogQuery): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of new K8sLogReader().read(path, q)) out.push(l);
  return out;
}

/** Bytes this process has read through read(2) and friends so far (all threads, libuv's pool included). */
async function bytesReadSoFar(): Promise<number> {
  const io = await readFile('/proc/self/io', 'utf8');
  const m = /^rchar:\s*(\d+)/m.exec(io);
  assert.ok(m, '/proc/self/io has rchar');
  return Number(m[1]);
}

const T = (i: number) =>
  `2026-12-07T10:00:${String(Math.floor(i / 1e6) % 60).padStart(2, '0')}.${String(i % 1e6).padStart(6, '0')}000Z`;

describe('berth logs: a line of partial records is capped', () => {
  test('a 3 MiB line (conmon P records of 8 KiB) comes as pieces of at most the cap, flagged partial, joined back whole', async () => {
    const p = join(dir, 'long.log');
    const frag = 8192;
    const n = 384; // 3 MiB
    const parts: string[] = [];
    const recs: string[] = [];
    for (let i = 0; i < n; i++) {
      const text = String.fromCharCode(0x61 + (i % 26)).repeat(frag - 1) + (i % 10);
      parts.push(text);
      recs.push(`${T(i)} stdout ${i === n - 1 ? 'F' : 'P'} ${text}`);
    }
    recs.push(`${T(n)} stdout F after`);
    await writeFile(p, `${recs.join('\n')}\n`);
    const lines = await collect(p, {});
    const sizes = lines.map((l) => Buffer.byteLength(l.line));
    assert.ok(
      sizes.every((s) => s <= MAX_JOINED_LINE_BYTES),
      `every line at most ${MAX_JOINED_LINE_BYTES} bytes, got ${sizes.join(',')}`,
    );
    const last = lines.pop();
    assert.equal(last?.line, 'after');
    assert.equal(lines.map((l) => l.line).join(''), parts.join(''), 'nothing lost, nothing added');
    assert.deepEqual(
      lines.map((l) => l.partial === true),
      lines.map((_, i) => i < lines.length - 1),
      'every piece but the last is flagged partial',
    );
    assert.ok(
      lines.every((l) => l.time === T(0)),
      'every piece keeps the time the line began',
    );
  });
});

describe('berth logs --tail reads from the end of the file', () => {
  test('the last 10 lines of a 48 MiB log cost far less than the file in reads', async (t) => {
    const p = join(dir, 'big.log');
    const fh = await open(p, 'w');
    const line = 'x'.repeat(200);
    const perChunk = 20_000;
    let i = 0;
    for (let c = 0; c < 12; c++) {
      const recs: string[] = [];
      for (let k = 0; k < perChunk; k++, i++) recs.push(`${T(i)} stdout F ${i} ${line}`);
      await fh.write(`${recs.join('\n')}\n`);
    }
    await fh.close();
    const before = await bytesReadSoFar();
    const lines = await collect(p, { tail: 10 });
    const read = (await bytesReadSoFar()) - before;
    assert.deepEqual(
      lines.map((l) => l.line.split(' ')[0]),
      Array.from({ length: 10 }, (_, k) => String(i - 10 + k)),
    );
    t.diagnostic(`tail 10: read ${read} bytes of a ${(await stat(p)).size}-byte file`);
    assert.ok(read < 1 << 20, `read ${read} bytes for 10 lines of a ${12 * perChunk}-line file`);
  });

  test('tail from the end gives what a full read gives, with partials of both streams crossing the cut', async () => {
    const p = join(dir, 'mixed.log');
    const recs: string[] = [];
    let k = 0;
    // Lines of 1-6 fragments in both streams, their fragments interleaved at
    // random (a fixed seed), and a few malformed records.
    let seed = 12345;
    const rnd = (m: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return (seed >>> 16) % m;
    };
    const left = { stdout: 0, stderr: 0 };
    const lineNo = { stdout: 0, stderr: 0 };
    while (k < 30_000) {
      const stream = rnd(2) === 0 ? 'stdout' : 'stderr';
      if (left[stream] === 0) {
        left[stream] = 1 + rnd(6);
        lineNo[stream]++;
      }
      left[stream]--;
      recs.push(
        `${T(k++)} ${stream} ${left[stream] === 0 ? 'F' : 'P'} ${stream}${lineNo[stream]}.${left[stream]};`,
      );
      if (rnd(97) === 0) recs.push('not a record');
    }
    // Both streams' lines end (see tailStart on a partial line left open long before the window).
    for (const stream of ['stdout', 'stderr'] as const) {
      if (left[stream] > 0) recs.push(`${T(k++)} ${stream} F end;`);
    }
    recs.push(`${T(k++)} stdout P unterminated`);
    await writeFile(p, `${recs.join('\n')}\n`);
    const all = await collect(p, {});
    const outOnly = await collect(p, { stdout: true });
    const since = T(20_000);
    const after = await collect(p, { since });
    for (const n of [0, 1, 2, 5, 37, 500, 3000, 100_000]) {
      assert.deepEqual(await collect(p, { tail: n }), n === 0 ? [] : all.slice(-n), `tail ${n}`);
      assert.deepEqual(await collect(p, { tail: n, stdout: true }), n === 0 ? [] : outOnly.slice(-n));
      assert.deepEqual(
        await collect(p, { tail: n, since }),
        n === 0 ? [] : after.slice(-n),
        `since, tail ${n} of ${after.length}`,
      );
    }
  });
});
