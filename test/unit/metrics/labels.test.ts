import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { descriptor, fixtureContainers, fixtureRoots, WEB_ID } from './fixture-source.js';
import { copyFixture, samples, startServer } from './helpers.js';

/** Every label name that occurs in the exposition's container series. */
function labelNames(body: string): Set<string> {
  const names = new Set<string>();
  for (const line of body.split('\n')) {
    if (!line.startsWith('container_') && !line.startsWith('berth_container_info')) continue;
    for (const m of line.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) if (m[1]) names.add(m[1]);
  }
  return names;
}

test('only allow-listed labels are exported, and only on berth_container_info by default', async () => {
  const run = await startServer(fixtureContainers(), fixtureRoots('v1'), {
    labelsAllowlist: ['com.docker.compose.service'],
  });
  try {
    const { body } = await run.scrape();
    const info = samples(body, 'berth_container_info');
    assert.equal(info.length, 2);
    assert.ok(info.some((l) => l.includes('container_label_com_docker_compose_service="web"')));
    // Not allow-listed: never exported, however many labels the container has.
    assert.ok(!body.includes('container_label_com_docker_compose_project'));
    assert.ok(!body.includes('build_git_sha'));
    const perSeries = samples(body, 'container_memory_usage_bytes');
    assert.ok(perSeries.every((l) => !l.includes('container_label_')));
    assert.deepEqual([...labelNames(body)].sort(), [
      'container_label_com_docker_compose_service',
      'cpu',
      'device',
      'failure_type',
      'id',
      'image',
      'interface',
      'name',
      'scope',
    ]);
  } finally {
    await run.stop();
  }
});

test('labelsOnAllSeries puts the allow-listed labels on every container series, like cAdvisor', async () => {
  const run = await startServer(fixtureContainers(), fixtureRoots('v1'), {
    labelsAllowlist: ['com.docker.compose.service', 'com.docker.compose.project'],
    labelsOnAllSeries: true,
  });
  try {
    const { body } = await run.scrape();
    const web = samples(body, 'container_cpu_usage_seconds_total').find((l) => l.includes(WEB_ID)) ?? '';
    assert.ok(web.includes('container_label_com_docker_compose_project="shop"'), web);
    assert.ok(web.includes('container_label_com_docker_compose_service="web"'), web);
    // A container without the label gets "" so every series of a family has the same label set.
    const worker = samples(body, 'container_cpu_usage_seconds_total').find((l) => !l.includes(WEB_ID)) ?? '';
    assert.ok(worker.includes('container_label_com_docker_compose_project=""'), worker);
    assert.ok(samples(body, 'machine_cpu_cores')[0]?.startsWith('machine_cpu_cores 4'));
  } finally {
    await run.stop();
  }
});

test('series count grows with containers, not with their labels: 100 containers with 50 labels each', async () => {
  const tree = await copyFixture('v2');
  try {
    const template = join(tree.roots.cgroup, 'berth', WEB_ID);
    const containers = [];
    for (let i = 0; i < 100; i++) {
      const id = i.toString(16).padStart(64, 'c');
      const dir = join(tree.roots.cgroup, 'berth', id);
      await mkdir(dir, { recursive: true });
      for (const f of [
        'cpu.stat',
        'memory.current',
        'memory.stat',
        'memory.events',
        'memory.max',
        'io.stat',
        'pids.current',
        'pids.max',
        'cpu.max',
        'cpu.weight',
        'cgroup.procs',
        'memory.swap.current',
      ]) {
        await writeFile(join(dir, f), await readFile(join(template, f)));
      }
      const labels: Record<string, string> = { 'com.docker.compose.service': `svc${i % 5}` };
      for (let j = 0; j < 50; j++) labels[`label.${j}`] = `value-${i}-${j}`;
      containers.push(
        descriptor({ id, name: `c${i}`, pid: 4242, labels, startedAt: '2026-11-27T10:00:00Z' }),
      );
    }
    const run = await startServer(containers, tree.roots, {
      labelsAllowlist: ['com.docker.compose.service'],
    });
    try {
      await run.scrape();
      await run.scrape();
      const t0 = performance.now();
      const { body } = await run.scrape();
      const ms = performance.now() - t0;
      const containerSeries = body.split('\n').filter((l) => l.startsWith('container_')).length;
      // 50 container series each (cpu 8 with the quota's CFS and burst counters, memory 14, health and creation 2, io 4×2 devices, network 8, spec 6, …) + 1 info, whatever its labels.
      assert.equal(samples(body, 'berth_container_info').length, 100);
      assert.equal(containerSeries % 100, 0);
      assert.equal(containerSeries / 100, 50);
      assert.ok(!body.includes('label_0'));
      // A budget far above the measured cost (~tens of ms): catches accidental quadratic work only.
      assert.ok(ms < 3000, `scrape of 100 containers took ${ms.toFixed(0)} ms`);
      process.stdout.write(
        `# scrape of 100 containers: ${ms.toFixed(1)} ms, ${containerSeries} container series\n`,
      );
    } finally {
      await run.stop();
    }
  } finally {
    await tree.remove();
  }
});
