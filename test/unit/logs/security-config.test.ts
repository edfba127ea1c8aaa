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
        tlsCa: '/ca.pem',
        tlsCert: '/c.pem',
        tlsKey: '/c.key',
        sharedKeyFile: '/key',
        username: 'berth',
        passwordFile: '/pw',
        selfHostname: 'node1',
      },
    ]);
    assert.equal(c.tlsCert, '/c.pem');
    assert.equal(c.tlsKey, '/c.key');
    assert.equal(c.sharedKeyFile, '/key');
    assert.equal(c.username, 'berth');
    assert.equal(c.passwordFile, '/pw');
    assert.equal(c.selfHostname, 'node1');
  });

  test('the old snake_case spellings still work, each reported as deprecated', () => {
    const heard: string[] = [];
    const c = parseLogShippingConfig(
      [
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
      ],
      {},
      (alias, key) => heard.push(`${alias}->${key}`),
    );
    assert.equal(c.tlsCa, '/ca.pem');
    assert.equal(c.tlsCert, '/c.pem');
    assert.equal(c.tlsKey, '/c.key');
    assert.equal(c.sharedKeyFile, '/key');
    assert.equal(c.passwordFile, '/pw');
    assert.equal(c.selfHostname, 'node1');
    assert.deepEqual(heard, [
      'logs.tls_ca->logs.tlsCa',
      'logs.tls_cert->logs.tlsCert',
      'logs.tls_key->logs.tlsKey',
      'logs.shared_key_file->logs.sharedKeyFile',
      'logs.password_file->logs.passwordFile',
      'logs.self_hostname->logs.selfHostname',
    ]);
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
    refused({ tls: true, tlsCert: '/c.pem' }, /logs\.tlsKey: tlsCert and tlsKey go together/);
    refused({ tlsCa: '/ca.pem' }, /logs\.tlsCa: set logs\.tls: true/);
    refused({ sharedKey: 'a', sharedKeyFile: '/k' }, /logs\.sharedKeyFile: give the shared key once/);
    refused({ sharedKey: 'a', username: 'u' }, /logs\.username: needs a password/);
    refused({ sharedKey: 'a', passwordFile: '/pw' }, /logs\.passwordFile: a password needs logs\.username/);
    refused({ username: 'u', passwordFile: '/pw' }, /logs\.username: .*needs logs\.sharedKey/);
    // An old spelling is refused with the new name, as validation sees the key.
    refused({ tls_ca: '/ca.pem' }, /logs\.tlsCa: set logs\.tls: true/);
    refused({ tls_ca: '/a.pem', tlsCa: '/b.pem' }, /logs\.tls_ca: is the old name of logs\.tlsCa/);
  });
});
