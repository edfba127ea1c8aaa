import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isInvalidArgument, isNotFound } from '../../../runtime/base/errors.js';
import { normalizeTime } from '../../../runtime/base/rfc3339.js';
import { LineAssembler, parseK8sRecord, parseTimeBound } from '../../../runtime/exec/k8s-format.js';
import { K8sLogReader } from '../../../runtime/exec/logfile.js';
import type { LogLine } from '../../../runtime/runtime.js';

// Lines as conmon 2.1.6 writes them (captured from a real run).
const FIXTURE = [
  '2026-11-27T18:50:13.183691507+00:00 stdout F hello',
  '2026-11-27T18:50:13.183819087+00:00 stderr F err',
  '2026-11-27T18:50:13.183839718+00:00 stdout P part',
  '2026-11-27T18:50:13.190000000+00:00 stderr P e1 ',
  '2026-11-27T18:50:13.200000000+00:00 stdout F ial line',
  '2026-11-27T18:50:13.210000000+00:00 stderr F e2',
  'garbage that is not a record',
  '2026-11-27T18:50:14.000000001+00:00 stdout F ',
  '2026-11-27T18:50:15.5+02:00 stdout F offset time',
  '2026-11-27T18:50:16.000000000+00:00 stdout P unterminated',
].join('\n');

describe('k8s-file records', () => {
  test('a record parses into time (UTC, 9 digits), stream, partial flag and text', () => {
    assert.deepEqual(parseK8sRecord('2026-11-27T18:50:13.183691507+00:00 stdout F hello world'), {
      time: '2026-11-27T18:50:13.183691507Z',
      stream: 'stdout',
      partial: false,
      text: 'hello world',
    });
    assert.equal(parseK8sRecord('2026-11-27T18:50:13.1+00:00 stderr P  two  spaces ')?.text, ' two  spaces ');
    assert.equal(parseK8sRecord('2026-11-27T18:50:13Z stdout F:x tagged')?.text, 'tagged');
    assert.equal(parseK8sRecord('2026-11-27T18:50:13Z stdout F')?.text, '');
  });

  test('malformed records are rejected', () => {
    for (const bad of [
      '',
      'hello',
      '2026-11-27T18:50:13Z stdin F x',
      '2026-11-27T18:50:13Z stdout X x',
      'notatime stdout F x',
    ]) {
      assert.equal(parseK8sRecord(bad), undefined, bad);
    }
  });

  test('times with an offset become UTC without losing nanoseconds', () => {
    assert.equal(normalizeTime('2026-11-27T20:50:15.000000123+02:00'), '2026-11-27T18:50:15.000000123Z');
    assert.equal(normalizeTime('2026-11-27T18:50:15Z'), '2026-11-27T18:50:15.000000000Z');
  });

  test('partial records join per stream, with the time of the first fragment', () => {
    const asm = new LineAssembler();
    const out: LogLine[] = [];
    for (const l of FIXTURE.split('\n')) {
      const r = parseK8sRecord(l);
      if (r) out.push(...asm.push(r));
    }
    assert.deepEqual(
      out.map((l) => [l.stream, l.line]),
      [
        ['stdout', 'hello'],
        ['stderr', 'err'],
        ['stdout', 'partial line'],
        ['stderr', 'e1 e2'],
        ['stdout', ''],
        ['stdout', 'offset time'],
      ],
    );
    assert.equal(out[2]?.time, '2026-11-27T18:50:13.183839718Z');
    assert.deepEqual(asm.flush(), [
      { time: '2026-11-27T18:50:16.000000000Z', stream: 'stdout', line: 'unterminated' },
    ]);
  });

  test('since/until accept RFC 3339 and unix seconds, and name the field when wrong', () => {
    assert.equal(parseTimeBound('1700000000', 'since'), '2023-11-14T22:13:20.000000000Z');
    assert.equal(parseTimeBound('1700000000.5', 'since'), '2023-11-14T22:13:20.500000000Z');
    assert.equal(parseTimeBound('2026-11-27T18:50:13+00:00', 'until'), '2026-11-27T18:50:13.000000000Z');
    assert.throws(
      () => parseTimeBound('yesterday', 'since'),
      (e: unknown) => isInvalidArgument(e) && /since: "yesterday"/.test(String(e)),
    );
  });
});

describe('K8sLogReader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-logread-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function collect(path: string, q: Parameters<K8sLogReader['read']>[1]): Promise<LogLine[]> {
    const out: LogLine[] = [];
    for await (const l of new K8sLogReader().read(path, q)) out.push(l);
    return out;
  }

  test('reads all lines, flushing an unterminated last line', async () => {
    const p = join(dir, 'a.log');
    await writeFile(p, `${FIXTURE}\n`);
    const lines = await collect(p, {});
    assert.deepEqual(
      lines.map((l) => l.line),
      ['hello', 'err', 'partial line', 'e1 e2', '', 'offset time', 'unterminated'],
    );
  });

  test('stream filter, tail and since/until', async () => {
    const p = join(dir, 'b.log');
    await writeFile(p, `${FIXTURE}\n`);
    assert.deepEqual(
      (await collect(p, { stderr: true })).map((l) => l.line),
      ['err', 'e1 e2'],
    );
    assert.deepEqual(
      (await collect(p, { stdout: true, tail: 2 })).map((l) => l.line),
      ['offset time', 'unterminated'],
    );
    assert.deepEqual(
      (await collect(p, { tail: 0 })).map((l) => l.line),
      [],
    );
    assert.deepEqual(
      (await collect(p, { since: '2026-11-27T18:50:13.19Z', until: '2026-11-27T18:50:14Z' })).map(
        (l) => l.line,
      ),
      ['e1 e2'],
    );
    assert.deepEqual(
      (await collect(p, { since: '2026-11-27T18:50:13.185Z', until: '2026-11-27T18:50:14.5Z' })).map(
        (l) => l.line,
      ),
      ['e1 e2', ''],
    );
  });

  test('a missing file is NotFound; a bad tail is InvalidArgument', async () => {
    await assert.rejects(collect(join(dir, 'nope.log'), {}), (e: unknown) => isNotFound(e));
    assert.throws(
      () => new K8sLogReader().read(join(dir, 'b.log'), { tail: -1 }),
      (e: unknown) => isInvalidArgument(e),
    );
  });

  test('follow sees appended lines and survives rotation to a new file', async () => {
    const p = join(dir, 'c.log');
    await writeFile(p, '2026-11-27T18:50:13.000000000+00:00 stdout F one\n');
    const ac = new AbortController();
    const got: string[] = [];
    const reader = new K8sLogReader({ pollIntervalMs: 50 });
    const done = (async () => {
      for await (const l of reader.read(p, { follow: true, signal: ac.signal })) {
        got.push(l.line);
        if (got.length === 4) ac.abort();
      }
    })();
    const until = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && got.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    };
    await until(1);
    await appendFile(p, '2026-11-27T18:50:14.000000000+00:00 stdout P tw');
    await appendFile(p, 'o-ignored-until-newline');
    await appendFile(p, '\n2026-11-27T18:50:14.100000000+00:00 stdout F o\n');
    await until(2);
    // conmon-style rotation: a new file renamed over the path, last lines of the old one still unread.
    await appendFile(p, '2026-11-27T18:50:15.000000000+00:00 stderr F three\n');
    await writeFile(`${p}.tmp`, '2026-11-27T18:50:16.000000000+00:00 stdout F four\n');
    await rename(`${p}.tmp`, p);
    const timeout = setTimeout(() => ac.abort(), 5000);
    await done;
    clearTimeout(timeout);
    assert.deepEqual(got, ['one', 'two-ignored-until-newlineo', 'three', 'four']);
  });

  test('follow ends when the signal aborts', async () => {
    const p = join(dir, 'd.log');
    await writeFile(p, '');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    const lines = await collect(p, { follow: true, signal: ac.signal });
    assert.deepEqual(lines, []);
    assert.ok(Date.now() - started < 2000);
  });
});
