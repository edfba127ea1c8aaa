/**
 * Container start latency: the same busybox `echo hi` (no network) run N
 * times each through berth (`berth run --rm` against a warm agent, CLI
 * process included, as a user types it), bare `runc run` on a prepared
 * bundle, and `podman --runtime runc run --rm` on its own throw-away storage.
 * Runs are interleaved so machine noise hits all three alike.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
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

    const berth: number[] = [];
    const runc: number[] = [];
    const podman: number[] = [];
    // One warm-up each: page cache, image unpack, podman's storage init.
    const once = async (i: number, record: boolean) => {
      const b = await timeMs(async () => {
        const r = await agent.cli(['run', '--rm', '--network', 'none', 'bench/busybox:1', 'echo', 'hi']);
        if (r.code !== 0 || r.stdout.trim() !== 'hi')
          throw new Error(`berth run: ${r.code} ${r.stdout} ${r.stderr}`);
      });
      const rc = await timeMs(() => sh('runc', ['--root', runcRoot, 'run', '-b', bundle, `bench-${i}`]));
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
        podman.push(p);
      }
    };
    await once(-1, false);
    const deadline = Date.now() + 10 * 60_000;
    for (let i = 0; i < n && Date.now() < deadline; i++) await once(i, true);
    const berthMs = median(berth);
    const runcMs = median(runc);
    const podmanMs = median(podman);
    return {
      runs: berth.length,
      berth_ms: round(berthMs, 1),
      runc_ms: round(runcMs, 1),
      podman_ms: round(podmanMs, 1),
      ratio_vs_runc: round(berthMs / runcMs, 2),
      ratio_vs_podman: round(berthMs / podmanMs, 2),
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
