/**
 * `npm run bench -- observe [CONTAINERS] [ROUNDS]`: the CPU one rescan of
 * observe mode's source costs on a kubelet host of CONTAINERS containers
 * (default 1000: CONTAINERS/2 burstable pods of 2, each cgroup with 40
 * control files as on v2, one /var/log/containers link each), laid out in a
 * temp dir. The first scan (everything new: every link resolved, every
 * descriptor built) and the median of ROUNDS (default 9) rescans of an
 * unchanged host, which is what the periodic rescan costs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ObserveSource } from '../../runtime/source/observe/source.js';
import { tempDir } from '../harness/tmp.js';

export const description = 'observe mode: CPU per rescan of a kubelet host with N containers';

const FIX = join(import.meta.dirname, '../fixtures/observe/kubelet-systemd-v2/proc');

async function layOut(dir: string, n: number): Promise<void> {
  await cp(FIX, join(dir, 'proc'), { recursive: true });
  await mkdir(join(dir, 'sys/fs/cgroup'), { recursive: true });
  await writeFile(join(dir, 'sys/fs/cgroup/cgroup.controllers'), 'cpu memory pids\n');
  await mkdir(join(dir, 'var/log/containers'), { recursive: true });
  for (let p = 0; p < Math.ceil(n / 2); p++) {
    const uid = randomUUID();
    const pod = join(
      dir,
      'sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice',
      `kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice`,
    );
    for (let c = 0; c < 2 && p * 2 + c < n; c++) {
      const id = randomBytes(32).toString('hex');
      const cg = join(pod, `cri-containerd-${id}.scope`);
      await mkdir(cg, { recursive: true });
      for (let f = 0; f < 40; f++) await writeFile(join(cg, `ctl.${f}`), '');
      await writeFile(join(cg, 'cgroup.procs'), `${1000 + p}\n`);
      const logDir = join(dir, 'var/log/pods', `ns_pod-${p}_${uid}`, `c${c}`);
      await mkdir(logDir, { recursive: true });
      await writeFile(join(logDir, '0.log'), '');
      await symlink(
        `/var/log/pods/ns_pod-${p}_${uid}/c${c}/0.log`,
        join(dir, 'var/log/containers', `pod-${p}_ns_c${c}-${id}.log`),
      );
    }
  }
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const n = Number(args[0] ?? 1000);
  const rounds = Number(args[1] ?? 9);
  const dir = await tempDir('bench-observe-');
  try {
    process.stderr.write(`laying out ${n} containers...\n`);
    await layOut(dir, n);
    const source = new ObserveSource({
      roots: {
        proc: join(dir, 'proc'),
        cgroup: join(dir, 'sys/fs/cgroup'),
        docker: join(dir, 'docker'),
        log: join(dir, 'var/log'),
      },
      watch: false,
      rescanIntervalMs: 3_600_000,
    });
    let c = process.cpuUsage();
    await source.start();
    const first = cpuMs(process.cpuUsage(c));
    const xs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      c = process.cpuUsage();
      await source.rescan();
      xs.push(cpuMs(process.cpuUsage(c)));
    }
    const listed = (await source.list()).length;
    await source.close();
    xs.sort((a, b) => a - b);
    const median = xs[Math.floor(xs.length / 2)] ?? 0;
    return {
      containers: listed,
      first_scan_cpu_ms: Math.round(first * 10) / 10,
      rescan_cpu_ms_median: Math.round(median * 10) / 10,
      rescan_cpu_pct_at_5s: Math.round((median / 5000) * 1000) / 10,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
