import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-file.js';
import { checkVersion, stampVersion } from '../base/versioned.js';
import { signalFromExitCode } from './signals.js';
import type { ExitInfo } from './types.js';

/**
 * On-disk layout under the executor's stateDir. Everything a restarted agent
 * needs to re-adopt a container lives here; nothing is kept only in memory.
 *
 *   runtime/                 the OCI runtime's --root
 *   exits/<id>               conmon --exit-dir: exit code, written when the container exits
 *   sockets/                 conmon --socket-dir-path (attach sockets; unused, conmon requires it)
 *   containers/<id>/         conmon --persist-dir: `exit`, `oom` (written by conmon)
 *   containers/<id>/meta.json       bundle, cgroup, log path (written by berth at create)
 *   containers/<id>/pid, conmon.pid pidfiles
 *   containers/<id>/runtime.log     runc's json log for create
 */
export class StateLayout {
  constructor(readonly dir: string) {}
  get runtimeRoot(): string {
    return join(this.dir, 'runtime');
  }
  get exitDir(): string {
    return join(this.dir, 'exits');
  }
  get socketDir(): string {
    return join(this.dir, 'sockets');
  }
  containerDir(id: string): string {
    return join(this.dir, 'containers', id);
  }
  exitFile(id: string): string {
    return join(this.exitDir, id);
  }
  oomFile(id: string): string {
    return join(this.containerDir(id), 'oom');
  }
  metaFile(id: string): string {
    return join(this.containerDir(id), 'meta.json');
  }
  pidFile(id: string): string {
    return join(this.containerDir(id), 'pid');
  }
  conmonPidFile(id: string): string {
    return join(this.containerDir(id), 'conmon.pid');
  }
  runtimeLog(id: string): string {
    return join(this.containerDir(id), 'runtime.log');
  }
}

export interface ContainerMeta {
  bundleDir: string;
  logPath: string;
  /** Memory cgroup file that counts OOM kills (v1 memory.oom_control or v2 memory.events). */
  oomCounterPath?: string;
  createdAt: string;
}

/** The `meta.json` format (`schemaVersion`); one without it is version 1. */
export const META_VERSION = 1;

/** Atomically (temp, fsync, rename): a crash or a full disk leaves the old meta.json or the new, never a torn one. */
export async function writeMeta(layout: StateLayout, id: string, meta: ContainerMeta): Promise<void> {
  await writeFileAtomic(
    layout.metaFile(id),
    `${JSON.stringify(stampVersion(meta, META_VERSION), null, 2)}\n`,
  );
}

/**
 * The container's meta.json, or undefined when there is none. A meta.json of
 * a newer format is not read (undefined, and `onRefused` is told why):
 * callers then ask the OCI runtime, as for a missing one, so a running
 * container is still adopted and nothing is removed on a guess.
 */
export async function readMeta(
  layout: StateLayout,
  id: string,
  onRefused?: (err: Error) => void,
): Promise<ContainerMeta | undefined> {
  const file = layout.metaFile(id);
  let raw: ContainerMeta & { schemaVersion?: number };
  try {
    raw = JSON.parse(await readFile(file, 'utf8')) as ContainerMeta & { schemaVersion?: number };
  } catch {
    // Not created by this executor or already deleted (meta.json is written atomically, never torn):
    // callers then ask the OCI runtime itself.
    return undefined;
  }
  try {
    checkVersion(raw, { file, current: META_VERSION });
  } catch (err) {
    onRefused?.(err as Error);
    return undefined;
  }
  const { schemaVersion: _version, ...meta } = raw;
  return meta;
}

/**
 * The container's exit as conmon recorded it, or undefined while it runs.
 * conmon writes the file non-atomically, so an empty or partial file counts as
 * "not yet".
 */
export async function readExitFile(
  layout: StateLayout,
  id: string,
  meta: ContainerMeta | undefined,
): Promise<ExitInfo | undefined> {
  let text: string;
  let mtime: Date;
  try {
    const path = layout.exitFile(id);
    text = await readFile(path, 'utf8');
    mtime = (await stat(path)).mtime;
  } catch {
    // No exit file yet: the container still runs (or never started), which is the answer.
    return undefined;
  }
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return undefined;
  const exitCode = Number(t);
  const oomKilled = await wasOomKilled(layout, id, meta);
  const info: ExitInfo = { exitCode, oomKilled, finishedAt: mtime.toISOString() };
  const signal = signalFromExitCode(exitCode);
  if (signal !== undefined) info.signal = signal;
  return info;
}

/**
 * conmon writes `oom` in the persist dir from its cgroup OOM watch; the kernel's
 * own oom_kill counter is checked too because conmon's event can race the exit
 * (the cgroup survives until `runc delete`, so it is still readable here).
 */
async function wasOomKilled(
  layout: StateLayout,
  id: string,
  meta: ContainerMeta | undefined,
): Promise<boolean> {
  try {
    await stat(layout.oomFile(id));
    return true;
  } catch {
    // No `oom` file (ENOENT): conmon saw no OOM; fall through to the cgroup counter
  }
  if (meta?.oomCounterPath === undefined) return false;
  try {
    const text = await readFile(meta.oomCounterPath, 'utf8');
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m?.[1] !== undefined && Number(m[1]) > 0;
  } catch {
    // The cgroup is already gone (deleted with the container): no counter, no OOM evidence.
    return false;
  }
}
