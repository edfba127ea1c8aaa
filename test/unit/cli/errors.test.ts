import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ERROR_CODES,
  fromWire,
  InvalidArgumentError,
  UnauthenticatedError,
} from '../../../runtime/base/errors.js';
import { CLI_ERRORS, cliError } from '../../../src/cli/errors.js';

test('the CLI maps every code of the closed set, and only those', () => {
  assert.deepEqual(Object.keys(CLI_ERRORS).sort(), [...ERROR_CODES].sort());
  // Docker's convention for the CLI's own failures: 125 whatever the code.
  for (const code of ERROR_CODES) assert.equal(CLI_ERRORS[code].exit, 125, code);
});

test('an error is one line naming the problem, with a hint where the fix is the user', () => {
  assert.deepEqual(cliError(fromWire('NotFound', 'no such container: web')), {
    line: 'berth: no such container: web',
    exit: 125,
  });
  assert.deepEqual(cliError(new UnauthenticatedError('missing or wrong bearer token')), {
    line: "berth: missing or wrong bearer token (set BERTH_TOKEN to the agent's apiToken)",
    exit: 125,
  });
  assert.equal(cliError(new Error('boom')).line, 'berth: boom');
  // For run's flags an InvalidArgument names the flag as typed; elsewhere the message is as is.
  const bad = new InvalidArgumentError('memory: must be a size like 64m, got "lots"', { field: 'memory' });
  assert.match(cliError(bad, { nameFlags: true }).line, /^berth: -m\/--memory \(memory\): /);
  assert.match(cliError(bad).line, /^berth: memory: /);
});
