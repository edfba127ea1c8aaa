/**
 * The host state that agents (and in-process runtimes) started by different
 * test files share, made safe for files that run at the same time
 * (test/run.sh runs integration files in parallel):
 *
 * - subnets: each agent leases its /24 of 10.215.0.0/16 (a file created with
 *   O_EXCL under /run/berth-test/subnets, holding the test process's pid), so
 *   two agents never get the same one; a lease whose process is gone is
 *   taken over;
 * - berth's iptables chains and the `/berth` cgroup parent are shared by every
 *   agent: removing them once unused while another file's agent is about to
 *   use them would break it, so under test/run.sh (BERTH_TEST_RUN_DIR set)
 *   they are removed once at the end of the run (run-end.ts), and by each
 *   agent's stop only when a file runs on its own.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tokenize } from '../../runtime/network/iptables.js';

const LEASES = '/run/berth-test/subnets';

/**
 * Fails at once, naming what needs root, when the test process is not root:
 * an agent or runtime started by another user fails much later and far from
 * the cause (runc, netns, bridges, cgroups, mounts, chown).
 */
export function requireRoot(what: string): void {
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) {
    throw new Error(
      `${what} needs root (uid 0, not ${uid}): it runs containers, netns, bridges, cgroups and mounts; run the suite as root (test/README.md lists which folders need it)`,
    );
  }
}

/** True under test/run.sh: the shared host state is cleaned up once at the end of the run. */
export function sharedCleanupDeferred(): boolean {
  return (process.env.BERTH_TEST_RUN_DIR ?? '') !== '';
}

export interface SubnetLease {
  /** `10.215.N.0/24` */
  readonly subnet: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Leases a /24 of 10.215.0.0/16 no other running test holds; released by `release()` (or taken over once this process is gone). */
export async function leaseSubnet(leases = LEASES): Promise<SubnetLease> {
  await mkdir(leases, { recursive: true, mode: 0o700 });
  const start = Math.floor(Math.random() * 256);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 256; i++) {
      const n = (start + i) % 256;
      const path = join(leases, String(n));
      try {
        const fh = await open(path, 'wx', 0o600);
        await fh.writeFile(String(process.pid));
        await fh.close();
        return {
          subnet: `10.215.${n}.0/24`,
          release: () => rm(path, { force: true }),
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (round === 1) continue;
      // Held: take it over only when its process is gone (a killed test run); the rename lets one taker win.
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (owner !== 0 && !alive(owner)) {
        const stale = `${path}.stale-${process.pid}`;
        if (
          await rename(path, stale).then(
            () => true,
            () => false,
          )
        )
          await rm(stale, { force: true });
      }
    }
  }
  throw new Error(`no free test subnet in 10.215.0.0/16: 256 leases held under ${leases}`);
}

function sh(cmd: string, args: string[]): Promise<number> {
  return new Promise((r) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.once('error', () => r(1));
    c.once('close', (code) => r(code ?? 1));
  });
}

export function iptablesRules(table: string): Promise<string> {
  return new Promise<string>((r) => {
    const c = spawn('iptables', ['-w', '5', '-t', table, '-S'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.once('close', () => r(out));
    c.once('error', () => r(''));
  });
}

/** Deletes the rule an `iptables -S` line (`-A CHAIN …`) shows, split as the network manager splits it. */
export function deleteRule(table: string, line: string): Promise<number> {
  return sh('iptables', ['-w', '5', '-t', table, '-D', ...tokenize(line).slice(1)]);
}

/**
 * berth's chains and the jumps into them are shared by every bridge on the
 * host; once no bridge's rules are left (no agent is running), remove them
 * too, so a test run leaves iptables as it found it.
 */
export async function dropSharedChainsIfUnusedNow(): Promise<void> {
  const nat = await iptablesRules('nat');
  const filter = await iptablesRules('filter');
  if (/berth:/.test(nat) || /berth:/.test(filter)) return;
  for (const [table, rules] of [
    ['nat', nat],
    ['filter', filter],
  ] as const) {
    for (const line of rules.split('\n')) {
      if (!line.startsWith('-A ') || !/-j BERTH-/.test(line) || /^-A BERTH-/.test(line)) continue;
      await deleteRule(table, line);
    }
    for (const chain of rules.matchAll(/^-N (BERTH-\S+)$/gm)) {
      await sh('iptables', ['-w', '5', '-t', table, '-F', chain[1] ?? '']);
      await sh('iptables', ['-w', '5', '-t', table, '-X', chain[1] ?? '']);
    }
  }
}

/**
 * The hierarchies a berth cgroup can sit in, whatever the host's mode: each
 * v1 controller's mount and the hybrid `unified` one (`/sys/fs/cgroup/<ctrl>`),
 * and on a pure v2 host the root itself.
 */
export async function cgroupHierarchies(): Promise<string[]> {
  const root = '/sys/fs/cgroup';
  const entries = await readdir(root).catch(() => [] as string[]);
  return [root, ...entries.map((e) => join(root, e))];
}

/**
 * The cgroup parent every berth container shares (`/berth` in each hierarchy),
 * removed once empty; one that still has containers refuses the rmdir and stays.
 */
export async function removeEmptyBerthCgroupsNow(): Promise<void> {
  for (const h of await cgroupHierarchies()) await rmdir(join(h, 'berth')).catch(() => undefined);
}
