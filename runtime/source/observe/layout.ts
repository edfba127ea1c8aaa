/**
 * Which cgroup directories are containers, and what their paths say, for the
 * layouts container engines and the kubelet create (cited in
 * test/fixtures/observe/README.md):
 *
 *   Docker, cgroupfs driver     /docker/<id>               (`--cgroup-parent` moves `/docker`)
 *   Docker, systemd driver      /system.slice/docker-<id>.scope
 *   containerd (ctr, nerdctl)   /<namespace>/<id>          (cgroupfs), or …/cri-containerd-<id>.scope
 *   CRI-O                       …/crio-<id>.scope
 *   Podman                      …/libpod-<id>.scope
 *   kubelet, systemd driver     /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/<runtime>-<id>.scope
 *                               (guaranteed: /kubepods.slice/kubepods-pod<uid_>.slice/…)
 *   kubelet, cgroupfs driver    /kubepods/<qos>/pod<uid>/<id>  (guaranteed: /kubepods/pod<uid>/<id>)
 *
 * Pure functions over the path relative to a hierarchy's root: the same on
 * v1 (any controller) and v2. Everything here is hostile input (a container
 * with cgroup delegation names its own sub-cgroups), so a name only counts
 * when it matches exactly.
 */

/** What a container cgroup's path tells. */
export interface CgroupMatch {
  /** 64 hex. */
  id: string;
  /** The engine the naming points at ('unknown' for a bare id under another parent). */
  engine: 'docker' | 'containerd' | 'crio' | 'podman' | 'unknown';
  /** systemd scope names, or plain directories (cgroupfs). */
  driver: 'systemd' | 'cgroupfs';
  /** Kubernetes pod uid (dashes restored) when under kubepods. */
  podUid?: string;
  /** Kubernetes QoS class when under kubepods. */
  qos?: 'guaranteed' | 'burstable' | 'besteffort';
}

const HEX64 = /^[0-9a-f]{64}$/;
const SCOPE = /^(docker|cri-containerd|crio|libpod)-([0-9a-f]{64})\.scope$/;
const ENGINE_OF_PREFIX: Record<string, CgroupMatch['engine']> = {
  docker: 'docker',
  'cri-containerd': 'containerd',
  crio: 'crio',
  libpod: 'podman',
};
/** A pod uid as the kubelet writes it: a UUID (systemd slices swap `-` for `_`). */
// A static pod's uid is a 32-hex hash of its manifest instead.
const POD_CGROUPFS = /^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;
const POD_SLICE =
  /^kubepods(?:-(burstable|besteffort))?-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}|[0-9a-f]{32})\.slice$/;

/**
 * The container id in one directory name, when it names a container: a bare
 * 64-hex id or `<engine>-<id>.scope`.
 */
export function containerIdOf(name: string): { id: string; engine: CgroupMatch['engine'] } | undefined {
  if (HEX64.test(name)) return { id: name, engine: 'unknown' };
  const m = SCOPE.exec(name);
  if (m?.[1] && m[2]) return { id: m[2], engine: ENGINE_OF_PREFIX[m[1]] ?? 'unknown' };
  return undefined;
}

/**
 * Parses a cgroup path (relative to a hierarchy root, `/`-separated, leading
 * `/` optional) whose last component names a container; undefined otherwise.
 */
export function parseCgroupPath(path: string): CgroupMatch | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  const last = parts.at(-1);
  if (last === undefined) return undefined;
  const hit = containerIdOf(last);
  if (!hit) return undefined;
  const parents = parts.slice(0, -1);
  const driver: CgroupMatch['driver'] = last.endsWith('.scope') ? 'systemd' : 'cgroupfs';
  let engine = hit.engine;
  // Docker's cgroupfs driver: a bare id under /docker (its default parent).
  if (engine === 'unknown' && parents.length === 1 && parents[0] === 'docker') engine = 'docker';
  const match: CgroupMatch = { id: hit.id, engine, driver };
  const kube = kubeOf(parents);
  if (kube) {
    match.podUid = kube.podUid;
    match.qos = kube.qos;
  }
  return match;
}

/** Pod uid and QoS class from the parents of a container cgroup under kubepods. */
function kubeOf(parents: string[]): { podUid: string; qos: NonNullable<CgroupMatch['qos']> } | undefined {
  const root = parents.findIndex((p) => p === 'kubepods' || p === 'kubepods.slice');
  if (root < 0) return undefined;
  const rest = parents.slice(root + 1);
  const pod = rest.at(-1);
  if (pod === undefined) return undefined;
  if (parents[root] === 'kubepods') {
    // cgroupfs: kubepods/[burstable|besteffort/]pod<uid>
    const m = POD_CGROUPFS.exec(pod);
    if (!m?.[1]) return undefined;
    const qos = rest.length === 2 ? rest[0] : rest.length === 1 ? 'guaranteed' : undefined;
    if (qos !== 'guaranteed' && qos !== 'burstable' && qos !== 'besteffort') return undefined;
    return { podUid: m[1], qos };
  }
  // systemd: kubepods.slice/[kubepods-<qos>.slice/]kubepods[-<qos>]-pod<uid_>.slice
  const m = POD_SLICE.exec(pod);
  if (!m?.[2]) return undefined;
  const qos = (m[1] ?? 'guaranteed') as NonNullable<CgroupMatch['qos']>;
  const wantParents = qos === 'guaranteed' ? 1 : 2;
  if (rest.length !== wantParents) return undefined;
  if (qos !== 'guaranteed' && rest[0] !== `kubepods-${qos}.slice`) return undefined;
  return { podUid: m[2].replaceAll('_', '-'), qos };
}

/**
 * Whether a scan descends into a directory that is not itself a container:
 * not into systemd units other than slices (a service's or a session's
 * sub-cgroups are no containers, and a container's own children are its
 * business), and not into what the caller skips.
 */
export function descendInto(name: string): boolean {
  if (name.endsWith('.service') || name.endsWith('.scope') || name.endsWith('.mount')) return false;
  if (name.endsWith('.socket') || name.endsWith('.swap')) return false;
  return true;
}
