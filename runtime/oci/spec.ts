import { posix } from 'node:path';
import { FailedPreconditionError } from '../base/errors.js';
import type { CgroupInfo } from '../cgroups/detect.js';
import { fromDockerProfile } from './seccomp.js';
import { type Arch, seccompForContainer } from './seccomp-default.js';
import type { OciRaw, RawMount, SpecFacts } from './types.js';
import type { ResolvedUser } from './user.js';

type Json = Record<string, unknown>;

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** moby's oci/defaults.go. */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Deny everything, then the device nodes every container needs (runc's AllowedDevices). */
const DEVICE_RULES: Json[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
];

export interface BuildInputs {
  raw: OciRaw;
  /** Final capability set (privileged and host bounding set already applied). */
  caps: string[];
  facts: SpecFacts;
  user: ResolvedUser;
  cgroups: CgroupInfo;
  arch: Arch;
  defaultNofile: number;
  /** Host paths of named volumes' data dirs, by volume name. */
  volumePaths: Record<string, string>;
  /** Host file holding the container's hostname, bind-mounted as /etc/hostname. */
  hostnamePath?: string;
}

function defaultMounts(privileged: boolean): Json[] {
  const sysOpts = ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOpts },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...sysOpts, 'relatime'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
  ];
}

function userMount(m: RawMount, volumePaths: Record<string, string>): Json {
  if (m.kind === 'tmpfs')
    return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: m.options };
  const source = m.kind === 'bind' ? m.source : volumePaths[m.name];
  if (source === undefined)
    throw new FailedPreconditionError(
      `volumes: volume ${m.kind === 'volume' ? m.name : ''} has no data directory`,
    );
  return {
    destination: m.destination,
    type: 'bind',
    source,
    options: ['rbind', 'rprivate', m.readOnly ? 'ro' : 'rw'],
  };
}

function fileMount(destination: string, source: string): Json {
  return { destination, type: 'bind', source, options: ['rbind', 'rprivate', 'rw'] };
}

function envWithDefaults(env: string[], hostname: string, home: string): string[] {
  const keys = new Set(env.map((e) => e.slice(0, e.indexOf('='))));
  const out = [...env];
  if (!keys.has('PATH')) out.unshift(`PATH=${DEFAULT_PATH}`);
  if (!keys.has('HOSTNAME')) out.push(`HOSTNAME=${hostname}`);
  if (!keys.has('HOME')) out.push(`HOME=${home}`);
  return out;
}

/**
 * The OCI runtime spec 1.0.2 config.json. Mounts are ordered so that a
 * parent is mounted before anything below it, and a user mount on a default
 * destination (e.g. `/dev/shm`) replaces the default one.
 */
export function buildSpec(i: BuildInputs): Json {
  const { raw, facts } = i;
  const caps = i.caps;
  const mounts: Json[] = defaultMounts(raw.privileged);
  const extra: Json[] = raw.mounts.map((m) => userMount(m, i.volumePaths));
  if (facts.hostsPath) extra.push(fileMount('/etc/hosts', facts.hostsPath));
  if (facts.resolvConfPath) extra.push(fileMount('/etc/resolv.conf', facts.resolvConfPath));
  if (i.hostnamePath) extra.push(fileMount('/etc/hostname', i.hostnamePath));
  const byDest = new Map<string, Json>();
  for (const m of [...mounts, ...extra])
    byDest.set(posix.normalize(String(m.destination)).replace(/(.)\/$/, '$1'), m);
  const depth = (d: string) => (d === '/' ? 0 : d.split('/').length);
  const orderedMounts = [...byDest.entries()]
    .map(([d, m], idx) => ({ d, m, idx }))
    .sort((a, b) => depth(a.d) - depth(b.d) || a.idx - b.idx)
    .map((x) => x.m);

  const rlimits = new Map<string, Json>([
    ['RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', hard: i.defaultNofile, soft: i.defaultNofile }],
  ]);
  for (const r of raw.rlimits) rlimits.set(r.type, { type: r.type, hard: r.hard, soft: r.soft });

  const namespaces: Json[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (raw.network === 'bridge') {
    if (!facts.netnsPath)
      throw new FailedPreconditionError(
        'network: bridge mode needs a network namespace path, none was attached',
      );
    namespaces.push({ type: 'network', path: facts.netnsPath });
  } else if (raw.network === 'none') {
    namespaces.push({ type: 'network' });
  }
  // A private cgroup namespace only where the hierarchy is pure v2 (as Docker does); v1 keeps the host view.
  if (i.cgroups.version === 'v2') namespaces.push({ type: 'cgroup' });

  const resources: Json = { devices: raw.privileged ? [{ allow: true, access: 'rwm' }] : DEVICE_RULES };
  const r = raw.resources;
  if (r.memory !== undefined)
    resources.memory = { limit: r.memory, ...(r.memorySwap !== undefined ? { swap: r.memorySwap } : {}) };
  if (r.cpuQuota !== undefined || r.cpusetCpus !== undefined) {
    resources.cpu = {
      ...(r.cpuQuota !== undefined ? { quota: r.cpuQuota, period: r.cpuPeriod ?? 100_000 } : {}),
      ...(r.cpusetCpus !== undefined ? { cpus: r.cpusetCpus } : {}),
    };
  }
  if (r.pidsLimit !== undefined) resources.pids = { limit: r.pidsLimit };

  const linux: Json = {
    namespaces,
    cgroupsPath: facts.cgroupPath,
    resources,
    maskedPaths: raw.privileged ? [] : MASKED_PATHS,
    readonlyPaths: raw.privileged ? [] : READONLY_PATHS,
  };
  if (!raw.privileged && raw.seccomp.mode === 'default') linux.seccomp = seccompForContainer(caps, i.arch);
  if (!raw.privileged && raw.seccomp.mode === 'custom')
    linux.seccomp = fromDockerProfile(raw.seccomp.profile, caps, i.arch);

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: {
        uid: i.user.uid,
        gid: i.user.gid,
        ...(i.user.additionalGids.length ? { additionalGids: i.user.additionalGids } : {}),
      },
      args: raw.args,
      env: envWithDefaults(raw.env, facts.hostname, i.user.home),
      cwd: raw.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [...rlimits.values()],
      noNewPrivileges: raw.noNewPrivileges,
      // The agent may run with a protective score; containers must not inherit it.
      oomScoreAdj: 0,
    },
    root: { path: facts.rootfs, readonly: raw.readOnly },
    hostname: facts.hostname,
    mounts: orderedMounts,
    linux,
  };
}
