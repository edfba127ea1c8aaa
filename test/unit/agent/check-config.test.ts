/**
 * `berth agent --check-config` (src/agent/check.ts): the config from flags,
 * env and --config checked as a start checks it, printed with every default
 * and secrets redacted; a bad value refused with the field and the reason,
 * exit 125. It touches nothing: the state root, run dir and socket it names
 * do not exist afterwards, and a metrics port already in use does not fail it
 * (it binds nothing). A real start refuses the same inputs with the same line
 * before it creates a directory.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { errorCode, InvalidArgumentError } from '../../../runtime/base/errors.js';
import { checkAgentConfig } from '../../../src/agent/check.js';
import { runCli } from '../../harness/agent.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

let dir = '';
/** Paths inside `dir` that nothing may create. */
let places: string[] = [];
let placeFlags: string[] = [];
const env = { BERTH_FROM_SOURCE: '1' };

before(async () => {
  dir = await tempDir('check-config');
  places = [join(dir, 'state'), join(dir, 'run'), join(dir, 'api.sock')];
  placeFlags = ['--state-root', places[0] ?? '', '--run-dir', places[1] ?? '', '--socket', places[2] ?? ''];
});
after(() => removeDir(dir));

/** The InvalidArgumentError `flags` (and `env`) give, with its field. */
async function refusal(
  flags: Record<string, string>,
  e: NodeJS.ProcessEnv = {},
): Promise<InvalidArgumentError> {
  try {
    await checkAgentConfig(flags, e);
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(flags)}`);
}

describe('checkAgentConfig', () => {
  test('fills in every default, typed (durations in ms, sizes in bytes), sections included', async () => {
    const c = await checkAgentConfig({}, {});
    assert.equal(c.stateRoot, '/var/lib/berth');
    assert.equal(c.stopTimeout, 10_000);
    assert.equal(c.logMaxSize, 10 * 1024 * 1024);
    assert.equal(typeof c.nodeName, 'string');
    const metrics = c.metrics as Record<string, unknown>;
    assert.equal(metrics.listen, '127.0.0.1:9338');
    assert.equal(metrics.roots, '/proc:/sys:/sys/fs/cgroup');
    assert.equal((c.logs as Record<string, unknown>).shipping, false, 'no receiver named: no shipping');
    assert.equal(
      (c.haproxy as Record<string, unknown>).frontendAllow,
      'loopback:1024-65535, gateway:1024-65535',
    );
    assert.equal((c.dns as Record<string, unknown>).tcpMaxConnections, 256);
    assert.equal((c.consulClient as Record<string, unknown>).checkTtl, 30_000);
  });

  test('flags over env over file, as a start merges them', async () => {
    const file = join(dir, 'merge.json');
    await writeFile(
      file,
      JSON.stringify({ datacenter: 'file-dc', logLevel: 'warn', metrics: { gzip: true } }),
    );
    const c = await checkAgentConfig({ config: file, logLevel: 'debug' }, { BERTH_LOG_LEVEL: 'error' });
    assert.equal(c.datacenter, 'file-dc');
    assert.equal(c.logLevel, 'debug');
    assert.equal((c.metrics as Record<string, unknown>).gzip, true);
    const fromEnv = await checkAgentConfig({ config: file }, { BERTH_LOG_LEVEL: 'error' });
    assert.equal(fromEnv.logLevel, 'error');
  });

  test('log records name the node (nodeName), not the host name, unless logs.host is given', async () => {
    const c = await checkAgentConfig({ fluentd: 'fluentd:24224' }, { BERTH_NODE_NAME: 'node-7' });
    assert.equal((c.logs as Record<string, unknown>).host, 'node-7');
    const file = join(dir, 'logs-host.json');
    await writeFile(file, JSON.stringify({ logs: { host: 'edge-1' } }));
    const given = await checkAgentConfig({ config: file }, { BERTH_NODE_NAME: 'node-7' });
    assert.equal((given.logs as Record<string, unknown>).host, 'edge-1');
  });

  test('secrets are shown as <redacted>, never their value', async () => {
    const file = join(dir, 'secrets.json');
    await writeFile(file, JSON.stringify({ logs: { username: 'me' } }));
    const c = await checkAgentConfig(
      { config: file, apiTcp: '127.0.0.1:2375', fluentd: 'fluentd.example:24224' },
      {
        BERTH_API_TOKEN: 'api-secret',
        CONSUL_HTTP_TOKEN: 'consul-secret',
        BERTH_LOGS_SHARED_KEY: 'shared-secret',
        BERTH_LOGS_PASSWORD: 'password-secret',
      },
    );
    const text = JSON.stringify(c);
    for (const secret of ['api-secret', 'consul-secret', 'shared-secret', 'password-secret']) {
      assert.ok(!text.includes(secret), `${secret} leaked`);
    }
    assert.equal(c.apiToken, '<redacted>');
    assert.equal(c.consulToken, '<redacted>');
    const logs = c.logs as Record<string, unknown>;
    assert.equal(logs.sharedKey, '<redacted>');
    assert.equal(logs.password, '<redacted>');
    assert.equal(logs.shipping, true);
  });

  // field given → field named in the error, and the reason
  const cases: Array<[string, Record<string, string>, NodeJS.ProcessEnv, string, RegExp]> = [
    [
      'unknown flag key',
      { metricListen: '1' },
      {},
      'metricListen',
      /unknown key \(did you mean metricsListen\?\)/,
    ],
    ['enum', { logLevel: 'loud' }, {}, 'logLevel', /must be one of trace, debug/],
    ['metrics listen', { metricsListen: 'a:b:c' }, {}, 'metrics.listen', /more than one ':'/],
    ['metrics port', { metricsListen: '0.0.0.0:70000' }, {}, 'metrics.listen', /70000/],
    ['dns listen', { dnsListen: '127.0.0.1:53,nope:x' }, {}, 'dnsListen[1]', /nope:x/],
    ['dns upstream', { dnsUpstreams: 'resolver.example' }, {}, 'dnsUpstreams[0]', /not an IP address/],
    ['consul scheme', { consul: 'ftp://consul:8500' }, {}, 'consul', /scheme ftp/],
    ['consul path', { consul: 'consul:8500/v1' }, {}, 'consul', /path/],
    ['consul credentials', { consul: 'https://me:pw@consul:8501' }, {}, 'consul', /consulToken/],
    ['consul from env', {}, { CONSUL_HTTP_ADDR: 'http://[bad' }, 'consul', /does not parse/],
    ['subnet', { subnet: '10.88.0.0/33' }, {}, 'subnet', /./],
    ['fluentd server', { fluentd: 'fluentd:0' }, {}, 'logs.servers', /./],
    ['api tcp without token', { apiTcp: '127.0.0.1:2375' }, {}, 'apiToken', /needs a token/],
    ['api tls half', { apiTlsCert: '/x.pem' }, {}, 'apiTlsKey', /go together/],
  ];
  for (const [name, flags, e, field, reason] of cases) {
    test(`refuses a bad ${name}, naming ${field}`, async () => {
      const err = await refusal(flags, e);
      assert.equal(err.field?.startsWith(field.replace(/\[.*$/, '')), true, `field ${err.field}`);
      assert.ok(err.message.startsWith(`${field}`), err.message);
      assert.match(err.message, reason);
      assert.equal(errorCode(err), 'InvalidArgument');
    });
  }

  test('config file sections are checked by their own tables', async () => {
    const file = join(dir, 'sections.json');
    await writeFile(file, JSON.stringify({ haproxy: { bindAddress: 'localhost' } }));
    let err = await refusal({ config: file });
    assert.equal(err.field, 'haproxy.bindAddress');
    await writeFile(file, JSON.stringify({ logs: { tlsCa: '/x', tlsCert: 1 } }));
    err = await refusal({ config: file });
    assert.equal(err.field, 'logs.tlsCert');
    await writeFile(file, JSON.stringify({ dns: { maxUdpSize: 'big' } }));
    err = await refusal({ config: file });
    assert.equal(err.field, 'dns.maxUdpSize');
    await writeFile(file, JSON.stringify({ metrics: { roots: 'proc:sys' } }));
    err = await refusal({ config: file });
    assert.equal(err.field, 'metrics.roots');
  });

  test('observing: the host root must hold proc and sys/fs/cgroup, and metrics.roots follows it', async () => {
    const host = join(dir, 'host');
    const missing = await refusal({ mode: 'observe', hostRoot: host });
    assert.equal(missing.field, 'hostRoot');
    assert.match(missing.message, /host\/proc \(the host's \/proc\) is not a readable directory: ENOENT/);
    await mkdir(join(host, 'proc'), { recursive: true });
    assert.match((await refusal({ mode: 'observe', hostRoot: host })).message, /sys\/fs\/cgroup/);
    await mkdir(join(host, 'sys/fs/cgroup'), { recursive: true });
    const c = await checkAgentConfig({ mode: 'observe', hostRoot: host }, {});
    assert.equal(
      (c.metrics as Record<string, unknown>).roots,
      `${host}/proc:${host}/sys:${host}/sys/fs/cgroup`,
    );
    const file = join(dir, 'roots.json');
    await writeFile(file, JSON.stringify({ metrics: { roots: `${host}/proc:/sys:${host}/sys/fs/cgroup` } }));
    const given = await checkAgentConfig({ mode: 'both', hostRoot: host, config: file }, {});
    assert.equal(
      (given.metrics as Record<string, unknown>).roots,
      `${host}/proc:/sys:${host}/sys/fs/cgroup`,
      'the file wins',
    );
    // run mode reads no host root: nothing is checked there.
    await checkAgentConfig({ mode: 'run', hostRoot: join(dir, 'nowhere') }, {});
  });

  test('files the config names must be readable (when the start will read them)', async () => {
    const file = join(dir, 'files.json');
    const missing = join(dir, 'no-such-ca.pem');
    await writeFile(file, JSON.stringify({ logs: { tls: true, tlsCa: missing } }));
    // No receiver named: shipping is off and the start never reads it.
    await checkAgentConfig({ config: file }, {});
    const err = await refusal({ config: file, fluentd: 'fluentd.example:24224' });
    assert.equal(err.field, 'logs.tlsCa');
    assert.match(err.message, /cannot read .*no-such-ca\.pem: ENOENT/);
    const key = await refusal(
      { apiTcp: '127.0.0.1:0', apiTlsCert: missing, apiTlsKey: missing },
      { BERTH_API_TOKEN: 't' },
    );
    assert.equal(key.field, 'apiTlsCert');
    await writeFile(file, JSON.stringify({ haproxy: { templatePath: missing } }));
    assert.equal((await refusal({ config: file })).field, 'haproxy.templatePath');
    assert.ok(
      await checkAgentConfig({ config: file, haproxy: 'off' }, {}),
      'an HAProxy that is off has its section ignored',
    );
  });
});

describe('berth agent --check-config (the CLI)', () => {
  let busy: Server | undefined;
  after(() => busy?.close());

  test('prints the effective config as JSON and exits 0, having touched nothing', async () => {
    // A port in use: a start would fail to serve /metrics there; the check binds nothing, so it passes.
    busy = createServer();
    await new Promise<void>((r) => busy?.listen(0, '127.0.0.1', r));
    const addr = busy.address();
    assert.ok(addr && typeof addr === 'object');
    const r = await runCli(
      [
        'agent',
        '--check-config',
        ...placeFlags,
        '--metrics-listen',
        `127.0.0.1:${addr.port}`,
        '--dns-listen',
        '127.0.0.1:53',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(c.metricsListen, `127.0.0.1:${addr.port}`);
    assert.equal(c.stateRoot, places[0]);
    for (const p of places) assert.equal(existsSync(p), false, `${p} was created`);
  });

  test('a bad value exits 125 with one line naming the field; a real start refuses it the same way first', async () => {
    const bad = [
      ['--metrics-listen', 'a:b:c'],
      ['--consul', 'ftp://consul'],
      ['--dns-upstreams', 'resolver.example'],
    ];
    for (const [flag, value] of bad) {
      const check = await runCli(['agent', '--check-config', ...placeFlags, flag ?? '', value ?? ''], env);
      assert.equal(check.code, 125, `${flag}: ${check.stdout}`);
      assert.equal(check.stdout, '');
      const line = check.stderr.trim();
      assert.match(line, /^berth: (metrics\.listen|consul|dnsUpstreams\[0\]): /);
      const start = await runCli(['agent', ...placeFlags, flag ?? '', value ?? ''], env, {
        timeoutMs: 30_000,
      });
      assert.equal(start.code, 125);
      assert.equal(start.stderr.trim(), line, 'the start says the same');
      for (const p of places) assert.equal(existsSync(p), false, `${p} was created by the refused start`);
    }
  });

  test('an unreadable config file and an unknown flag are refused too', async () => {
    const file = join(dir, 'unreadable.json');
    await writeFile(file, '{"nope": 1}');
    let r = await runCli(['agent', '--check-config', '--config', file], env);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^berth: nope: unknown key/);
    r = await runCli(['agent', '--check-config', '--config', join(dir, 'missing.json')], env);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^berth: --config: cannot read .*missing\.json/);
    r = await runCli(['agent', '--check-config', '--no-such-flag', 'x'], env);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /unknown option '--no-such-flag'/);
  });
});
