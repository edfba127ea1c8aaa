/**
 * Multiline start patterns come from image labels: a pattern that makes a
 * backtracking engine run for minutes must not freeze the agent (issue 12
 * item 6). The evil pattern runs in a child process here so that, on a
 * backtracking engine, the test fails after its budget instead of hanging.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MULTILINE_PATTERN_MAX_CHARS, MULTILINE_SCAN_MAX_CHARS } from '../../../sidecar/logs/line-pattern.js';
import { compileMultiline } from '../../../sidecar/logs/record.js';

/** Runs compileMultiline(pattern).test(text) in a child node; undefined when it did not finish in budgetMs. */
async function testInChild(pattern: string, text: string, budgetMs: number): Promise<boolean | undefined> {
  const url = new URL('../../../sidecar/logs/record.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(url)}).then((m) => process.stdout.write(String(m.compileMultiline(process.argv[1], 'label berth.logs.multiline').test(process.argv[2]))))`;
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', code, pattern, text], {
      timeout: budgetMs,
      killSignal: 'SIGKILL',
    });
    return r.stdout === 'true';
  } catch (err) {
    if ((err as { killed?: boolean }).killed) return undefined;
    throw err;
  }
}

describe('multiline start patterns (RE2: linear time)', () => {
  it('answers ^(a+)+$ on 40 a’s and a b at once (a backtracking engine takes 2^40 steps)', async () => {
    const result = await testInChild('^(a+)+$', `${'a'.repeat(40)}b`, 15_000);
    assert.notEqual(result, undefined, 'the pattern did not finish within 15 s: a backtracking engine');
    assert.equal(result, false);
  });

  it('matches as a RegExp would on ordinary patterns', () => {
    const p = compileMultiline('^\\d{4}-\\d{2}-\\d{2} ', 'multiline_start');
    assert.equal(p.test('2026-12-07 12:00:00 ERROR boom'), true);
    assert.equal(p.test('    at Object.<anonymous> (/app/x.js:1:1)'), false);
    assert.equal(compileMultiline('^\\S').test('Traceback'), true);
  });

  it('refuses what RE2 cannot do in linear time, naming the field and the reason', () => {
    assert.throws(
      () => compileMultiline('^(a)\\1', 'label berth.logs.multiline'),
      (err: Error & { code?: string }) =>
        err.code === 'InvalidArgument' &&
        /^label berth\.logs\.multiline: .* not a valid RE2 regular expression/.test(err.message) &&
        /backreferences or lookaround/.test(err.message),
    );
    assert.throws(() => compileMultiline('^(?=x)'), /not a valid RE2 regular expression/);
  });

  it('refuses a pattern longer than the cap and Unicode property classes', () => {
    assert.throws(
      () => compileMultiline('a'.repeat(MULTILINE_PATTERN_MAX_CHARS + 1), 'label berth.logs.multiline'),
      new RegExp(`at most ${MULTILINE_PATTERN_MAX_CHARS}`),
    );
    assert.throws(() => compileMultiline('^\\p{L}'), /Unicode property class/);
  });

  it(`sees only the first ${MULTILINE_SCAN_MAX_CHARS} characters of a line`, () => {
    const p = compileMultiline('MARK');
    assert.equal(p.test(`${'x'.repeat(MULTILINE_SCAN_MAX_CHARS - 4)}MARK`), true);
    assert.equal(p.test(`${'x'.repeat(MULTILINE_SCAN_MAX_CHARS)}MARK`), false);
  });
});
