import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { linkTargetUnder } from './safe-read.js';

/**
 * What the kubelet's log layout tells about CRI containers (containerd,
 * CRI-O), without asking the runtime:
 *
 *   /var/log/pods/<namespace>_<pod>_<pod-uid>/<container>/<restart>.log   the file the runtime writes
 *   /var/log/containers/<pod>_<namespace>_<container>-<id>.log            kubelet's symlink to it
 *
 * (kubelet pkg/kubelet/kuberuntime/helpers.go BuildContainerLogsDirectory and
 * legacyLogSymlink.) Names are Kubernetes names, so `_` never occurs in them
 * and the split is unambiguous; anything else is skipped.
 */
export interface CriMeta {
  id: string;
  pod: string;
  namespace: string;
  container: string;
  podUid?: string;
  /** The restart count the file name carries (`<restart>.log`). */
  attempt: number;
  /** The file the runtime writes (the symlink's target, under the log root). */
  logPath?: string;
}

export interface PodMeta {
  pod: string;
  namespace: string;
  uid: string;
}

/** A DNS-1123 subdomain (pod names), at most 253. */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** A DNS-1123 label (namespaces, container names), at most 63. */
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const UID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;
const LINK = /^([^_]+)_([^_]+)_([^_]+)-([0-9a-f]{64})\.log$/;
const POD_DIR = /^([^_]+)_([^_]+)_([^_]+)$/;
const TARGET = /\/pods\/([^/]+)\/([^/]+)\/(\d{1,6})\.log$/;

/** `<pod>_<ns>_<container>-<id>.log` → its parts, when every part is a valid Kubernetes name. */
export function parseLinkName(name: string): Omit<CriMeta, 'attempt'> | undefined {
  const m = LINK.exec(name);
  if (!m?.[1] || !m[2] || !m[3] || !m[4]) return undefined;
  if (!SUBDOMAIN.test(m[1]) || !LABEL.test(m[2]) || !LABEL.test(m[3])) return undefined;
  return { pod: m[1], namespace: m[2], container: m[3], id: m[4] };
}

/** `<ns>_<pod>_<uid>` → the pod, when valid. */
export function parsePodDir(name: string): PodMeta | undefined {
  const m = POD_DIR.exec(name);
  if (!m?.[1] || !m[2] || !m[3]) return undefined;
  if (!LABEL.test(m[1]) || !SUBDOMAIN.test(m[2]) || !UID.test(m[3])) return undefined;
  return { namespace: m[1], pod: m[2], uid: m[3] };
}

/**
 * Reads the kubelet's layout under `logRoot` (the host's /var/log): the
 * containers by id and the pods by uid. At most `max` entries of each;
 * a symlink whose target leaves the log root is taken without a log path.
 */
export async function readCriLayout(
  logRoot: string,
  max: number,
  /**
   * Links already resolved, by name, kept across scans: a link's name holds
   * the container id and the kubelet never re-points it, so only new names
   * cost a readlink (most of a rescan otherwise). Names gone are dropped.
   */
  cache?: Map<string, CriMeta>,
): Promise<{ containers: Map<string, CriMeta>; pods: Map<string, PodMeta> }> {
  const pods = new Map<string, PodMeta>();
  for (const name of (await names(join(logRoot, 'pods'))).slice(0, max)) {
    const p = parsePodDir(name);
    if (p) pods.set(p.uid, p);
  }
  const containers = new Map<string, CriMeta>();
  const seen = new Set<string>();
  for (const name of (await names(join(logRoot, 'containers'))).slice(0, max)) {
    const hit = cache?.get(name);
    if (hit) {
      seen.add(name);
      const prev = containers.get(hit.id);
      if (!prev || hit.attempt >= prev.attempt) containers.set(hit.id, hit);
      continue;
    }
    const parts = parseLinkName(name);
    if (!parts) continue;
    const meta: CriMeta = { ...parts, attempt: 0 };
    const target = await linkTargetUnder(logRoot, join(logRoot, 'containers', name), '/var/log');
    const t = target === undefined ? undefined : TARGET.exec(target);
    if (target && t?.[1] && t[2] && t[3]) {
      const pod = parsePodDir(t[1]);
      // The target must be this container's own directory: a link that points at another pod's file is refused.
      if (pod && pod.pod === parts.pod && pod.namespace === parts.namespace && t[2] === parts.container) {
        meta.podUid = pod.uid;
        meta.attempt = Number(t[3]);
        meta.logPath = target;
      }
    }
    // Only a link that resolved is kept: one whose target is not there yet is read again next time.
    if (meta.logPath !== undefined && cache) {
      cache.set(name, meta);
      seen.add(name);
    }
    const prev = containers.get(parts.id);
    if (!prev || meta.attempt >= prev.attempt) containers.set(parts.id, meta);
  }
  if (cache) for (const name of cache.keys()) if (!seen.has(name)) cache.delete(name);
  return { containers, pods };
}

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
