import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import { normalizeSignal, signalFromExitCode } from '../../../runtime/exec/signals.js';

test('signals are accepted by short name, full name, any case, or number', () => {
  for (const s of ['TERM', 'SIGTERM', 'sigterm', 'term', '15', ' 15 '])
    assert.equal(normalizeSignal(s), 'SIGTERM');
  assert.equal(normalizeSignal('9'), 'SIGKILL');
  assert.equal(normalizeSignal('HUP'), 'SIGHUP');
  assert.equal(normalizeSignal('40'), '40');
});

test('unknown signals are InvalidArgument on the signal field', () => {
  for (const s of ['BOGUS', '0', '99', '', 'SIG']) {
    assert.throws(
      () => normalizeSignal(s),
      (e: unknown) => isInvalidArgument(e) && (e as { field?: string }).field === 'signal',
      s,
    );
  }
});

test('exit codes above 128 name the signal that caused them', () => {
  assert.equal(signalFromExitCode(137), 'SIGKILL');
  assert.equal(signalFromExitCode(143), 'SIGTERM');
  assert.equal(signalFromExitCode(134), 'SIGABRT');
  assert.equal(signalFromExitCode(128), undefined);
  assert.equal(signalFromExitCode(3), undefined);
  assert.equal(signalFromExitCode(255), undefined);
});
