import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EntryBuilder,
  entryText,
  isContinuation,
  type LogRecord,
  levelOf,
  MAX_CONTINUATION,
  parseJsonLine,
  plainLevel,
  timeMs,
} from '../../../web/src/logs/entry.js';
import { LogModel } from '../../../web/src/logs/model.js';
import { Ring } from '../../../web/src/logs/ring.js';
import { compileSearch, isSearchError, type Matcher } from '../../../web/src/logs/search.js';

// The dashboard's log viewer model (web/src/logs): pure code, run here under Node; the
// Chromium tests (test/integration/web) drive the same code through the page.

const rec = (line: string, over: Partial<LogRecord> = {}): LogRecord => ({
  container: 'web-1',
  time: '2026-12-07T10:00:00.123456789Z',
  stream: 'stdout',
  line,
  ...over,
});

describe('Ring', () => {
  it('keeps the last `capacity` items in order and counts what fell off', () => {
    const r = new Ring<number>(3);
    for (let i = 0; i < 10; i++) r.push(i);
    assert.deepEqual(r.toArray(), [7, 8, 9]);
    assert.equal(r.length, 3);
    assert.equal(r.dropped, 7);
    assert.equal(r.at(0), 7);
    assert.equal(r.at(3), undefined);
    assert.equal(r.last(), 9);
  });

  it('stays bounded over many pushes (its backing array is compacted)', () => {
    const r = new Ring<number>(100);
    for (let i = 0; i < 100_000; i++) r.push(i);
    assert.equal(r.length, 100);
    assert.equal(r.at(0), 99_900);
    // The backing array never holds more than twice the capacity.
    assert.ok((r as unknown as { items: number[] }).items.length <= 200);
  });

  it('refuses a capacity below 1', () => {
    assert.throws(() => new Ring(0), /capacity must be ≥ 1, got 0/);
  });
});

describe('log entries', () => {
  it('reads JSON lines into level, message and fields', () => {
    const p = parseJsonLine(
      '{"level":"warn","msg":"slow request","ms":1200,"path":"/a","time":"x","user":{"id":7}}',
    );
    assert.equal(p?.level, 'warn');
    assert.equal(p?.json.message, 'slow request');
    assert.deepEqual(p?.json.fields, [
      ['ms', '1200'],
      ['path', '/a'],
      ['user', '{"id":7}'],
    ]);
  });

  it('maps pino numbers and level words, and leaves other lines plain', () => {
    assert.equal(parseJsonLine('{"level":50,"msg":"boom"}')?.level, 'error');
    assert.equal(levelOf(60), 'fatal');
    assert.equal(levelOf('WARNING'), 'warn');
    assert.equal(levelOf('nonsense'), undefined);
    assert.equal(parseJsonLine('[1,2]'), undefined);
    assert.equal(parseJsonLine('{not json'), undefined);
    assert.equal(parseJsonLine('plain'), undefined);
  });

  it('finds a level named early in a plain line', () => {
    assert.equal(plainLevel('2026-12-07 10:00:00 ERROR db: gone'), 'error');
    assert.equal(plainLevel('ts=1 level=debug msg=x'), 'debug');
    assert.equal(plainLevel('nothing to see'), undefined);
    assert.equal(plainLevel('[warn] disk 91% full'), 'warn');
    assert.equal(plainLevel('level="error" msg=x'), 'error');
    // A level word in lower case inside a sentence is prose, not a level.
    assert.equal(plainLevel('after the trace, an error count of 0'), undefined);
    assert.equal(plainLevel('retrying: WARN threshold passed, error=none'), 'warn');
  });

  it('reads nanosecond times to the millisecond', () => {
    assert.equal(timeMs('2026-12-07T10:00:00.123456789Z'), Date.UTC(2026, 11, 7, 10, 0, 0, 123));
    assert.equal(timeMs('garbage'), 0);
  });

  it('groups a stack trace under the line it continues, per container and stream', () => {
    const b = new EntryBuilder();
    const first = b.add(rec('Exception in thread "main" java.lang.IllegalStateException: x'));
    assert.equal(first.grouped, false);
    assert.equal(b.add(rec('\tat com.example.Main.run(Main.java:10)')).grouped, true);
    assert.equal(b.add(rec('Caused by: java.io.IOException: y')).grouped, true);
    assert.equal(b.add(rec('\t... 3 more')).grouped, true);
    // Another container's indented line does not join web-1's trace.
    const other = b.add(rec('  indented but first of its container', { container: 'web-2' }));
    assert.equal(other.grouped, false);
    assert.equal(b.add(rec('next line')).grouped, false);
    assert.deepEqual(first.entry.more, [
      '\tat com.example.Main.run(Main.java:10)',
      'Caused by: java.io.IOException: y',
      '\t... 3 more',
    ]);
    assert.match(entryText(first.entry), /Main\.java:10\)\nCaused by/);
    assert.ok(isContinuation('    File "x.py", line 3'));
    assert.ok(!isContinuation('Traceback (most recent call last):'));
  });

  it('caps a group and counts what it did not keep', () => {
    const b = new EntryBuilder();
    const { entry } = b.add(rec('panic'));
    for (let i = 0; i < MAX_CONTINUATION + 5; i++) b.add(rec(`  frame ${i}`));
    assert.equal(entry.more.length, MAX_CONTINUATION);
    assert.equal(entry.moreDropped, 5);
  });

  it('never groups under a JSON line', () => {
    const b = new EntryBuilder();
    b.add(rec('{"msg":"a"}'));
    assert.equal(b.add(rec('  indented')).grouped, false);
  });
});

describe('search', () => {
  const entry = (line: string) => new EntryBuilder().add(rec(line)).entry;

  it('plain search is literal and case-insensitive, with highlight ranges', () => {
    const m = compileSearch('a.b', 'plain') as Matcher;
    assert.ok(m.test(entry('xx A.B yy')));
    assert.ok(!m.test(entry('axb')));
    assert.deepEqual(m.ranges('a.b and A.B'), [
      [0, 3],
      [8, 11],
    ]);
  });

  it('regex search matches and reports a bad pattern with the reason', () => {
    const m = compileSearch('req-\\d+$', 'regex') as Matcher;
    assert.ok(m.test(entry('done req-42')));
    assert.ok(!m.test(entry('done req-42 later')));
    const bad = compileSearch('(', 'regex');
    assert.ok(isSearchError(bad));
    assert.match(bad.error, /^regex: .*(Unterminated group|unterminated)/i);
    assert.equal(compileSearch('', 'regex'), undefined);
  });

  it('an empty-width regex highlights nothing and terminates', () => {
    const m = compileSearch('x*', 'regex') as Matcher;
    assert.deepEqual(m.ranges('abc'), []);
  });

  it('finds text in grouped continuation lines', () => {
    const b = new EntryBuilder();
    const { entry: e } = b.add(rec('boom'));
    b.add(rec('  at deep.frame(File.java:1)'));
    assert.ok((compileSearch('deep\\.frame', 'regex') as Matcher).test(e));
  });
});

describe('LogModel', () => {
  const many = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) =>
      rec(`line ${from + i}`, {
        time: new Date(Date.UTC(2026, 11, 7, 10, 0, 0) + (from + i) * 10).toISOString(),
      }),
    );

  it('holds at most its capacity, however many lines arrive', () => {
    const m = new LogModel(1000);
    for (let i = 0; i < 50; i++) m.add(many(500, i * 500));
    assert.equal(m.size, 1000);
    assert.equal(m.at(0)?.line, 'line 24000');
    assert.equal(m.at(999)?.line, 'line 24999');
  });

  it('a search keeps only matching entries, follows new ones and drops those the ring dropped', () => {
    const m = new LogModel(100);
    m.add(many(100));
    m.setMatcher(compileSearch('line \\d*7$', 'regex') as Matcher);
    assert.equal(m.size, 10);
    m.add(many(50, 100));
    // 50 old ones fell off (line 0..49: 5 matches gone), 5 new matches came.
    assert.equal(m.size, 10);
    assert.equal(m.at(0)?.line, 'line 57');
    assert.equal(m.at(9)?.line, 'line 147');
    m.setMatcher(undefined);
    assert.equal(m.size, 100);
  });

  it('a search over many held lines is applied a chunk at a time, new lines joining in order', () => {
    const m = new LogModel(20_000);
    m.add(many(20_000));
    m.setMatcher(compileSearch('7$', 'regex') as Matcher);
    assert.ok(m.scanning, 'one chunk of 20,000 lines tested at once, not all');
    assert.equal(m.size, 500);
    // Lines arriving mid-scan (and old ones falling off) keep the matches in order, none twice.
    m.add(many(100, 20_000));
    while (!m.scan()) {
      // a frame each
    }
    assert.equal(m.size, 2000);
    const seqs = m.shown().map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.equal(new Set(seqs).size, seqs.length);
    assert.equal(m.at(0)?.line, 'line 107');
    assert.equal(m.at(1999)?.line, 'line 20097');
  });

  it('pause holds new lines (bounded) and resume shows them', () => {
    const m = new LogModel(100);
    m.add(many(10));
    m.pause();
    m.add(many(150, 10));
    assert.equal(m.size, 10);
    assert.equal(m.heldCount, 100);
    assert.equal(m.heldDropped, 50);
    m.resume();
    assert.equal(m.size, 100);
    assert.equal(m.at(99)?.line, 'line 159');
  });

  it('finds the first entry at or after a time', () => {
    const m = new LogModel(100);
    m.add(many(100));
    const t = Date.UTC(2026, 11, 7, 10, 0, 0) + 425;
    assert.equal(m.at(m.indexAtTime(t))?.line, 'line 43');
    assert.equal(m.indexAtTime(t + 10_000), -1);
  });

  it('an expanded stack trace pushes the rows below it down', () => {
    const m = new LogModel(100);
    m.add([rec('a'), rec('boom'), rec('  at x'), rec('  at y'), rec('c')]);
    assert.equal(m.size, 3);
    assert.equal(m.rows, 3);
    const boom = m.at(1);
    assert.ok(boom);
    m.toggleExpanded(boom.seq);
    assert.equal(m.rows, 5);
    assert.equal(m.rowOf(2), 4);
    assert.equal(m.indexAtRow(3), 1);
    assert.equal(m.indexAtRow(4), 2);
  });
});
