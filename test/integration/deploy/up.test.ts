/**
 * `berth up` as a user runs it (issue 14), through the CLI against a real
 * agent with its real HAProxy: a two-service project (web ×2 behind one
 * frontend, api depending on web being healthy), Compose's names and labels,
 * a replica killed with SIGKILL replaced and back in the backend, scale up and
 * down, a changed service recreated alone, invalid files refused with
 * file:line while nothing running changes, and `down` leaving nothing behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { HTTP_IMAGE, loadHttpImages } from '../../harness/http-image.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { serversInRotation } from './rollout-helpers.js';

let agent: TestAgent;
let dir: string;
let file: string;
let lbPort: number;

interface Ps {
  id: string;
  name: string;
  state: string;
  health: string;
  pid?: number;
  labels: Record<string, string>;
}

const compose = (o: { apiRole?: string } = {}) => `name: shop
services:
  web:
    image: ${HTTP_IMAGE}:v1
    ports:
      - "127.0.0.1:${lbPort}:8080"
    deploy:
      replicas: 2
  api:
    image: ${HTTP_IMAGE}:v1
    environment:
      ROLE: ${o.apiRole ?? 'one'}
    depends_on:
      web:
        condition: service_healthy
`;

async function ps(): Promise<Ps[]> {
  const r = await agent.cli(['ps', '-a', '--format', 'json', '-f', 'label=com.docker.compose.project=shop']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Ps[]).sort((a, b) => a.name.localeCompare(b.name));
}

async function get(path: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${lbPort}${path}`, { signal: AbortSignal.timeout(2000) });
  return `${r.status} ${(await r.text()).trim()}`;
}

/** The project converged: `names` running and healthy, and HAProxy routing to `webs` servers. */
async function converged(names: string[], webs: number): Promise<Ps[]> {
  return pollUntil(
    `${names.join(', ')} healthy, ${webs} servers in rotation`,
    async () => {
      const list = await ps();
      const ok =
        list.length === names.length &&
        list.every((c, i) => c.name === names[i] && c.state === 'running' && c.health === 'healthy');
      if (!ok) return undefined;
      return (await serversInRotation(agent)).length === webs ? list : undefined;
    },
    60_000,
    100,
  );
}

before(async () => {
  dir = await tempDir('deploy-up-');
  agent = await startAgent();
  await loadHttpImages(agent.cli, dir, ['v1']);
  lbPort = await freePort();
  file = join(dir, 'compose.yaml');
  await writeFile(file, compose());
});

after(async () => {
  await agent?.cli(['down', '-p', 'shop']).catch(() => undefined);
  await agent?.stop();
  if (dir) await removeDir(dir);
});

describe('berth up', { concurrency: false }, () => {
  test('up --wait: two services, web behind one HAProxy frontend, Compose names and labels', async () => {
    const r = await agent.cli(['up', '-f', file, '-d', '--wait'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `up: ${r.stderr}${r.stdout}`);
    const list = await converged(['shop-api-1', 'shop-web-1', 'shop-web-2'], 2);
    const web1 = list.find((c) => c.name === 'shop-web-1');
    assert.ok(web1);
    assert.equal(web1.labels['com.docker.compose.project'], 'shop');
    assert.equal(web1.labels['com.docker.compose.service'], 'web');
    assert.equal(web1.labels['com.docker.compose.container-number'], '1');
    assert.equal(web1.labels['com.docker.compose.oneoff'], 'False');
    assert.equal(web1.labels['com.docker.compose.project.config_files'], file);
    assert.equal(web1.labels['com.docker.compose.project.working_dir'], dir);
    assert.match(web1.labels['com.docker.compose.config-hash'] ?? '', /^[0-9a-f]{64}$/);
    assert.equal(await get('/'), '200 v1');
    // The project's own network, and inside it the other service by its bare name.
    const nets = await agent.cli(['network', 'ls']);
    assert.match(nets.stdout, /shop_default/);
    const byName = await agent.cli(['exec', 'shop-api-1', 'wget', '-qO-', 'http://web:8080/']);
    assert.equal(byName.stdout.trim(), 'v1', `wget http://web:8080 from api: ${byName.stderr}`);
    const services = await agent.cli(['services', '-p', 'shop']);
    assert.equal(services.code, 0, services.stderr);
    assert.match(services.stdout, new RegExp(`web\\s+\\S+\\s+2\\s+2\\s+2\\s+127\\.0\\.0\\.1:${lbPort}`));
    assert.match(services.stdout, /api\s+\S+\s+1\s+1\s+1/);
    const psp = await agent.cli(['ps', '-p', 'shop']);
    assert.match(psp.stdout, /shop-web-2\s+web\s+\S+\s+running\s+healthy\s+current/);
  });

  test('kill -9 of a replica: replaced, back in the backend within a bound', async () => {
    const before = await ps();
    const victim = before.find((c) => c.name === 'shop-web-1');
    assert.ok(victim?.pid);
    const t0 = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    const list = await pollUntil(
      'shop-web-1 replaced, healthy and in the backend',
      async () => {
        const l = await ps();
        const w = l.find((c) => c.name === 'shop-web-1');
        if (w === undefined || w.id === victim.id || w.state !== 'running' || w.health !== 'healthy')
          return undefined;
        return (await serversInRotation(agent)).length === 2 ? l : undefined;
      },
      30_000,
      50,
    );
    const healMs = Date.now() - t0;
    process.stdout.write(`# heal: kill -9 to a healthy replacement in the backend: ${healMs} ms\n`);
    assert.equal(list.length, 3, 'no duplicate');
    assert.ok(healMs < 15_000, `healed in ${healMs} ms`);
    assert.equal(await get('/'), '200 v1');
  });

  test('scale web=3 then web=1', async () => {
    let r = await agent.cli(['scale', '-p', 'shop', 'web=3']);
    assert.equal(r.code, 0, r.stderr);
    await converged(['shop-api-1', 'shop-web-1', 'shop-web-2', 'shop-web-3'], 3);
    r = await agent.cli(['scale', '-p', 'shop', 'web=1']);
    assert.equal(r.code, 0, r.stderr);
    await converged(['shop-api-1', 'shop-web-1'], 1);
    assert.equal(await get('/'), '200 v1');
  });

  test('a changed service is recreated alone', async () => {
    let r = await agent.cli(['up', '-f', file, '-d', '--wait', '--scale', 'web=2'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const before = await converged(['shop-api-1', 'shop-web-1', 'shop-web-2'], 2);
    await writeFile(file, compose({ apiRole: 'two' }));
    r = await agent.cli(['up', '-f', file, '-d', '--wait', '--scale', 'web=2'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    const now = await converged(['shop-api-1', 'shop-web-1', 'shop-web-2'], 2);
    const id = (l: Ps[], n: string) => l.find((c) => c.name === n)?.id;
    assert.notEqual(id(now, 'shop-api-1'), id(before, 'shop-api-1'), 'api recreated');
    assert.equal(id(now, 'shop-web-1'), id(before, 'shop-web-1'), 'web-1 untouched');
    assert.equal(id(now, 'shop-web-2'), id(before, 'shop-web-2'), 'web-2 untouched');
  });

  test('invalid files are refused with file:line and nothing running changes', async () => {
    const before = (await ps()).map((c) => c.id);
    const cases: Array<[string, string, RegExp]> = [
      [
        'unknown key',
        'name: shop\nservices:\n  web:\n    image: x\n    privileged: true\n',
        /bad\.yaml:5:5: services\.web\.privileged: unsupported key/,
      ],
      [
        'bad port',
        'name: shop\nservices:\n  web:\n    image: x\n    ports: ["80:x"]\n',
        /bad\.yaml:5:\d+: services\.web\.ports\[0\]: "80:x" is not a port/,
      ],
      [
        'missing required variable',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's interpolation
        'name: shop\nservices:\n  web:\n    image: x:${NO_SUCH_TAG:?set the tag}\n',
        /bad\.yaml:4:\d+: services\.web\.image: required variable NO_SUCH_TAG is missing a value: set the tag/,
      ],
      [
        'replicas with container_name',
        'name: shop\nservices:\n  web:\n    image: x\n    container_name: fixed\n    deploy: { replicas: 2 }\n',
        /bad\.yaml:5:\d+: services\.web\.container_name: "fixed" is a fixed name/,
      ],
      [
        'depends_on cycle',
        'name: shop\nservices:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n',
        /bad\.yaml:\d+:\d+: services\.[ab]\.depends_on\.[ab]: dependency cycle/,
      ],
    ];
    for (const [what, text, want] of cases) {
      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, text);
      const r = await agent.cli(['up', '-f', bad, '-p', 'shop', '-d']);
      assert.equal(r.code, 125, `${what}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, want, what);
    }
    assert.deepEqual(
      (await ps()).map((c) => c.id),
      before,
    );
    assert.equal(await get('/'), '200 v1');
  });

  test('down leaves no container, network, netns, veth, cgroup, iptables rule, registration or HAProxy server', async () => {
    const ids = (await ps()).map((c) => c.id);
    const net = (await agent.cli(['network', 'inspect', 'shop_default'])).stdout;
    const bridge = /"bridge":\s*"([^"]+)"/.exec(net)?.[1];
    assert.ok(bridge, `the network's bridge in ${net}`);
    const r = await agent.cli(['down', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await ps(), []);
    await pollUntil(
      'no server in rotation',
      async () => ((await serversInRotation(agent)).length === 0 ? true : undefined),
      10_000,
    );
    const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
    const rules = execFileSync('iptables-save', { encoding: 'utf8' });
    for (const id of ids) {
      const short = id.slice(0, 12);
      assert.ok(!netns.includes(short), `netns of ${short} gone`);
      assert.ok(!links.includes(`vb${short}`), `veth of ${short} gone`);
      assert.ok(!rules.includes(short), `iptables rules of ${short} gone`);
    }
    const cgroups = execFileSync(
      'sh',
      ['-c', 'find /sys/fs/cgroup -maxdepth 3 -path "*berth*" -type d || true'],
      {
        encoding: 'utf8',
      },
    );
    for (const id of ids) assert.ok(!cgroups.includes(id), `cgroup of ${id.slice(0, 12)} gone`);
    assert.doesNotMatch((await agent.cli(['network', 'ls'])).stdout, /shop_default/, 'the network is gone');
    assert.ok(
      !execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).includes(bridge),
      `bridge ${bridge} gone`,
    );
    const catalog = await readdir(join(agent.stateRoot, 'projects'));
    assert.deepEqual(catalog, [], 'no stored project');
    const st = await agent.cli(['services', '-p', 'shop']);
    assert.equal(st.code, 125);
    assert.match(st.stderr, /project shop not found/);
  });
});
