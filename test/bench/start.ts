/**
 * Container start latency: the same busybox `echo hi` (no network) run N
 * times each through berth (`berth run --rm` against a warm agent, CLI
 * process included, as a user types it), bare `runc run` on a prepared
 * bundle, and `podman --runtime runc run --rm` on its own throw-away storage.
 * Runs are interleaved so machine noise hits all three alike. A fourth
 * reference, bare `runc run` with the very OCI spec berth writes (seccomp,
 * capabilities, masked paths), shows how much of berth's time is runc's own.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAgent } from '../harness/agent.js';
import { buildBusyboxImage } from '../harness/images.js';
import { makeBusyboxRootfs } from '../harness/rootfs.js';
import { removeDir, tempDir } from '../harness/tmp.js';
import { median, round, timeMs } from './_stats.js';

const execFileAsync = promisify(execFile);

export const description =
  'container start: berth run --rm vs bare runc run vs podman run --rm (ms, medians)';

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    c.once('error', reject);
    c.once('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`)),
    );
  });
}

function runcBundleConfig(rootfs: string): Record<string, unknown> {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['echo', 'hi'],
      env: ['PATH=/bin'],
      cwd: '/',
      capabilities: {
        bounding: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        effective: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      },
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: false },
    hostname: 'bench',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      cgroupsPath: '/berth-bench/runc',
    },
  };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const n = Math.min(Number(args[0] ?? 20), 200);
  // podman asks for more open files and processes than a host without
  // CAP_SYS_RESOURCE may grant (even equal to the hard limit fails there);
  // lowering is always allowed.
  const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
  const dir = await tempDir('berth-bench-start-');
  const agent = await startAgent();
  const podmanArgs = [
    '--root',
    join(dir, 'podman/root'),
    '--runroot',
    join(dir, 'podman/run'),
    '--storage-driver',
    'vfs',
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
    '--runtime',
    'runc',
  ];
  try {
    const tar = await buildBusyboxImage({ format: 'docker', ref: 'bench/busybox:1' });
    const loaded = await agent.cli(['load', '-i', tar]);
    if (loaded.code !== 0) throw new Error(`berth load: ${loaded.stderr}`);
    await sh('podman', [...podmanArgs, 'load', '-i', tar]);
    const bundle = join(dir, 'bundle');
    await makeBusyboxRootfs(join(bundle, 'rootfs'));
    await writeFile(join(bundle, 'config.json'), JSON.stringify(runcBundleConfig(join(bundle, 'rootfs'))));
    const runcRoot = join(dir, 'runc');
    await mkdir(runcRoot, { recursive: true });
    // A second bare-runc reference: the OCI spec berth itself writes for this container (Docker's
    // default seccomp profile, capabilities, masked paths, /etc files), so the figures show what is
    // runc's own work and what is berth's. Taken from a probe container that stays up meanwhile.
    const probe = await agent.cli(['run', '-d', '--network', 'none', 'bench/busybox:1', 'sleep', '600']);
    if (probe.code !== 0) throw new Error(`berth run -d: ${probe.stderr}`);
    const probeId = probe.stdout.trim();
    const berthSpec = JSON.parse(
      await readFile(join(agent.runDir, 'containers', probeId, 'config.json'), 'utf8'),
    ) as { root: unknown; process: Record<string, unknown>; linux: Record<string, unknown> };
    berthSpec.root = { path: join(bundle, 'rootfs'), readonly: false };
    berthSpec.process.args = ['echo', 'hi'];
    berthSpec.linux.cgroupsPath = '/berth-bench/runc-spec';
    const specBundle = join(dir, 'bundle-berth-spec');
    await mkdir(specBundle, { recursive: true });
    await writeFile(join(specBundle, 'config.json'), JSON.stringify(berthSpec));

    const berth: number[] = [];
    const runc: number[] = [];
    const runcSpec: number[] = [];
    const podman: number[] = [];
    // One warm-up each: page cache, image unpack, podman's storage init.
    const once = async (i: number, record: boolean) => {
      const b = await timeMs(async () => {
        const r = await agent.cli(['run', '--rm', '--network', 'none', 'bench/busybox:1', 'echo', 'hi']);
        if (r.code !== 0 || r.stdout.trim() !== 'hi')
          throw new Error(`berth run: ${r.code} ${r.stdout} ${r.stderr}`);
      });
      const rc = await timeMs(() => sh('runc', ['--root', runcRoot, 'run', '-b', bundle, `bench-${i}`]));
      const rs = await timeMs(() =>
        sh('runc', ['--root', runcRoot, 'run', '-b', specBundle, `bench-spec-${i}`]),
      );
      const p = await timeMs(() =>
        sh('podman', [
          ...podmanArgs,
          'run',
          '--rm',
          ...ulimits,
          '--network',
          'none',
          'bench/busybox:1',
          'echo',
          'hi',
        ]),
      );
      if (record) {
        berth.push(b);
        runc.push(rc);
        runcSpec.push(rs);
        podman.push(p);
      }
    };
    await once(-1, false);
    const deadline = Date.now() + 10 * 60_000;
    for (let i = 0; i < n && Date.now() < deadline; i++) await once(i, true);
    const berthMs = median(berth);
    const runcMs = median(runc);
    const podmanMs = median(podman);
    const runcSpecMs = median(runcSpec);
    await agent.cli(['rm', '-f', probeId]);
    return {
      runs: berth.length,
      berth_ms: round(berthMs, 1),
      runc_ms: round(runcMs, 1),
      podman_ms: round(podmanMs, 1),
      ratio_vs_runc: round(berthMs / runcMs, 2),
      ratio_vs_podman: round(berthMs / podmanMs, 2),
      // Bare runc running berth's own spec for the container: berth_ms minus this is berth's share.
      runc_berth_spec_ms: round(runcSpecMs, 1),
      ratio_vs_runc_berth_spec: round(berthMs / runcSpecMs, 2),
    };
  } finally {
    await execFileAsync('podman', [...podmanArgs, 'rmi', '-af']).catch(() => undefined);
    await agent.stop();
    // runc removes each container's cgroup; the parent it created stays in every v1 hierarchy.
    await execFileAsync('sh', ['-c', 'rmdir /sys/fs/cgroup/*/berth-bench 2>/dev/null; true']).catch(
      () => undefined,
    );
    await removeDir(dir);
  }
}
