/**
 * The container the chart renders is one berth accepts: for each value set,
 * the DaemonSet's args and env, its ConfigMap and Secrets laid out under a
 * temp dir (host paths included: chart.ts checkConfigOf), go to the real
 * `berth agent --check-config`, which must exit 0 and report the values the
 * user gave; a wrong value passes helm but is refused by berth, exit 125,
 * naming the field. Node reads NODE_EXTRA_CA_CERTS at start, so a CA the
 * chart mounts anywhere else than where it points would print Node's
 * warning: there is none.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClientCertificate, makeTestCertificates } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { checkConfigOf, render, type SecretFixture } from './chart.js';
import { secretsFor, VALUE_SETS } from './values.js';

let dir = '';
let secrets: SecretFixture = {};
before(async () => {
  dir = await tempDir('helm-check');
  const ca = await makeTestCertificates(dir);
  const client = await makeClientCertificate(dir, ca);
  secrets = secretsFor({
    ca: await readFile(ca.caCertPath, 'utf8'),
    cert: await readFile(client.certPath, 'utf8'),
    key: await readFile(client.keyPath, 'utf8'),
  });
});
after(() => removeDir(dir));

/** The chart rendered with `values`, checked by berth; the JSON it printed. */
async function accepted(name: string, values: Record<string, unknown>) {
  const { objects, run } = await render(dir, name, values);
  assert.equal(run.code, 0, run.stderr);
  const root = join(dir, `root-${name}`);
  const r = await checkConfigOf(objects, root, secrets);
  assert.equal(r.code, 0, `berth refused the ${name} chart's args ${r.args.join(' ')}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /Ignoring extra certs|Warning/);
  return { config: JSON.parse(r.stdout) as Record<string, unknown>, root, run: r };
}

describe('berth agent --check-config accepts what the chart renders', () => {
  test('default values: observe mode on the host roots, metrics and DNS on the pod address', async () => {
    const { config: c, root } = await accepted('default', VALUE_SETS.default ?? {});
    assert.equal(c.mode, 'observe');
    assert.equal(c.hostRoot, join(root, '/host'));
    assert.equal(c.nodeName, 'node-1');
    assert.equal(c.hostIp, '192.0.2.10');
    assert.equal(c.metricsListen, '0.0.0.0:9338');
    assert.deepEqual(c.dnsListen, ['0.0.0.0:8600']);
    assert.equal(c.haproxy, 'off');
    assert.equal(c.consul, undefined, 'no Consul: the local catalog');
    assert.deepEqual(c.fluentd, []);
    assert.equal(c.stateRoot, join(root, '/var/lib/berth'));
    const metrics = c.metrics as Record<string, unknown>;
    assert.equal(metrics.roots, `${join(root, '/host/proc')}:/sys:${join(root, '/host/sys/fs/cgroup')}`);
    assert.equal((c.logs as Record<string, unknown>).shipping, false);
    assert.equal((c.dashboard as Record<string, unknown>).enabled, false, 'no web dashboard in a node agent');
  });

  test('full values: Consul over TLS with its token, Fluentd over mutual TLS with a shared key and a password', async () => {
    const { config: c, root, run } = await accepted('full', VALUE_SETS.full ?? {});
    assert.equal(c.consul, 'https://consul.consul.svc:8501', 'TLS on: https:// added to the address');
    assert.equal(c.consulToken, '<redacted>');
    assert.equal(run.env.CONSUL_HTTP_TOKEN, 'consul-secret-token');
    assert.equal(run.env.NODE_EXTRA_CA_CERTS, join(root, '/etc/berth/secrets/consul-ca/ca.crt'));
    assert.equal(c.datacenter, 'eu-west');
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.registerAddress, 'container', 'extraArgs reach berth');
    assert.deepEqual(c.dnsListen, ['0.0.0.0:53']);
    assert.deepEqual(c.dnsUpstreams, ['10.96.0.10', '[fd00::10]:53']);
    assert.equal(c.dnsDomain, 'berth.');
    assert.equal(c.metricsListen, '0.0.0.0:9100');
    const metrics = c.metrics as Record<string, unknown>;
    assert.deepEqual(metrics.labelsAllowlist, ['app', 'team']);
    assert.equal(metrics.gzip, true);
    const logs = c.logs as Record<string, unknown>;
    assert.equal(logs.shipping, true);
    assert.deepEqual(logs.servers, [
      { host: 'fluentd-0.logging.svc', port: 24224 },
      { host: 'fluentd-1.logging.svc', port: 24224 },
    ]);
    assert.equal(logs.tls, true);
    const secretsDir = join(root, '/etc/berth/secrets');
    assert.equal(logs.tlsCa, `${secretsDir}/fluentd-ca/ca.crt`);
    assert.equal(logs.tlsCert, `${secretsDir}/fluentd-client/tls.crt`);
    assert.equal(logs.tlsKey, `${secretsDir}/fluentd-client/tls.key`);
    assert.equal(logs.tlsServername, 'fluentd.logging');
    assert.equal(logs.sharedKeyFile, `${secretsDir}/fluentd-shared-key/shared_key`);
    assert.equal(logs.username, 'berth');
    assert.equal(logs.passwordFile, `${secretsDir}/fluentd-password/password`);
    assert.equal(logs.tag, 'k8s.{{.Name}}');
    assert.equal(logs.mergeJson, false, '.Values.config merged over the generated section');
    assert.equal((c.discovery as Record<string, unknown>).drainTimeout, 5000);
    assert.equal((c.dns as Record<string, unknown>).serviceTtl, 5000);
    assert.equal(c.servicesDir, join(root, '/etc/berth/services'));
    assert.deepEqual(c.services, { registered: ['node-exporter'], refused: [] });
  });

  test('a Consul agent on each node: $(BERTH_HOST_IP) expanded from the pod env as the kubelet does', async () => {
    const { config: c } = await accepted('consul-on-node', VALUE_SETS['consul-on-node'] ?? {});
    assert.equal(c.consul, '192.0.2.10:8500');
    assert.equal(c.consulToken, '<redacted>');
    assert.deepEqual(c.fluentd, ['fluentd.logging.svc:24224']);
    // The user's ConfigMap: its good file registers, the bad one is reported and left out, as at start.
    const services = c.services as { registered: string[]; refused: string[] };
    assert.deepEqual(services.registered, ['shop', 'cart']);
    assert.equal(services.refused.length, 1);
    assert.match(services.refused[0] ?? '', /^broken\.json: .*name/);
  });

  test('minimal and run values', async () => {
    const minimal = await accepted('minimal', VALUE_SETS.minimal ?? {});
    assert.equal(minimal.config.metricsListen, '');
    assert.deepEqual(minimal.config.dnsListen, []);
    const run = await accepted('run', VALUE_SETS.run ?? {});
    assert.equal(run.config.mode, 'run');
    assert.equal(run.config.hostRoot, undefined);
  });
});

describe('a wrong value helm lets through is refused by berth, naming the field', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'a Consul address with a path',
      { consul: { address: 'consul:8500/v1' } },
      /^berth: consul: "consul:8500\/v1" is not host\[:port\]/,
    ],
    [
      'a DNS upstream that is a name',
      { dns: { upstreams: ['dns.example'] } },
      /^berth: dnsUpstreams\[0\]: "dns.example" is not an IP address/,
    ],
    [
      'a config key that does not exist',
      { config: { dns: { maxUdpsize: 512 } } },
      /^berth: dns.maxUdpsize: unknown key \(did you mean dns.maxUdpSize\?\)/,
    ],
    [
      'a bad config value',
      { config: { discovery: { drainTimeout: 'soon' } } },
      /^berth: discovery.drainTimeout: /,
    ],
    [
      'a bad extra flag',
      { extraArgs: ['--register-address', 'public'] },
      /^berth: registerAddress: must be one of published, container/,
    ],
    [
      'a Fluentd port out of range',
      { fluentd: { servers: ['fluentd:99999'] } },
      /^berth: logs.servers: "fluentd:99999"/,
    ],
    [
      'a CA key the Secret does not hold',
      {
        fluentd: {
          servers: ['fluentd:24224'],
          tls: { enabled: true, caSecret: 'fluentd-ca', caKey: 'bundle.pem' },
        },
      },
      /^berth: logs.tlsCa: cannot read .*fluentd-ca\/bundle.pem: ENOENT/,
    ],
    [
      'a password without a user',
      { fluentd: { servers: ['fluentd:24224'], auth: { passwordSecret: 'fluentd-user' } } },
      /^berth: logs.passwordFile: a password needs logs.username/,
    ],
  ];
  for (const [name, values, message] of cases) {
    test(name, async () => {
      const label = `bad-${name.replace(/\W+/g, '-')}`;
      const { objects, run } = await render(dir, label, values);
      assert.equal(run.code, 0, `helm should render it: ${run.stderr}`);
      const r = await checkConfigOf(objects, join(dir, `root-${label}`), secrets);
      assert.equal(r.code, 125, r.stdout);
      assert.equal(r.stdout, '');
      assert.match(r.stderr.trim(), message);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    });
  }
});
