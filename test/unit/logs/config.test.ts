import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { describeConfig } from '../../../runtime/base/config.js';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import { LOG_SHIPPING_CONFIG, parseLogShippingConfig, parseServer } from '../../../sidecar/logs/config.js';
import { LogPipeline } from '../../../sidecar/logs/pipeline.js';

describe('log shipping config', () => {
  test('defaults', () => {
    const c = parseLogShippingConfig([]);
    assert.deepEqual(c.servers, [{ host: '127.0.0.1', port: 24224 }]);
    assert.equal(c.requireAck, true);
    assert.equal(c.tag, 'berth.{{.Name}}');
    assert.equal(c.maxLineBytes, 16 * 1024);
    assert.equal(c.ackTimeoutMs, 10_000);
    assert.ok(c.host.length > 0);
  });

  test('values from file, env and flags; units parsed', () => {
    const c = parseLogShippingConfig(
      [{ servers: 'a:1,[::1]:2,b', spoolMaxBytes: '1g' }, { ackTimeout: '3s' }],
      { BERTH_LOGS_SERVERS: 'ignored:9' },
    );
    assert.deepEqual(c.servers, [
      { host: 'a', port: 1 },
      { host: '::1', port: 2 },
      { host: 'b', port: 24224 },
    ]);
    assert.equal(c.spoolMaxBytes, 1024 ** 3);
    assert.equal(c.ackTimeoutMs, 3000);
  });

  test('unknown keys and bad values name the key', () => {
    assert.throws(
      () => parseLogShippingConfig([{ requre_ack: true }]),
      (e) =>
        isInvalidArgument(e) &&
        /logs\.requre_ack: unknown key \(did you mean logs\.requireAck\?\)/.test(String(e)),
    );
    assert.throws(
      () => parseLogShippingConfig([{ requireAk: true }]),
      (e) =>
        isInvalidArgument(e) &&
        /logs\.requireAk: unknown key \(did you mean logs\.requireAck\?\)/.test(String(e)),
    );
    assert.throws(
      () => parseServer('a:99999'),
      (e) => isInvalidArgument(e) && /logs\.servers/.test(String(e)),
    );
  });

  test('a bad tag template or multiline regex is rejected when the pipeline is built', () => {
    const c = parseLogShippingConfig([{ tag: 'x.{{.Bogus}}' }]);
    assert.throws(
      () =>
        new LogPipeline({
          source: {} as never,
          output: {} as never,
          positions: {} as never,
          spoolDir: '/x',
          options: c,
        }),
      (e) => isInvalidArgument(e) && /logs\.tag/.test(String(e)),
    );
  });

  test('the README option table is the config table', () => {
    const readme = readFileSync(new URL('../../../sidecar/logs/README.md', import.meta.url), 'utf8');
    // The formatter pads markdown tables; compare without padding.
    const squash = (t: string) => t.replace(/[ -]+/g, '');
    assert.ok(
      squash(readme).includes(squash(describeConfig(LOG_SHIPPING_CONFIG, 'logs.'))),
      'regenerate the table in sidecar/logs/README.md',
    );
  });
});
