import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ConfigOf,
  type ConfigTable,
  configDefaults,
  defineConfig,
  describeConfig,
  validateConfig,
} from '../../../runtime/base/config.js';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';

const table: ConfigTable = [
  { key: 'listen', type: 'string', default: '127.0.0.1:9100', description: 'address' },
  { key: 'interval', type: 'duration', default: '10s', description: 'scrape interval', min: 100 },
  { key: 'maxSize', type: 'bytes', default: '10m', description: 'rotate at' },
  { key: 'mode', type: 'enum', values: ['http', 'tcp'], default: 'http', description: 'mode' },
  { key: 'workers', type: 'int', default: 2, min: 1, max: 64, description: 'workers', env: 'T_WORKERS' },
  { key: 'enabled', type: 'bool', default: true, description: 'on' },
  { key: 'labels', type: 'string[]', default: [], description: 'allow-list' },
  { key: 'token', type: 'string', description: 'required token' },
];

function rejects(fn: () => unknown, field: string, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, 'InvalidArgumentError expected');
    assert.equal(err.field, field);
    assert.match(err.message, reason);
    return true;
  });
}

describe('config table', () => {
  it('applies defaults and coerces units', () => {
    const v = validateConfig(table, [{ token: 't' }]);
    assert.deepEqual(v, {
      listen: '127.0.0.1:9100',
      interval: 10_000,
      maxSize: 10 * 1024 * 1024,
      mode: 'http',
      workers: 2,
      enabled: true,
      labels: [],
      token: 't',
    });
  });

  it('lets later sources override earlier ones, and env sit below both', () => {
    const v = validateConfig(table, [{ token: 't', workers: 3 }, { workers: '5' }], {
      env: { T_WORKERS: '9' },
    });
    assert.equal(v.workers, 5);
    assert.equal(validateConfig(table, [{ token: 't' }], { env: { T_WORKERS: '9' } }).workers, 9);
  });

  it('rejects unknown keys naming the key and the nearest known one', () => {
    rejects(
      () => validateConfig(table, [{ token: 't', intervall: '5s' }], { prefix: 'metrics.' }),
      'metrics.intervall',
      /unknown key \(did you mean metrics\.interval\?\)/,
    );
  });

  it('rejects wrong types and ranges naming the key and the reason', () => {
    rejects(() => validateConfig(table, [{ token: 't', workers: 0 }]), 'workers', /at least 1/);
    rejects(() => validateConfig(table, [{ token: 't', workers: 1.5 }]), 'workers', /integer/);
    rejects(() => validateConfig(table, [{ token: 't', mode: 'udp' }]), 'mode', /one of http, tcp/);
    rejects(() => validateConfig(table, [{ token: 't', enabled: 'maybe' }]), 'enabled', /true or false/);
    rejects(() => validateConfig(table, [{ token: 't', interval: 'soon' }]), 'interval', /duration/);
    rejects(() => validateConfig(table, [{ token: 't', interval: '50ms' }]), 'interval', /at least 100/);
    rejects(() => validateConfig(table, [{}]), 'token', /required/);
  });

  it('writes the same table as docs', () => {
    const md = describeConfig(table, 'metrics.');
    assert.match(md, /\| `metrics\.workers` \| int \| `2` \| `T_WORKERS` \| workers \|/);
    assert.match(md, /\| `metrics\.token` \| string \| \(required\) \|/);
  });

  it('types its result from the rows of a defineConfig table', () => {
    const typed = defineConfig([
      { key: 'name', type: 'string', default: 'x', description: 'a string' },
      { key: 'timeout', type: 'duration', default: '2s', description: 'ms' },
      { key: 'cap', type: 'bytes', default: '1k', description: 'bytes' },
      { key: 'on', type: 'bool', default: false, description: 'a flag' },
      { key: 'list', type: 'string[]', default: ['a'], description: 'strings' },
      { key: 'mode', type: 'enum', values: ['a', 'b'], default: 'a', description: 'one of two' },
      { key: 'maybe', type: 'string', default: null, description: 'optional' },
    ]);
    const v = validateConfig(typed, [{ timeout: '1m' }]);
    // Each line compiles only with the inferred types (tsc checks the test files).
    const name: string = v.name;
    const timeout: number = v.timeout;
    const cap: number = v.cap;
    const on: boolean = v.on;
    const list: string[] = v.list;
    const mode: 'a' | 'b' = v.mode;
    const maybe: string | undefined = v.maybe;
    // @ts-expect-error: a key the table does not have
    assert.equal(v.nope, undefined);
    const same: ConfigOf<typeof typed> = v;
    assert.deepEqual(
      { name, timeout, cap, on, list, mode, maybe },
      {
        name: 'x',
        timeout: 60_000,
        cap: 1024,
        on: false,
        list: ['a'],
        mode: 'a',
        maybe: undefined,
      },
    );
    assert.equal(same.timeout, 60_000);
    assert.deepEqual(configDefaults(typed), {
      name: 'x',
      timeout: 2000,
      cap: 1024,
      on: false,
      list: ['a'],
      mode: 'a',
    });
  });

  describe('a renamed key keeps its old spelling as a deprecated alias', () => {
    const renamed = defineConfig([
      { key: 'maxLineBytes', aliases: ['max_line_bytes'], type: 'bytes', default: '16k', description: 'cap' },
      { key: 'tag', type: 'string', default: 't', description: 'tag' },
    ]);

    it('accepts the old spelling and reports it, prefixed, once per use', () => {
      const heard: string[] = [];
      const v = validateConfig(renamed, [{ max_line_bytes: '32k' }], {
        prefix: 'logs.',
        onDeprecated: (alias, key) => heard.push(`${alias} -> ${key}`),
      });
      assert.equal(v.maxLineBytes, 32 * 1024);
      assert.deepEqual(heard, ['logs.max_line_bytes -> logs.maxLineBytes']);
      assert.equal(
        validateConfig(renamed, [{ maxLineBytes: '1k' }], { onDeprecated: () => assert.fail() }).maxLineBytes,
        1024,
      );
    });

    it('a later source overrides an earlier one whichever spelling each uses', () => {
      assert.equal(
        validateConfig(renamed, [{ max_line_bytes: '1k' }, { maxLineBytes: '2k' }]).maxLineBytes,
        2048,
      );
      assert.equal(
        validateConfig(renamed, [{ maxLineBytes: '2k' }, { max_line_bytes: '1k' }]).maxLineBytes,
        1024,
      );
    });

    it('refuses both spellings in one source, naming both', () => {
      rejects(
        () => validateConfig(renamed, [{ max_line_bytes: '1k', maxLineBytes: '2k' }], { prefix: 'logs.' }),
        'logs.max_line_bytes',
        /old name of logs\.maxLineBytes: give only logs\.maxLineBytes/,
      );
    });

    it('still rejects unknown keys, hinting at the new name for a misspelt old one', () => {
      rejects(
        () => validateConfig(renamed, [{ max_line_byte: 1 }], { prefix: 'logs.' }),
        'logs.max_line_byte',
        /unknown key \(did you mean logs\.maxLineBytes\?\)/,
      );
    });

    it('documents the old spelling', () => {
      assert.match(
        describeConfig(renamed, 'logs.'),
        /cap Deprecated old name: `logs\.max_line_bytes`\. \|$/m,
      );
    });
  });
});
