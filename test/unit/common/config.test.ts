import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConfigTable, describeConfig, validateConfig } from '../../../runtime/base/config.js';
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
});
