/**
 * The chart's Consul over TLS, for real: a Consul dev agent serving its HTTP
 * API over HTTPS with a certificate from a test CA; the chart rendered with
 * consul.address (no scheme), consul.tls.enabled, the CA from a Secret and a
 * declared service; the pod started as pod.test.ts starts it (the chart's
 * privileges, read-only root). The agent reaches Consul only by trusting the
 * CA the chart mounts and points NODE_EXTRA_CA_CERTS at, and registers the
 * service there with the node's address. Without the CA Secret the same
 * release registers nothing: the certificate is not trusted.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { get } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePorts } from '../../harness/ports.js';
import { type ManagedProcess, pollUntil, startProcess } from '../../harness/proc.js';
import { makeTestCertificates } from '../../harness/registry.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { toolPath } from '../../harness/tools.js';
import { type PodProcess, render, startPod } from './chart.js';

/** GET over HTTPS trusting only `ca`; the parsed JSON. */
function getJson(url: string, ca: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    get(url, { ca, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    }).on('error', reject);
  });
}

describe("the chart's Consul TLS: the pod trusts Consul's CA from a Secret and registers its services", () => {
  let dir = '';
  let ca = '';
  let consul: ManagedProcess | undefined;
  const pods: PodProcess[] = [];
  let https = 0;
  const service = `tls-svc-${process.pid}`;

  before(async () => {
    dir = await tempDir('helm-consul-tls');
    const certs = await makeTestCertificates(dir);
    ca = await readFile(certs.caCertPath, 'utf8');
    const [http, httpsPort, dns, serfLan, serfWan, server] = await freePorts(6);
    https = httpsPort ?? 0;
    consul = await startProcess({
      name: 'consul-tls',
      cmd: toolPath('consul'),
      args: [
        ...[
          'agent',
          '-dev',
          '-node',
          `consul-tls-${process.pid}`,
          '-bind',
          '127.0.0.1',
          '-client',
          '127.0.0.1',
        ],
        ...['-http-port', String(http), '-https-port', String(https), '-dns-port', String(dns)],
        ...[
          '-serf-lan-port',
          String(serfLan),
          '-serf-wan-port',
          String(serfWan),
          '-server-port',
          String(server),
        ],
        ...['-grpc-port', '-1', '-grpc-tls-port', '-1', '-log-level', 'warn', '-disable-host-node-id'],
        '-hcl',
        'disable_update_check = true',
        '-hcl',
        `tls { defaults { cert_file = "${certs.certPath}" key_file = "${certs.keyPath}" } }`,
      ],
      ready: async () => {
        const leader = await getJson(`https://127.0.0.1:${https}/v1/status/leader`, ca);
        return typeof leader === 'string' && leader !== '';
      },
      readyTimeoutMs: 30_000,
    });
  });

  after(async () => {
    for (const p of pods) await p.process.stop();
    await consul?.stop();
    if (dir) await removeDir(dir);
  });

  /** The release with `tls` values, started as a pod; the service's catalog entries polled for. */
  async function release(name: string, tls: Record<string, unknown>): Promise<PodProcess> {
    const { objects, run } = await render(dir, name, {
      consul: { address: `127.0.0.1:${https}`, tls, token: { existingSecret: 'consul-acl' } },
      services: [{ name: service, port: 9100, tags: [name] }],
      dns: { enabled: false },
    });
    assert.equal(run.code, 0, run.stderr);
    const pod = await startPod(objects, join(dir, `root-${name}`), {
      secrets: { 'consul-ca': { 'ca.crt': ca }, 'consul-acl': { token: 'not-checked-by-a-dev-agent' } },
      // This host's /proc and cgroup tree where the pod mounts the node's.
      hostLinks: { '/proc': '/proc', '/sys/fs/cgroup': '/sys/fs/cgroup' },
    });
    pods.push(pod);
    return pod;
  }

  const entries = async (tag: string) =>
    ((await getJson(`https://127.0.0.1:${https}/v1/catalog/service/${service}?tag=${tag}`, ca)) as Array<
      Record<string, unknown>
    >) ?? [];

  test('with the CA Secret: the declared service is in Consul, at the node address, over https', async () => {
    await release('trusted', { enabled: true, caSecret: 'consul-ca' });
    const [entry] = await pollUntil(
      'the service registered in Consul',
      async () => {
        const list = await entries('trusted');
        return list.length > 0 ? list : undefined;
      },
      30_000,
      250,
    );
    assert.equal(entry?.ServicePort, 9100);
    assert.equal(entry?.ServiceAddress, '192.0.2.10', "status.hostIP: the node's address");
  });

  test('without it: Consul is not trusted, nothing is registered', async () => {
    const pod = await release('untrusted', { enabled: true });
    const refused =
      /consul: .*(unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate)/;
    await pollUntil(
      'the agent reports Consul untrusted',
      async () => (refused.test(pod.process.output()) ? true : undefined),
      30_000,
      250,
    );
    assert.deepEqual(await entries('untrusted'), []);
  });
});
