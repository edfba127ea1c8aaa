/**
 * Observe mode on a live host: berth's own runtime (agent A, run mode) runs
 * containers as an engine would; a second agent (B, `--mode observe`) that did
 * not start them finds them in the real cgroup tree, measures them on its
 * /metrics and ships their logs to a Forward receiver, and sees them go.
 *
 * The layout B reads: the real /sys/fs/cgroup and /proc (A's containers are
 * at /berth/<id>, a bare id under a parent: the layout of Docker's cgroupfs
 * driver and of containerd's, so B is told not to skip /berth), and a
 * kubelet-style /var/log laid out by the test for those containers
 * (pods/<ns>_<pod>_<uid>/<container>/0.log, a hard link to the file conmon
 * writes, which is in the CRI format; containers/<pod>_<ns>_<container>-<id>.log,
 * an absolute symlink into pods/), as the kubelet lays it out for containerd.
 * A second container is laid out as Docker lays one out (its config.v2.json
 * under a Docker root, its output in json-file lines as dockerd writes them:
 * there is no dockerd here) and is shipped with Docker's fluentd-driver
 * fields. A service declared in a Consul service-definition file is
 * registered and answered by B's DNS.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { link, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import { agentWithImage, IMAGE, ok } from '../logs-e2e/e2e.js';

describe('observe mode: a second agent measures and ships containers it did not start', () => {
  let a: TestAgent | undefined;
  let b: TestAgent | undefined;
  let rx: ForwardReceiver | undefined;
  let dir = '';
  const name = `obs-web-${process.pid}`;
  const pod = `web-${process.pid}`;
  const uid = randomUUID();
  let id = '';
  const dk = `obs-dk-${process.pid}`;
  let dkId = '';
  const svc = `obs-svc-${process.pid}`;

  before(async () => {
    rx = await ForwardReceiver.start();
    a = await agentWithImage();
    await ok(a, [
      'run',
      '-d',
      '--name',
      name,
      IMAGE,
      'sh',
      '-c',
      'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.1; done',
    ]);
    const [desc] = JSON.parse(await ok(a, ['inspect', name])) as Array<{ id: string }>;
    id = desc?.id ?? '';
    assert.match(id, /^[0-9a-f]{64}$/);
    await ok(a, ['run', '-d', '--name', dk, IMAGE, 'sleep', '300']);
    const [dkDesc] = JSON.parse(await ok(a, ['inspect', dk])) as Array<{ id: string; pid?: number }>;
    dkId = dkDesc?.id ?? '';
    dir = await tempDir('observe-live-');
    const rec = join(dir, 'docker/containers', dkId);
    await mkdir(rec, { recursive: true });
    await writeFile(
      join(rec, 'config.v2.json'),
      JSON.stringify({
        ID: dkId,
        Name: `/${dk}`,
        Created: new Date().toISOString(),
        State: { Running: true, Pid: dkDesc?.pid ?? 0, StartedAt: new Date().toISOString() },
        Config: { Image: IMAGE, Labels: { team: 'shop' }, Env: ['PATH=/bin'] },
        Image: `sha256:${'ab'.repeat(32)}`,
      }),
    );
    await writeFile(
      join(rec, 'hostconfig.json'),
      JSON.stringify({ LogConfig: { Type: 'json-file', Config: {} } }),
    );
    await writeFile(
      join(rec, `${dkId}-json.log`),
      ['one', 'two', 'three']
        .map(
          (l, i) =>
            `${JSON.stringify({ log: `${l}\n`, stream: 'stdout', time: `2026-12-07T10:00:0${i}.5Z` })}\n`,
        )
        .join(''),
    );
    const podDir = join(dir, 'var/log/pods', `shop_${pod}_${uid}`, 'web');
    await mkdir(podDir, { recursive: true });
    await mkdir(join(dir, 'var/log/containers'), { recursive: true });
    await mkdir(join(dir, 'services'), { recursive: true });
    await writeFile(
      join(dir, 'services', 'svc.json'),
      JSON.stringify({ service: { name: svc, port: 8080, address: '127.0.0.9', tags: ['observed'] } }),
    );
    // The same inode conmon appends to (no rotation in this test): the kubelet's file for this container.
    await link(join(a.stateRoot, 'containers', id, 'container.log'), join(podDir, '0.log'));
    await symlink(
      `/var/log/pods/shop_${pod}_${uid}/web/0.log`,
      join(dir, 'var/log/containers', `${pod}_shop_web-${id}.log`),
    );
    b = await startAgent({
      args: [
        '--mode',
        'observe',
        '--host-log-root',
        join(dir, 'var/log'),
        '--docker-root',
        join(dir, 'docker'),
        '--observe-skip-cgroups',
        '/nothing',
        '--observe-rescan-interval',
        '1s',
        '--fluentd',
        `127.0.0.1:${rx.port}`,
        '--haproxy',
        'off',
        '--services-dir',
        join(dir, 'services'),
      ],
    });
  });

  after(async () => {
    await b?.stop();
    await a?.stop();
    await rx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('measures the container on /metrics under its kubelet name', async () => {
    assert.ok(b);
    const url = String(((await b.info()).endpoints as Record<string, string>).metrics);
    const want = `k8s_web_${pod}_shop_${uid}_0`;
    const body = await pollUntil(
      'the observed container on /metrics',
      async () => {
        const text = await (await fetch(url)).text();
        return text.includes(`name="${want}"`) ? text : undefined;
      },
      20_000,
      200,
    );
    const cpu = body
      .split('\n')
      .find((l) => l.startsWith('container_cpu_usage_seconds_total{') && l.includes(`id="/berth/${id}"`));
    assert.ok(cpu, 'container_cpu_usage_seconds_total for /berth/<id>');
    assert.match(cpu, new RegExp(`name="${want}"`));
    const mem = body
      .split('\n')
      .find((l) => l.startsWith('container_memory_working_set_bytes{') && l.includes(`id="/berth/${id}"`));
    assert.ok(mem && Number(mem.split(' ').at(-1)) > 0, `memory working set: ${mem}`);
  });

  it('ships its lines, in order, with the pod’s fields', async () => {
    const mine = () => (rx?.records() ?? []).filter((e) => e.record.container_id === id);
    await pollUntil('10 shipped lines', async () => (mine().length >= 10 ? true : undefined), 20_000, 100);
    const recs = mine().map((e) => e.record);
    const numbers = recs.map((r) => Number(String(r.log).replace('line ', '')));
    assert.deepEqual(
      numbers.slice(0, 10),
      Array.from({ length: 10 }, (_, i) => i),
      'from the first line of the file, in order',
    );
    assert.equal(recs[0]?.container_name, `k8s_web_${pod}_shop_${uid}_0`);
    assert.equal(recs[0]?.source, 'stdout');
  });

  it('a Docker-laid-out container: measured under its Docker name, shipped with Docker’s fields', async () => {
    assert.ok(b);
    const url = String(((await b.info()).endpoints as Record<string, string>).metrics);
    await pollUntil(
      'the Docker container on /metrics',
      async () =>
        (await (await fetch(url)).text()).includes(`id="/berth/${dkId}",image="${IMAGE}",name="${dk}"`)
          ? true
          : undefined,
      20_000,
      200,
    );
    const mine = () => (rx?.records() ?? []).filter((e) => e.record.container_id === dkId);
    await pollUntil('3 json-file records', async () => (mine().length >= 3 ? true : undefined), 20_000, 100);
    const recs = mine().map((e) => e.record);
    assert.deepEqual(
      recs.map((r) => [r.container_name, r.source, r.log]),
      [
        [`/${dk}`, 'stdout', 'one'],
        [`/${dk}`, 'stdout', 'two'],
        [`/${dk}`, 'stdout', 'three'],
      ],
    );
    assert.equal(recs[0]?.time, '2026-12-07T10:00:00.500000000Z');
  });

  it('registers the service of a definition file: the embedded DNS answers it', async () => {
    assert.ok(b);
    const endpoints = (await b.info()).endpoints as Record<string, string>;
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(endpoints.dns ?? '')?.[1] ?? 0);
    assert.ok(port > 0, `dns endpoint: ${endpoints.dns}`);
    const r = new Resolver({ timeout: 1000, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    const addrs = await pollUntil(
      `${svc}.service.consul`,
      async () => r.resolve4(`${svc}.service.consul`).catch(() => undefined),
      20_000,
      200,
    );
    assert.deepEqual(addrs, ['127.0.0.9']);
  });

  it('sees the container go when its engine removes it', async () => {
    assert.ok(a && b);
    const url = String(((await b.info()).endpoints as Record<string, string>).metrics);
    await ok(a, ['rm', '-f', name]);
    await pollUntil(
      'the removed container gone from /metrics',
      async () => ((await (await fetch(url)).text()).includes(`id="/berth/${id}"`) ? undefined : true),
      20_000,
      200,
    );
  });
});
