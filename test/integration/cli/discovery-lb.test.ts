/**
 * The whole path a user relies on, with real containers: labels on `berth run`
 * → registration in the agent's catalog → answers from the embedded DNS →
 * HAProxy routing to the instances; stopping a container drains and removes it
 * everywhere.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';

const execFileAsync = promisify(execFile);
const IMAGE = 'test/busybox:lb';
let agent: TestAgent;
let dnsPort = 0;
let lbPort = 0;
/** A Consul token in the agent's environment, as `--consul` users' agents have (issue 12, item 1). */
const token = `secret-${randomBytes(8).toString('hex')}`;
// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text HAProxy expands from its environment
const TOKEN_REF = '${CONSUL_HTTP_TOKEN}';

async function ok(args: string[]): Promise<string> {
  const r = await agent.cli(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function dig(name: string, type = 'A'): Promise<string[]> {
  const { stdout } = await execFileAsync('dig', ['+short', '@127.0.0.1', '-p', String(dnsPort), name, type]);
  return stdout.split('\n').filter(Boolean).sort();
}

function web(name: string): string[] {
  return [
    'run',
    '-d',
    '--name',
    name,
    '-p',
    '127.0.0.1:0:8080',
    '-l',
    'SERVICE_NAME=web',
    '-l',
    'SERVICE_TAGS=blue',
    '-l',
    `berth.lb.port=${lbPort}`,
    '-l',
    'berth.lb.bind=127.0.0.1',
    IMAGE,
    'sh',
    '-c',
    `echo ${name} > /index.html; httpd -f -p 8080 -h /`,
  ];
}

describe('discovery, DNS and HAProxy follow the containers', () => {
  before(async () => {
    lbPort = await freePort();
    agent = await startAgent({ args: ['--host-ip', '127.0.0.1'], agentEnv: { CONSUL_HTTP_TOKEN: token } });
    const endpoints = (await agent.info()).endpoints as Record<string, string>;
    dnsPort = Number(/127\.0\.0\.1:(\d+)/.exec(endpoints.dns ?? '')?.[1] ?? 0);
    assert.ok(dnsPort > 0, `no DNS endpoint in berth info: ${JSON.stringify(endpoints)}`);
    await ok(['load', '-i', await buildBusyboxImage({ format: 'docker', ref: IMAGE })]);
  });
  after(async () => {
    await agent?.stop();
  });

  test('two labelled containers are registered, resolvable and load-balanced', async () => {
    await ok(web('web-1'));
    await ok(web('web-2'));
    const srv = await pollUntil(
      'two SRV records for web',
      async () => {
        const r = await dig('web.service.consul', 'SRV');
        return r.length === 2 ? r : undefined;
      },
      15_000,
    );
    // Published mode: the host IP and each container's published port.
    const ports = await Promise.all(
      ['web-1', 'web-2'].map(async (n) => {
        const [d] = JSON.parse(await ok(['inspect', n])) as Array<{ ports: Array<{ hostPort: number }> }>;
        return String(d?.ports[0]?.hostPort);
      }),
    );
    for (const p of ports)
      assert.ok(
        srv.some((l) => l.split(' ')[2] === p),
        `${p} not in ${srv.join(' | ')}`,
      );
    assert.deepEqual(await dig('blue.web.service.consul'), ['127.0.0.1']);
    assert.deepEqual(await dig('web-1.consul'), [
      Object.values(
        (JSON.parse(await ok(['inspect', 'web-1'])) as Array<{ addresses: Record<string, string> }>)[0]
          ?.addresses ?? {},
      )[0],
    ]);
    const seen = await pollUntil(
      'HAProxy routing to both instances',
      async () => {
        const got = new Set<string>();
        for (let i = 0; i < 10; i++) {
          const res = await fetch(`http://127.0.0.1:${lbPort}/index.html`, {
            headers: { connection: 'close' },
          });
          if (res.status === 200) got.add((await res.text()).trim());
        }
        return got.size === 2 ? got : undefined;
      },
      20_000,
      300,
    );
    assert.deepEqual([...seen].sort(), ['web-1', 'web-2']);
  });

  test('containers reach each other by bare name, as on a Compose network', async () => {
    // resolv.conf searches the embedded DNS's domain: `web-1` is asked as web-1.consul.
    const resolv = await ok(['run', '--rm', IMAGE, 'cat', '/etc/resolv.conf']);
    assert.match(resolv, /^search consul\b/m);
    // (No -T: Debian's static busybox wget crashes with a timeout set; the CLI call has its own.)
    const body = await ok(['run', '--rm', IMAGE, 'wget', '-q', '-O', '-', 'http://web-1:8080/index.html']);
    assert.equal(body.trim(), 'web-1');
  });

  test('a stopped container leaves DNS and the backend; requests keep succeeding', async () => {
    await ok(['stop', 'web-1']);
    await pollUntil(
      'web-1 gone from DNS',
      async () => ((await dig('web.service.consul', 'SRV')).length === 1 ? true : undefined),
      15_000,
    );
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`http://127.0.0.1:${lbPort}/index.html`, { headers: { connection: 'close' } });
      assert.equal(res.status, 200);
      assert.equal((await res.text()).trim(), 'web-2');
    }
    await ok(['rm', '-f', 'web-1', 'web-2']);
    await pollUntil(
      'web gone from DNS',
      async () => ((await dig('web.service.consul', 'SRV')).length === 0 ? true : undefined),
      15_000,
    );
  });

  test(`a label berth.lb.check=/"${TOKEN_REF}" does not send the agent's token to the container`, async () => {
    const tokPort = await freePort();
    // busybox httpd -vv logs every request's URL on stderr: the container's log shows what HAProxy asked.
    await ok([
      'run',
      '-d',
      '--name',
      'tok',
      '-p',
      '127.0.0.1:0:8080',
      '-l',
      'SERVICE_NAME=tok',
      '-l',
      `berth.lb.port=${tokPort}`,
      '-l',
      'berth.lb.bind=127.0.0.1',
      '-l',
      `berth.lb.check=/"${TOKEN_REF}"`,
      IMAGE,
      'httpd',
      '-f',
      '-vv',
      '-p',
      '8080',
      '-h',
      '/',
    ]);
    // The agent has dealt with the label: either HAProxy's checks (every 2 s, checkInterval) reached the
    // container twice, or the label was refused (berth_haproxy_left_out{reason="label"}) and HAProxy never checks it.
    const metricsUrl = String(((await agent.info()).endpoints as Record<string, string>).metrics);
    const logs = await pollUntil(
      "two HAProxy checks in the container's log, or the check label refused",
      async () => {
        const l = await agent.cli(['logs', 'tok']);
        if ((`${l.stdout}${l.stderr}`.match(/url:/g) ?? []).length >= 2) return l;
        const m = /^berth_haproxy_left_out\{reason="label"\} (\d+)/m.exec(
          await (await fetch(metricsUrl)).text(),
        );
        return Number(m?.[1] ?? 0) >= 1 ? l : undefined;
      },
      20_000,
    );
    assert.doesNotMatch(`${logs.stdout}${logs.stderr}`, new RegExp(token), "HAProxy sent the agent's token");
    const pid = Number((await readFile(join(agent.stateRoot, 'haproxy', 'haproxy.pid'), 'utf8')).trim());
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    assert.ok(!environ.includes(token), "HAProxy runs with the agent's environment (CONSUL_HTTP_TOKEN)");
    await ok(['rm', '-f', 'tok']);
  });
});
