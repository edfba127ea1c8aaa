/**
 * User-defined bridge networks as a user sees them: a real agent (runc +
 * conmon, its own bridge and subnet), the busybox test image, the `berth`
 * CLI. Isolation between networks, connect/disconnect, names inside a
 * network and not across, refusals, cleanup of every host trace, and a
 * network surviving an agent restart.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';

const run = promisify(execFile);
const IMAGE = 'test/busybox:net';
let agent: TestAgent;
/** Bridges of networks this file created, for the after-hook's sweep when a test failed midway. */
const bridges = new Set<string>();

async function ok(args: string[]): Promise<string> {
  const r = await agent.cli(args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function fails(args: string[]): Promise<string> {
  const r = await agent.cli(args);
  assert.notEqual(r.code, 0, `berth ${args.join(' ')} should have failed: ${r.stdout}`);
  return r.stderr;
}

async function createNet(name: string, extra: string[] = []): Promise<Record<string, unknown>> {
  await ok(['network', 'create', ...extra, name]);
  const [info] = JSON.parse(await ok(['network', 'inspect', name])) as Array<Record<string, unknown>>;
  assert.ok(info);
  bridges.add(String(info.bridge));
  return info;
}

/** Runs `cmd` in a container; its exit code and output. */
async function inside(container: string, cmd: string): Promise<{ code: number; out: string }> {
  const r = await agent.cli(['exec', container, 'sh', '-c', cmd], { timeoutMs: 30_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

async function addressOf(container: string, network: string): Promise<string> {
  const [d] = JSON.parse(await ok(['inspect', container])) as Array<{ addresses: Record<string, string> }>;
  const a = d?.addresses[network];
  assert.ok(a, `${container} has no address on ${network}: ${JSON.stringify(d?.addresses)}`);
  return a;
}

/** A web server on port 80 answering its own name, on the given networks. */
async function server(name: string, networks: string[], extra: string[] = []): Promise<void> {
  await ok([
    'run',
    '-d',
    '--name',
    name,
    ...networks.flatMap((n) => ['--network', n]),
    ...extra,
    IMAGE,
    'sh',
    '-c',
    `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 80 -h /www`,
  ]);
  // Serving once its own loopback answers (httpd binds a moment after the start).
  for (let i = 0; i < 50; i++) {
    if ((await inside(name, 'wget -q -O - http://127.0.0.1/')).out.trim() === name) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(
    `${name} never served on port 80: ${(await inside(name, 'wget -q -O - http://127.0.0.1/')).out}`,
  );
}

const reach = (from: string, target: string) => inside(from, `timeout 3 wget -q -O - http://${target}/`);

/** One API call over the agent's unix socket: status and parsed body. */
function api(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: { error?: unknown } & Array<{ name: string }> }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: agent.socket,
        method,
        path,
        headers: data
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
          : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function hostState(): Promise<{ links: string; rules: string; nat: string; netns: string }> {
  const [links, rules, nat, netns] = await Promise.all([
    run('ip', ['-o', 'link', 'show']).then((r) => r.stdout),
    run('iptables', ['-S']).then((r) => r.stdout),
    run('iptables', ['-t', 'nat', '-S']).then((r) => r.stdout),
    run('ip', ['netns', 'list']).then((r) => r.stdout),
  ]);
  return { links, rules, nat, netns };
}

describe('user-defined networks through a real agent', () => {
  before(async () => {
    agent = await startAgent();
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: IMAGE,
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    });
    await ok(['load', '-i', tar]);
  });
  after(async () => {
    // Containers first (the harness removes them too), then every network this file made.
    const ps = await agent.cli(['ps', '-a', '-q']).catch(() => undefined);
    const ids = ps?.stdout.split('\n').filter(Boolean) ?? [];
    if (ids.length > 0) await agent.cli(['rm', '-f', ...ids]).catch(() => undefined);
    await agent.cli(['network', 'prune']).catch(() => undefined);
    await agent?.stop();
    // A failed test can leave a bridge the prune did not reach (agent down): delete it by name.
    for (const b of bridges) await run('ip', ['link', 'del', b]).catch(() => undefined);
    for (const b of bridges)
      for (const table of ['filter', 'nat'])
        for (const line of (
          await run('iptables', ['-t', table, '-S']).catch(() => ({ stdout: '' }))
        ).stdout.split('\n'))
          if (line.startsWith('-A ') && line.includes(`berth:${b}`))
            await run('sh', ['-c', `iptables -t ${table} ${line.replace(/^-A /, '-D ')}`]).catch(
              () => undefined,
            );
  });

  test('two networks: isolated from each other; connect joins, by name; disconnect cuts again', async () => {
    const a = await createNet('neta', ['--label', 'com.docker.compose.network=default']);
    const b = await createNet('netb');
    assert.match(String(a.bridge), /^bn-[0-9a-f]{12}$/);
    assert.notEqual(a.subnet, b.subnet);
    assert.deepEqual(a.labels, { 'com.docker.compose.network': 'default' });
    await server('web-a', ['neta']);
    await server('web-b', ['netb']);
    await server('client-a', ['neta']);
    const ipB = await addressOf('web-b', 'netb');
    const ipA = await addressOf('web-a', 'neta');

    // Same network: by address and by bare name.
    assert.equal((await reach('client-a', ipA)).out.trim(), 'web-a');
    assert.equal((await reach('client-a', 'web-a')).out.trim(), 'web-a');
    // Across networks: neither by address nor by name.
    assert.notEqual((await reach('client-a', ipB)).code, 0, 'client-a reached web-b across networks');
    assert.notEqual((await inside('client-a', `ping -c 1 -W 1 ${ipB}`)).code, 0);
    assert.notEqual((await inside('client-a', 'nslookup web-b')).code, 0, 'web-b resolved from neta');
    assert.notEqual((await reach('web-b', ipA)).code, 0, 'web-b reached web-a across networks');

    // connect: web-b joins neta; client-a reaches it by name and by its neta address.
    await ok(['network', 'connect', '--alias', 'bee', 'neta', 'web-b']);
    const ipBonA = await addressOf('web-b', 'neta');
    assert.equal((await reach('client-a', ipBonA)).out.trim(), 'web-b');
    assert.equal((await reach('client-a', 'web-b')).out.trim(), 'web-b');
    assert.equal((await reach('client-a', 'bee')).out.trim(), 'web-b');
    // Still on netb, still reachable there from web-b's side.
    assert.equal((await inside('web-b', 'ip -o -4 addr show | grep -c " inet 10\\."')).out.trim(), '2');

    // disconnect: cut again, and the name is gone.
    await ok(['network', 'disconnect', 'neta', 'web-b']);
    assert.notEqual((await reach('client-a', ipBonA)).code, 0, 'still reachable after disconnect');
    assert.notEqual((await inside('client-a', 'nslookup web-b')).code, 0);
    assert.equal((await reach('web-b', '127.0.0.1')).out.trim(), 'web-b');

    // The outside (here: the host through its gateway address on the default bridge) stays reachable.
    const gw = String(a.gateway);
    assert.equal((await inside('client-a', `ip route | grep default`)).out.includes(gw), true);
  });

  test('rm of a network with containers is refused naming them; rm and prune leave no trace', async () => {
    const c = await createNet('netc');
    await server('on-c', ['netc']);
    const err = await fails(['network', 'rm', 'netc']);
    assert.match(err, /on-c/);
    // Stopped, its config still joins netc at its next start: rm and prune leave the network.
    await ok(['stop', '-t', '1', 'on-c']);
    assert.match(await fails(['network', 'rm', 'netc']), /on-c/);
    assert.doesNotMatch(await ok(['network', 'prune']), /netc/);
    await ok(['rm', '-f', 'on-c']);
    await ok(['network', 'rm', 'netc']);
    const d = await createNet('netd');
    assert.match(await ok(['network', 'prune']), /netd/);
    const st = await hostState();
    for (const n of [c, d]) {
      assert.ok(!st.links.includes(String(n.bridge)), `bridge ${n.bridge} left`);
      assert.ok(!st.rules.includes(`berth:${n.bridge}`), `filter rules of ${n.bridge} left`);
      assert.ok(!st.nat.includes(`berth:${n.bridge}`), `nat rules of ${n.bridge} left`);
    }
    const dirs = await readdir(join(agent.stateRoot, 'network', 'networks')).catch(() => [] as string[]);
    assert.ok(!dirs.includes('netc') && !dirs.includes('netd'), `state left: ${dirs.join(',')}`);
    assert.match(await ok(['network', 'ls', '-q']), /^bridge\n/);
  });

  test('berth rm frees the container’s links, addresses and rules on every network', async () => {
    const e = await createNet('nete');
    await server('multi', ['nete', 'bridge'], ['-p', '0:80']);
    const [d] = JSON.parse(await ok(['inspect', 'multi'])) as Array<{
      id: string;
      ports: Array<{ hostPort: number; containerPort: number }>;
    }>;
    const short = String(d?.id).slice(0, 12);
    // The published port works from the host, to the address on the first network (nete).
    const hostPort = d?.ports.find((p) => p.containerPort === 80)?.hostPort;
    assert.ok(hostPort, 'no host port picked');
    assert.equal(await (await fetch(`http://127.0.0.1:${hostPort}/`)).text(), 'multi\n');
    // A container on the default network reaches it there (it is on both), one on nete too.
    await server('on-e', ['nete']);
    await server('on-default', ['bridge']);
    assert.equal((await reach('on-e', 'multi')).out.trim(), 'multi');
    assert.equal((await reach('on-default', await addressOf('multi', 'bridge'))).out.trim(), 'multi');
    assert.notEqual(
      (await reach('on-default', await addressOf('on-e', 'nete'))).code,
      0,
      'default reached nete',
    );
    await ok(['rm', '-f', 'on-e', 'on-default']);
    let st = await hostState();
    assert.ok(st.links.includes(`vb${short}`), 'no first veth');
    assert.ok(st.links.includes(`vb${short}1`), 'no second veth');
    assert.ok(st.nat.includes(`berth:${e.bridge}:${short}`), 'published port rules not on the first network');
    await ok(['rm', '-f', 'multi']);
    st = await hostState();
    assert.ok(!st.links.includes(`vb${short}`), 'veth left');
    assert.ok(!st.netns.includes(`berth-${short}`), 'netns left');
    assert.ok(!st.nat.includes(short) && !st.rules.includes(short), 'rules left');
    const ipam = JSON.parse(
      await readFile(join(agent.stateRoot, 'network', 'networks', 'nete', 'ipam.json'), 'utf8'),
    );
    assert.deepEqual(ipam.allocations, {});
    await ok(['network', 'rm', 'nete']);
  });

  test('a network and its containers survive an agent restart', async () => {
    const f = await createNet('netf');
    await server('keeps', ['netf']);
    await server('peer', ['netf']);
    await agent.kill9();
    await agent.restart();
    const [again] = JSON.parse(await ok(['network', 'inspect', 'netf'])) as Array<Record<string, unknown>>;
    assert.equal(again?.subnet, f.subnet);
    assert.equal(again?.bridge, f.bridge);
    assert.deepEqual((again?.containers as Array<{ name: string }> | undefined)?.map((c) => c.name).sort(), [
      'keeps',
      'peer',
    ]);
    assert.equal((await reach('peer', 'keeps')).out.trim(), 'keeps');
    await ok(['rm', '-f', 'keeps', 'peer']);
    await ok(['network', 'rm', 'netf']);
    assert.ok(!existsSync(join(agent.stateRoot, 'network', 'networks', 'netf')));
  });

  test('a bare Compose service name answers its healthy replicas on the network; a restart keeps connected networks', async () => {
    await createNet('netg');
    await createNet('neth');
    const labels = (svc: string) => [
      '-l',
      'com.docker.compose.project=p',
      '-l',
      `com.docker.compose.service=${svc}`,
    ];
    await server('p-api-1', ['netg'], labels('api'));
    await server('p-api-2', ['netg'], labels('api'));
    // A replica whose health check fails is left out of the service name (still its own name).
    await server(
      'p-api-3',
      ['netg'],
      [...labels('api'), '--health-cmd', 'false', '--health-interval', '1s', '--health-retries', '1'],
    );
    await server('g-client', ['netg']);
    const want = [await addressOf('p-api-1', 'netg'), await addressOf('p-api-2', 'netg')].sort();
    const answered = async () =>
      [...(await inside('g-client', 'nslookup api')).out.matchAll(/Address: (10\.\S+)/g)]
        .map((m) => m[1])
        .sort();
    for (let i = 0; i < 50 && JSON.stringify(await answered()) !== JSON.stringify(want); i++)
      await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await answered(), want);
    assert.match((await reach('g-client', 'api')).out, /p-api-[12]/);
    // Not across networks.
    await server('h-client', ['neth']);
    assert.notEqual((await inside('h-client', 'nslookup api')).code, 0, 'api resolved from neth');

    // connect is kept in the container's config: a restart joins both networks again.
    await ok(['network', 'connect', 'neth', 'p-api-1']);
    await ok(['restart', 'p-api-1']);
    const [d] = JSON.parse(await ok(['inspect', 'p-api-1'])) as Array<{ addresses: Record<string, string> }>;
    assert.deepEqual(Object.keys(d?.addresses ?? {}).sort(), ['netg', 'neth']);
    await ok(['rm', '-f', 'p-api-1', 'p-api-2', 'p-api-3', 'g-client', 'h-client']);
    await ok(['network', 'rm', 'netg', 'neth']);
  });

  test('the API refuses hostile input naming the field, before anything changes', async () => {
    const bad: Array<[string, string, unknown, number, RegExp]> = [
      ['POST', '/v1/networks', { name: 'a b' }, 400, /name/],
      ['POST', '/v1/networks', { name: 'x'.repeat(65) }, 400, /name/],
      ['POST', '/v1/networks', { name: 'ok1', bogus: 1 }, 400, /bogus|unknown key/],
      ['POST', '/v1/networks', { name: 'ok2', subnet: '10.89.0.0/8x' }, 400, /subnet/],
      ['POST', '/v1/networks', { name: 'ok3', gateway: '10.0.0.1' }, 400, /gateway/],
      ['POST', '/v1/networks', { name: 'ok4', labels: { 'bad key': 'v' } }, 400, /labels/],
      ['POST', '/v1/networks', { name: 'none' }, 400, /reserved/],
      ['GET', '/v1/networks/..%2Fetc', undefined, 400, /name/],
      ['DELETE', '/v1/networks/nosuch', undefined, 404, /no such network/],
      ['POST', '/v1/networks/bridge/connect', { container: '' }, 400, /container/],
      ['POST', '/v1/networks/bridge/connect', { container: 'x', aliases: ['a;b'] }, 400, /aliases/],
      ['POST', '/v1/networks/bridge/connect', { container: 'nosuch' }, 404, /no such container/],
    ];
    for (const [method, path, body, status, message] of bad) {
      const r = await api(method, path, body);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body.error), message, `${method} ${path}`);
    }
    // Nothing was created by any of them.
    const names = (await api('GET', '/v1/networks')).body.map((n) => n.name);
    for (const n of ['ok1', 'ok2', 'ok3', 'ok4', 'none']) assert.ok(!names.includes(n), `${n} was created`);
  });

  test('names are checked: reserved, malformed, unknown networks are refused naming the field', async () => {
    assert.match(await fails(['network', 'create', 'host']), /reserved/);
    assert.match(await fails(['network', 'create', '_bad']), /network name/);
    assert.match(await fails(['network', 'create', 'x/../y']), /network name/);
    assert.match(await fails(['network', 'create', '--subnet', '10.89.0.0/33', 'badsub']), /subnet/);
    assert.match(await fails(['run', '--network', 'nosuch', IMAGE, 'true']), /no such network: nosuch/);
    assert.match(await fails(['run', '--network', 'host', '--network', 'x', IMAGE, 'true']), /--network/);
    assert.match(await fails(['network', 'rm', 'bridge']), /default network/);
  });
});
