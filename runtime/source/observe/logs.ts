import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FailedPreconditionError } from '../../base/errors.js';
import type { ContainerDescriptor } from '../../types.js';
import { readDockerLogDriver } from './docker.js';
import { isUnder } from './safe-read.js';

/** The files `berth logs` reads for an observed container (README.md, "Logs"). */
export interface ObservedLogFiles {
  /** The file the engine writes now. */
  path: string;
  /** Its rotated files, oldest first, read before it. */
  older: string[];
  format: 'json-file' | 'k8s-file';
  /** The root every file must stay in after symlinks (Docker's root, or the host's /var/log). */
  root: string;
}

/** Most rotated files read before the current one (Docker's `max-file`, the kubelet's `containerLogMaxFiles`). */
export const MAX_ROTATED_FILES = 256;

/** Docker's json-file rotation: `<id>-json.log.1` (newest) … `.N`; `.gz` ones (compress=true) are not read. */
const DOCKER_ROTATED = /^([0-9a-f]{64})-json\.log\.(\d{1,6})$/;
/** The kubelet's rotation: `<restart>.log.<YYYYMMDD-hhmmss>`; the compressed `.gz` ones are not read. */
const KUBELET_STAMP = /^\.(\d{8}-\d{6})$/;

const who = (d: ContainerDescriptor) => `${d.name} (${d.id.slice(0, 12)})`;

/**
 * Where an observed container's output is, or why berth cannot read it
 * (FailedPrecondition naming the container and the reason): Docker's
 * json-file log and its rotated files, the kubelet's CRI log and its rotated
 * files. Paths come from the observe source's descriptor (Docker's fixed
 * path, the kubelet link's checked target), never from what a record says.
 */
export async function observedLogFiles(
  d: ContainerDescriptor,
  roots: { docker: string; log: string },
): Promise<ObservedLogFiles> {
  if (d.source === 'docker') {
    const path = join(roots.docker, 'containers', d.id, `${d.id}-json.log`);
    if (d.logPath === undefined) {
      const driver = (await readDockerLogDriver(roots.docker, d.id)) ?? 'unknown';
      throw new FailedPreconditionError(
        `cannot read the logs of ${who(d)}: log driver ${driver}: not a file berth can read (only json-file is; use docker logs)`,
      );
    }
    if (d.logPath !== path) {
      throw new FailedPreconditionError(
        `cannot read the logs of ${who(d)}: ${d.logPath} is not Docker's path`,
      );
    }
    const rotated = (await names(dirname(path)))
      .map((n) => DOCKER_ROTATED.exec(n))
      .filter((m): m is RegExpExecArray => m?.[1] === d.id)
      .map((m) => Number(m[2]))
      .filter((n) => n >= 1)
      // `.1` is the newest: oldest (highest) first.
      .sort((a, b) => b - a)
      .slice(-MAX_ROTATED_FILES);
    return { path, older: rotated.map((n) => `${path}.${n}`), format: 'json-file', root: roots.docker };
  }
  if (d.source === 'cri') {
    const path = d.logPath;
    if (path === undefined) {
      throw new FailedPreconditionError(
        `cannot read the logs of ${who(d)}: no log file (the kubelet has no log link for it)`,
      );
    }
    if (!isUnder(roots.log, path)) {
      throw new FailedPreconditionError(`cannot read the logs of ${who(d)}: ${path} is outside ${roots.log}`);
    }
    const base = basename(path);
    const stamps = (await names(dirname(path)))
      .filter((n) => n.startsWith(base))
      .map((n) => KUBELET_STAMP.exec(n.slice(base.length))?.[1])
      .filter((s): s is string => s !== undefined)
      .sort()
      .slice(-MAX_ROTATED_FILES);
    return { path, older: stamps.map((s) => `${path}.${s}`), format: 'k8s-file', root: roots.log };
  }
  throw new FailedPreconditionError(
    `cannot read the logs of ${who(d)}: no log file (source ${d.source}: no engine record says where its output goes)`,
  );
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).slice(0, 4 * MAX_ROTATED_FILES);
  } catch {
    return [];
  }
}
