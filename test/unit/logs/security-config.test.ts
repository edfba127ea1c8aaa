/**
 * Issue 12 item 15: the `logs.*` rows of the handshake and TLS, and the
 * errors for pairs that only make sense together (each naming the field).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import { parseLogShippingConfig } from '../../../sidecar/logs/config.js';

const refused = (src: Record<string, unknown>, field: RegExp, env: NodeJS.ProcessEnv = {}) =>
  assert.throws(
    () => parseLogShippingConfig([src], env),
    (e: unknown) => isInvalidArgument(e) && field.test(String(e)),
  );

describe('logs handshake and TLS options', () => {
  test('shared key, user and password file, client certificate are read into the config', () => {
    const c = parseLogShippingConfig([
      {
        tls: true,
        tls_ca: '/ca.pem',
        tls_cert: '/c.pem',
        tls_key: '/c.key',
        shared_key_file: '/key',
        username: 'berth',
        password_file: '/pw',
        self_hostname: 'node1',
      },
    ]);
    assert.equal(c.tlsCert, '/c.pem');
    assert.equal(c.tlsKey, '/c.key');
    assert.equal(c.sharedKeyFile, '/key');
    assert.equal(c.username, 'berth');
    assert.equal(c.passwordFile, '/pw');
    assert.equal(c.selfHostname, 'node1');
  });

  test('the shared key and the password may come from the environment', () => {
    const c = parseLogShippingConfig([{ username: 'u' }], {
      BERTH_LOGS_SHARED_KEY: 'k',
      BERTH_LOGS_PASSWORD: 'p',
    });
    assert.equal(c.sharedKey, 'k');
    assert.equal(c.password, 'p');
  });

  test('bad combinations are refused naming the field and the reason', () => {
    refused({ password: 'x' }, /logs\.password: not taken from the config file/);
    refused({ tls: true, tls_cert: '/c.pem' }, /logs\.tls_key: tls_cert and tls_key go together/);
    refused({ tls_ca: '/ca.pem' }, /logs\.tls_ca: set logs\.tls: true/);
    refused({ shared_key: 'a', shared_key_file: '/k' }, /logs\.shared_key_file: give the shared key once/);
    refused({ shared_key: 'a', username: 'u' }, /logs\.username: needs a password/);
    refused(
      { shared_key: 'a', password_file: '/pw' },
      /logs\.password_file: a password needs logs\.username/,
    );
    refused({ username: 'u', password_file: '/pw' }, /logs\.username: .*needs logs\.shared_key/);
  });
});
