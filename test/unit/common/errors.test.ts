import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  ERROR_CODES,
  errorCode,
  FailedPreconditionError,
  fromWire,
  HTTP_STATUS,
  httpStatus,
  InvalidArgumentError,
  isNotFound,
  isUnauthenticated,
  NotFoundError,
  UnauthenticatedError,
  UnavailableError,
} from '../../../runtime/base/errors.js';

describe('errors', () => {
  it('carry a stable code and keep the field that was wrong', () => {
    const e = new InvalidArgumentError('memory: must be a size', { field: 'memory' });
    assert.equal(e.code, 'InvalidArgument');
    assert.equal(e.field, 'memory');
    assert.equal(e.message, 'memory: must be a size');
  });

  it('are found through a cause chain', () => {
    const inner = new NotFoundError('no such container: web');
    const outer = new Error('start failed', { cause: new Error('wrapped', { cause: inner }) });
    assert.equal(errorCode(outer), 'NotFound');
    assert.ok(isNotFound(outer));
    assert.equal(errorCode(new Error('plain')), undefined);
  });

  it('map to HTTP statuses only by code', () => {
    assert.equal(httpStatus(new NotFoundError('x')), 404);
    assert.equal(httpStatus(new InvalidArgumentError('x')), 400);
    assert.equal(httpStatus(new FailedPreconditionError('x')), 412);
    assert.equal(httpStatus(new UnavailableError('x')), 503);
    assert.equal(httpStatus(new Error('x')), 500);
    assert.equal(httpStatus(new UnauthenticatedError('x')), 401);
  });

  it('round-trip through the wire form, unknown codes becoming Internal', () => {
    assert.equal(fromWire('NotFound', 'gone').code, 'NotFound');
    assert.equal(fromWire('Bogus', 'huh').code, 'Internal');
    // The TCP API's token refusal is in the closed set, so the CLI sees it as itself, not as Internal.
    assert.ok(isUnauthenticated(fromWire('Unauthenticated', 'missing or wrong bearer token')));
  });

  it('are all documented in src/README.md', () => {
    const doc = readFileSync(new URL('../../../src/README.md', import.meta.url), 'utf8');
    for (const code of ERROR_CODES)
      assert.match(doc, new RegExp(`\\b${code}\\b`), `${code} missing from src/README.md`);
  });

  it('src/README.md and src/api/README.md list exactly the closed set, each with its HTTP status', () => {
    const src = readFileSync(new URL('../../../src/README.md', import.meta.url), 'utf8');
    const table = Object.fromEntries(
      [...src.matchAll(/^\| `(\w+)`\s*\| (\d{3})\s*\|/gm)].map((m) => [m[1], Number(m[2])]),
    );
    assert.deepEqual(table, HTTP_STATUS, 'the code table in src/README.md');
    const api = readFileSync(new URL('../../../src/api/README.md', import.meta.url), 'utf8');
    const errors = api.slice(api.indexOf('## Errors'), api.indexOf('\n## ', api.indexOf('## Errors') + 1));
    const listed = Object.fromEntries(
      [...errors.matchAll(/\b([1-5]\d\d)\s+([A-Z][a-zA-Z]+)\b/g)].map((m) => [m[2], Number(m[1])]),
    );
    assert.deepEqual(listed, HTTP_STATUS, 'the status list under "Errors" in src/api/README.md');
  });
});
