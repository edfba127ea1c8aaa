import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  ERROR_CODES,
  errorCode,
  FailedPreconditionError,
  fromWire,
  httpStatus,
  InvalidArgumentError,
  isNotFound,
  NotFoundError,
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
  });

  it('round-trip through the wire form, unknown codes becoming Internal', () => {
    assert.equal(fromWire('NotFound', 'gone').code, 'NotFound');
    assert.equal(fromWire('Bogus', 'huh').code, 'Internal');
  });

  it('are all documented in src/README.md', () => {
    const doc = readFileSync(new URL('../../../src/README.md', import.meta.url), 'utf8');
    for (const code of ERROR_CODES)
      assert.match(doc, new RegExp(`\\b${code}\\b`), `${code} missing from src/README.md`);
  });
});
