/**
 * The chart's pod, as a process on this host: the args, env and config file
 * the chart renders (layOut: everything under a temp dir), run by the real
 * berth under the chart's privileges (setpriv: uid 0, every capability
 * dropped but the chart's DAC_READ_SEARCH and SYS_PTRACE, no_new_privs),
 * measures and ships a container that berth's own runtime (agent A) runs.
 * No kubelet runs here, so: the host's /proc and /sys/fs/cgroup are symlinks
 * where the pod has hostPath mounts; the kubelet's log layout for A's
 * container is laid out by the test (pods/<ns>_<pod>_<uid>/<name>/0.log, a
 * hard link to the CRI-format file conmon writes, and the
 * containers/ symlink), as test/integration/observe/live.test.ts does; the
 * listen addresses are moved from 0.0.0.0 to free loopback ports (the pod has
 * its own network namespace; this test has not); `--observe-skip-cgroups`
 * is added so berth's own /berth cgroups count as a node's containers.
 *
 * The root filesystem is read-only as readOnlyRootFilesystem makes it: the
 * agent runs in a mount namespace of its own (unshare) where / is remounted
 * read-only and only the chart's writable mounts are bind-mounted over it.
 *
 * What this host cannot show: the SYS_PTRACE path (the host PID 1's root
 * link) needs the agent in the host's user namespace, and these sessions run
 * in a child one, where PID 1 is out of reach whatever the capabilities.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestAgent } from '../../harness/agent.js';
import { type ManagedProcess, pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';
import { agentWithImage, IMAGE, ok } from '../logs-e2e/e2e.js';
import { render, startPod } from './chart.js';

/** Linux capability numbers (linux/capability.h) of the names the chart adds. */
const CAP_BITS: Record<string, number> = { DAC_READ_SEARCH: 2, NET_BIND_SERVICE: 10, SYS_PTRACE: 19 };

describe("the chart's pod as a process: observe mode under the chart's privileges", () => {
  let a: TestAgent | undefined;
  let rx: ForwardReceiver | undefined;
  let pod: ManagedProcess | undefined;
  let dir = '';
  let id = '';
  let metricsUrl = '';
  let caps: string[] = [];
  let writable: string[] = [];
  const name = `pod-web-${process.pid}`;
  const podName = `web-${process.pid}`;
  const uid = randomUUID();

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

    dir = await tempDir('helm-pod');
    const { objects, run } = await render(dir, 'pod', { fluentd: { servers: [`127.0.0.1:${rx.port}`] } });
    assert.equal(run.code, 0, run.stderr);
    const root = join(dir, 'root');
    const started = await startPod(objects, root, {
      hostLinks: { '/proc': '/proc', '/sys/fs/cgroup': '/sys/fs/cgroup' },
      // berth's own containers (/berth) count as the node's here; a rescan every second.
      extraArgs: ['--observe-skip-cgroups', '/nothing', '--observe-rescan-interval', '1s'],
    });
    pod = started.process;
    ({ metricsUrl, writable, caps } = started);
    assert.deepEqual(
      writable.map((w) => w.slice(root.length)),
      ['/var/lib/berth', '/run/berth', '/tmp'],
    );
    // The kubelet's layout of A's container, in the pod's /host/var/log (the agent rescans every second).
    const logs = join(root, 'host/var/log');
    const podDir = join(logs, 'pods', `shop_${podName}_${uid}`, 'web');
    await mkdir(podDir, { recursive: true });
    await link(join(a.stateRoot, 'containers', id, 'container.log'), join(podDir, '0.log'));
    await symlink(
      `/var/log/pods/shop_${podName}_${uid}/web/0.log`,
      join(logs, 'containers', `${podName}_shop_web-${id}.log`),
    );
  });

  after(async () => {
    await pod?.stop();
    await a?.stop();
    await rx?.stop();
    if (dir) await removeDir(dir);
  });

  test("runs with exactly the chart's capabilities and no_new_privs", async () => {
    assert.ok(pod);
    const status = await readFile(`/proc/${pod.pid}/status`, 'utf8');
    const field = (k: string) =>
      BigInt(
        `0x${/^(\w+):\s+([0-9a-f]+)$/m.exec(status.split('\n').find((l) => l.startsWith(`${k}:`)) ?? '')?.[2] ?? '0'}`,
      );
    const want = caps.reduce((m, c) => m | (1n << BigInt(CAP_BITS[c] ?? 63)), 0n);
    assert.equal(field('CapEff'), want, `CapEff of the agent: ${field('CapEff').toString(16)}`);
    assert.equal(field('CapBnd'), want);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.match(status, /^Uid:\s+0\s/m);
  });

  test("with a read-only root filesystem but for the chart's writable mounts", async () => {
    assert.ok(pod);
    const mounts = (await readFile(`/proc/${pod.pid}/mountinfo`, 'utf8'))
      .split('\n')
      .map((l) => l.split(' '));
    const options = (path: string) => mounts.find((f) => f[4] === path)?.[5] ?? '';
    assert.match(options('/'), /^ro\b/, 'the root filesystem');
    for (const w of writable) assert.match(options(w), /^rw\b/, w);
  });

  test("measures the node's container on /metrics under its kubelet name", async () => {
    const want = `k8s_web_${podName}_shop_${uid}_0`;
    const body = await pollUntil(
      'the container on /metrics',
      async () => {
        const text = await (await fetch(metricsUrl)).text();
        return text.includes(`name="${want}"`) ? text : undefined;
      },
      30_000,
      250,
    );
    const series = (family: string) =>
      body
        .split('\n')
        .find(
          (l) =>
            l.startsWith(`${family}{`) && l.includes(`id="/berth/${id}"`) && l.includes(`name="${want}"`),
        );
    for (const family of [
      'container_cpu_usage_seconds_total',
      'container_memory_working_set_bytes',
      'container_file_descriptors',
    ]) {
      const line = series(family);
      assert.ok(line, `${family} for the container`);
      assert.ok(Number(line.split(' ').at(-1)) > 0, line);
    }
    assert.ok(
      series('container_network_receive_bytes_total') !== undefined ||
        !body.includes('container_network_receive_bytes_total{'),
    );
  });

  test("ships the container's lines with its pod's fields", async () => {
    const mine = () => (rx?.records() ?? []).filter((e) => e.record.container_id === id);
    await pollUntil('5 shipped lines', async () => (mine().length >= 5 ? true : undefined), 30_000, 100);
    const first = mine()[0]?.record;
    assert.match(String(first?.log), /^line \d+$/);
    assert.equal(first?.host, 'node-1', 'the node name from the downward API');
    // Its positions are kept in the state dir on the node, so a new pod resumes where this one stopped.
    const positions = join(writable[0] ?? '', 'logs/positions.json');
    await pollUntil(
      'positions saved in the state dir',
      async () =>
        (await readFile(positions, 'utf8').catch(() => '')).includes(`shop_${podName}_${uid}`)
          ? true
          : undefined,
      30_000,
      250,
    );
  });
});
