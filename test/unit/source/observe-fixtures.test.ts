/**
 * Observe mode's source over fixture trees laid out as real Docker and
 * kubelet hosts lay them out (test/fixtures/observe/README.md cites each
 * layout): the right containers, ids, names, images, pods, namespaces,
 * cgroup paths and log files, and nothing from the records that lie.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ObserveSource } from '../../../runtime/source/observe/source.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { tempDir } from '../../harness/tmp.js';

const FIX = join(import.meta.dirname, '../../fixtures/observe');
const A = 'a1'.repeat(32);
const B = 'b2'.repeat(32);
const C = 'c3'.repeat(32);
const D = '4d'.repeat(32);
const E = '5e'.repeat(32);
const K1 = 'd4'.repeat(32);
const K1P = 'e5'.repeat(32);
const K2 = 'f6'.repeat(32);
const K3 = '07'.repeat(32);
const KX = '18'.repeat(32);
const K4 = '29'.repeat(32);
const P1 = '6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a6b';
const P2 = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const P3 = '9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f';

function sourceOver(tree: string, o: Partial<ConstructorParameters<typeof ObserveSource>[0]> = {}) {
  const root = join(FIX, tree);
  return new ObserveSource({
    roots: {
      proc: join(root, 'proc'),
      cgroup: join(root, 'sys/fs/cgroup'),
      docker: join(root, 'var/lib/docker'),
      log: join(root, 'var/log'),
      run: join(root, 'run'),
    },
    watch: false,
    metadataGraceMs: 0,
    ...o,
  });
}

async function listOf(tree: string): Promise<Map<string, ContainerDescriptor>> {
  const s = sourceOver(tree);
  await s.start();
  try {
    return new Map((await s.list({ all: true })).map((c) => [c.id, c]));
  } finally {
    await s.close();
  }
}

describe('observe: Docker, cgroupfs driver, cgroup v1', () => {
  it('finds the running containers under /docker and the stopped one in Docker’s records', async () => {
    const all = await listOf('docker-cgroupfs-v1');
    assert.deepEqual([...all.keys()].sort(), [A, B, C, D, E].sort());
    const web = all.get(A);
    assert.ok(web);
    assert.equal(web.name, 'web');
    assert.equal(web.source, 'docker');
    assert.equal(web.state, 'running');
    assert.equal(web.image, 'nginx:1.27');
    assert.equal(web.imageName, 'nginx');
    assert.equal(web.imageTag, '1.27');
    assert.equal(web.imageId, `sha256:${'ab'.repeat(32)}`);
    assert.equal(web.cgroupPath, `/docker/${A}`);
    assert.equal(web.pid, 4242);
    assert.equal(web.labels.SERVICE_NAME, 'web');
    assert.equal(web.env.APP_MODE, 'prod');
    assert.deepEqual(web.ports, [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }]);
    assert.deepEqual(web.addresses, { bridge: '172.17.0.2' });
    assert.equal(web.logPath, join(FIX, `docker-cgroupfs-v1/var/lib/docker/containers/${A}/${A}-json.log`));
    assert.equal(web.logFormat, 'json-file');
  });

  it('a stopped container is listed with all, with its exit code, and not without', async () => {
    const s = sourceOver('docker-cgroupfs-v1');
    await s.start();
    const job = await s.get('migrate');
    assert.equal(job.state, 'exited');
    assert.equal(job.exitCode, 3);
    assert.equal(job.cgroupPath, undefined);
    assert.equal(job.imageTag, '');
    assert.deepEqual((await s.list()).map((c) => c.name).sort(), ['parented', 'syslogged', 'web']);
    await s.close();
  });

  it('a container under a cgroup parent no layout names is found through its init’s /proc/<pid>/cgroup', async () => {
    const all = await listOf('docker-cgroupfs-v1');
    assert.equal(all.get(D)?.state, 'running');
    assert.equal(all.get(D)?.cgroupPath, `/system.slice/custom.service/${D}`);
    // A pid the kernel gave to another process since (its cgroup names no container): not believed.
    assert.equal(all.get(E)?.state, 'exited');
    assert.equal(all.get(E)?.cgroupPath, undefined);
  });

  it('a container logging elsewhere (syslog) has no log file; host networking is kept', async () => {
    const all = await listOf('docker-cgroupfs-v1');
    const c = all.get(C);
    assert.equal(c?.logPath, undefined);
    assert.equal(c?.networkMode, 'host');
  });
});

describe('observe: Docker, systemd driver, cgroup v2', () => {
  it('finds docker-<id>.scope under system.slice and nothing in services or sessions', async () => {
    const all = await listOf('docker-systemd-v2');
    assert.deepEqual([...all.keys()], [A]);
    assert.equal(all.get(A)?.cgroupPath, `/system.slice/docker-${A}.scope`);
    assert.equal(all.get(A)?.pid, 5151);
    assert.equal(all.get(A)?.name, 'web');
  });
});

for (const [tree, paths] of [
  [
    'kubelet-systemd-v2',
    {
      [K1]: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${P1.replaceAll('-', '_')}.slice/cri-containerd-${K1}.scope`,
      [K2]: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${P2.replaceAll('-', '_')}.slice/cri-containerd-${K2}.scope`,
      [K3]: `/kubepods.slice/kubepods-pod${P3.replaceAll('-', '_')}.slice/cri-containerd-${K3}.scope`,
    },
  ],
  [
    'kubelet-cgroupfs-hybrid',
    {
      [K1]: `/kubepods/burstable/pod${P1}/${K1}`,
      [K2]: `/kubepods/besteffort/pod${P2}/${K2}`,
      [K3]: `/kubepods/pod${P3}/${K3}`,
    },
  ],
] as const) {
  describe(`observe: kubelet (${tree})`, () => {
    it('finds each QoS class’s containers with their pod, namespace, container name and log', async () => {
      const all = await listOf(tree);
      for (const [id, path] of Object.entries(paths)) assert.equal(all.get(id)?.cgroupPath, path, id);
      const web = all.get(K1);
      assert.ok(web);
      assert.equal(web.source, 'cri');
      assert.equal(web.state, 'running');
      assert.equal(web.labels['io.kubernetes.pod.name'], 'web-7d9f8c-x2x4z');
      assert.equal(web.labels['io.kubernetes.pod.namespace'], 'shop');
      assert.equal(web.labels['io.kubernetes.container.name'], 'nginx');
      assert.equal(web.labels['io.kubernetes.pod.uid'], P1);
      assert.equal(web.labels['io.kubernetes.pod.qos'], 'burstable');
      assert.equal(all.get(K2)?.labels['io.kubernetes.pod.qos'], 'besteffort');
      assert.equal(all.get(K3)?.labels['io.kubernetes.pod.qos'], 'guaranteed');
      assert.equal(all.get(K3)?.labels['io.kubernetes.pod.namespace'], 'kube-system');
      assert.equal(web.logFormat, 'k8s-file');
      assert.match(web.logPath ?? '', /\/var\/log\/pods\/shop_web-7d9f8c-x2x4z_[0-9a-f-]+\/nginx\/\d\.log$/);
      assert.match(web.name, /^k8s_nginx_web-7d9f8c-x2x4z_shop_/);
    });

    it('the pod’s sandbox (pause) is named from its pod, and has no log', async () => {
      const pause = (await listOf(tree)).get(K1P);
      assert.ok(pause);
      assert.equal(pause.labels['io.kubernetes.container.name'], 'POD');
      assert.equal(pause.labels['io.kubernetes.pod.name'], 'web-7d9f8c-x2x4z');
      assert.equal(pause.logPath, undefined);
      assert.equal(pause.source, 'cri');
    });
  });
}

describe('observe: CRI runtimes’ bundles', () => {
  it('containerd’s bundle annotations give the image; a container without a log link yet is named from them', async () => {
    const all = await listOf('kubelet-systemd-v2');
    assert.equal(all.get(K1)?.image, 'docker.io/library/nginx:1.27');
    assert.equal(all.get(K1)?.imageTag, '1.27');
    assert.equal(all.get(K1P)?.labels['io.kubernetes.container.name'], 'POD');
    const fresh = all.get(K4);
    assert.ok(fresh);
    assert.equal(fresh.source, 'cri');
    assert.equal(fresh.name, `k8s_sidecar_report-28461_batch_${P2}_0`);
    assert.equal(fresh.labels['io.kubernetes.pod.qos'], 'besteffort');
    assert.equal(fresh.image, '', 'an image annotation that is no reference is not believed');
    assert.equal(fresh.logPath, undefined);
  });

  it('CRI-O’s bundle annotations give the image', async () => {
    assert.equal(
      (await listOf('kubelet-cgroupfs-hybrid')).get(K1)?.image,
      'quay.io/nginx/nginx-unprivileged:1.27',
    );
  });
});

describe('observe: kubelet restarts and exited containers', () => {
  it('the newest attempt’s file is the log; an exited container with a kept log is listed with all', async () => {
    const all = await listOf('kubelet-systemd-v2');
    assert.match(all.get(K1)?.logPath ?? '', /\/nginx\/1\.log$/);
    assert.equal(all.get(K1)?.restartCount, 1);
    const init = all.get(KX);
    assert.equal(init?.state, 'exited');
    assert.equal(init?.labels['io.kubernetes.container.name'], 'init-db');
  });
});

describe('observe: hostile records', () => {
  it('a config.v2.json symlinked out of the root, with another id, or with a name Docker never gives is not believed', async () => {
    const all = await listOf('hostile-v2');
    for (const id of ['21', '32', '43'].map((x) => x.repeat(32))) {
      const c = all.get(id);
      assert.ok(c, 'the cgroup is still a container');
      assert.equal(c.source, 'cgroup', id);
      assert.equal(c.name, id.slice(0, 12));
      assert.equal(c.logPath, undefined);
    }
  });

  it('a kubelet link out of /var/log, at another pod’s file, or with invalid names gives no log path', async () => {
    const s = sourceOver('hostile-v2');
    await s.start();
    const all = await s.list({ all: true });
    await s.close();
    for (const c of all) assert.ok(!c.logPath, `${c.name} has no log path (${c.logPath})`);
    assert.equal(
      all.find((c) => c.id === '76'.repeat(32)),
      undefined,
      'a link whose names are not Kubernetes names is skipped',
    );
  });

  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a Docker record over 1 MiB is not read', async () => {
    const dir = await tempDir('observe-big-');
    dirs.push(dir);
    await cp(join(FIX, 'docker-systemd-v2'), dir, { recursive: true, verbatimSymlinks: true });
    const cfg = join(dir, `var/lib/docker/containers/${A}/config.v2.json`);
    await writeFile(cfg, `{"ID":"${A}","Name":"/web","pad":"${'x'.repeat(1024 * 1024)}"}`);
    const s = new ObserveSource({
      roots: {
        proc: join(dir, 'proc'),
        cgroup: join(dir, 'sys/fs/cgroup'),
        docker: join(dir, 'var/lib/docker'),
        log: join(dir, 'var/log'),
      },
      watch: false,
      metadataGraceMs: 0,
    });
    await s.start();
    assert.equal((await s.get(A)).source, 'cgroup');
    await s.close();
  });

  it('a cgroup tree deeper or wider than the bounds is cut short, not walked without end', async () => {
    const dir = await tempDir('observe-wide-');
    dirs.push(dir);
    await cp(join(FIX, 'docker-systemd-v2'), dir, { recursive: true, verbatimSymlinks: true });
    for (let i = 0; i < 50; i++) await mkdir(join(dir, `sys/fs/cgroup/junk-${i}`), { recursive: true });
    const s = new ObserveSource({
      roots: {
        proc: join(dir, 'proc'),
        cgroup: join(dir, 'sys/fs/cgroup'),
        docker: join(dir, 'var/lib/docker'),
        log: join(dir, 'var/log'),
      },
      watch: false,
      maxCgroupDirs: 10,
    });
    await s.start();
    assert.ok((await s.list({ all: true })).length <= 1);
    await s.close();
  });
});
