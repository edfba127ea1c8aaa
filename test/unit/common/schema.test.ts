import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { checker, fieldOf, Notation, REASON, StringEnum } from '../../../runtime/base/schema.js';

/** The field and message of the error `check(value)` throws. */
function refusal(check: (v: unknown) => unknown, value: unknown): [string | undefined, string] {
  try {
    check(value);
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, String(err));
    return [err.field, err.message];
  }
  assert.fail(`accepted ${JSON.stringify(value)}`);
}

describe('request schemas (runtime/base/schema.ts)', () => {
  it("spells ajv's instance paths the way users read fields", () => {
    assert.equal(fieldOf('', 'request'), 'request');
    assert.equal(fieldOf('/ports/0', 'request'), 'ports[0]');
    assert.equal(fieldOf('/healthcheck/interval', 'request'), 'healthcheck.interval');
    assert.equal(fieldOf('/labels/a~1b~0c', 'request'), 'labels.a/b~c');
    assert.equal(fieldOf('/healthcheck', 'request', 'every'), 'healthcheck.every');
  });

  const check = checker(
    Type.Object(
      {
        image: Type.String({ pattern: '\\S', [REASON]: 'an image reference is required' }),
        ports: Type.Optional(Type.Array(Type.String())),
        mode: Type.Optional(StringEnum(['a', 'b'] as const, 'must be a or b, got {value}')),
        memory: Type.Optional(Notation('a size')),
        on: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    'request',
  );

  it('names the field and the reason of the first problem', () => {
    assert.deepEqual(refusal(check, 'x'), ['request', 'request: must be an object, got "x"']);
    assert.deepEqual(refusal(check, {}), ['image', 'image: an image reference is required']);
    assert.deepEqual(refusal(check, { image: ' ' }), ['image', 'image: an image reference is required']);
    assert.deepEqual(refusal(check, { image: 'x', port: 1 }), ['port', 'port: unknown key']);
    assert.deepEqual(refusal(check, { image: 'x', ports: 'x' }), [
      'ports',
      'ports: must be a list of strings, got "x"',
    ]);
    assert.deepEqual(refusal(check, { image: 'x', ports: ['1', 2] }), [
      'ports[1]',
      'ports[1]: must be a string, got 2',
    ]);
    assert.deepEqual(refusal(check, { image: 'x', mode: 'c' }), ['mode', 'mode: must be a or b, got "c"']);
    assert.deepEqual(refusal(check, { image: 'x', mode: 1 }), ['mode', 'mode: must be a string, got 1']);
    assert.deepEqual(refusal(check, { image: 'x', memory: true }), [
      'memory',
      'memory: must be a string or a number, got true',
    ]);
    assert.deepEqual(refusal(check, { image: 'x', on: 'yes' }), [
      'on',
      'on: must be true or false, got "yes"',
    ]);
  });

  it('takes a value as sent: no coercion, no defaults, nothing removed', () => {
    const v = { image: 'x', memory: 64, ports: [] };
    assert.equal(check(v), v);
    assert.deepEqual(v, { image: 'x', memory: 64, ports: [] });
    assert.deepEqual(refusal(check, { image: 'x', on: 1 })[0], 'on');
  });
});
