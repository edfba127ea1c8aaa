import type { ContainerDescriptor } from '../../types.js';
import type { BundleMeta } from './bundle.js';
import type { CriMeta, PodMeta } from './cri.js';
import { type DockerMeta, imageParts } from './docker.js';
import type { CgroupMatch } from './layout.js';

const RUNNING = new Set(['running', 'paused', 'restarting']);

/** What is known of one container: its cgroup (while it runs) and the records found for it. */
export interface ContainerFacts {
  id: string;
  cgroup: { path: string; match: CgroupMatch } | undefined;
  docker: DockerMeta | undefined;
  cri: CriMeta | undefined;
  pod: PodMeta | undefined;
  /** The CRI runtime's bundle annotations (image, names), when the host's /run is read. */
  bundle?: BundleMeta | undefined;
  /** When first seen, for containers whose records carry no creation time. */
  createdAt: string;
}

/**
 * One descriptor from what the host has (README.md, "Descriptors"): Docker's
 * records when there are some, else the kubelet's layout, else the bare
 * cgroup. Running exactly while the cgroup exists. Pure: the pid is the
 * caller's (it reads cgroup.procs).
 */
export function describeContainer(f: ContainerFacts): ContainerDescriptor {
  const { id, cgroup: cg, docker, cri, pod, bundle } = f;
  let d: ContainerDescriptor;
  if (docker) {
    const state = cg ? (docker.state === 'paused' ? 'paused' : 'running') : notRunning(docker.state);
    d = {
      id,
      name: docker.name,
      image: docker.image,
      ...imageParts(docker.image),
      ...(docker.imageId ? { imageId: docker.imageId } : {}),
      labels: docker.labels,
      env: docker.env,
      state,
      ports: docker.ports,
      addresses: docker.addresses,
      networkMode: docker.networkMode,
      health: docker.health,
      createdAt: docker.createdAt,
      restartCount: docker.restartCount,
      source: 'docker',
      ...(docker.startedAt ? { startedAt: docker.startedAt } : {}),
      ...(docker.logPath ? { logPath: docker.logPath, logFormat: 'json-file' as const } : {}),
    };
    if (!RUNNING.has(state)) {
      if (docker.finishedAt) d.finishedAt = docker.finishedAt;
      if (docker.exitCode !== undefined) d.exitCode = docker.exitCode;
      if (docker.oomKilled) d.oomKilled = true;
    }
  } else {
    const podName = cri?.pod ?? pod?.pod ?? bundle?.pod;
    const ns = cri?.namespace ?? pod?.namespace ?? bundle?.namespace;
    const uid = cri?.podUid ?? cg?.match.podUid ?? pod?.uid ?? bundle?.podUid;
    const container =
      cri?.container ?? (bundle?.sandbox ? 'POD' : bundle?.container) ?? (podName ? 'POD' : undefined);
    const image = bundle?.image ?? '';
    const labels: Record<string, string> = {};
    if (podName) labels['io.kubernetes.pod.name'] = podName;
    if (ns) labels['io.kubernetes.pod.namespace'] = ns;
    if (uid) labels['io.kubernetes.pod.uid'] = uid;
    if (container) labels['io.kubernetes.container.name'] = container;
    if (cg?.match.qos) labels['io.kubernetes.pod.qos'] = cg.match.qos;
    d = {
      id,
      // The name dockershim gave such containers: unique per attempt, and what Docker-era dashboards show.
      name:
        podName && ns && container
          ? `k8s_${container}_${podName}_${ns}_${uid ?? ''}_${cri?.attempt ?? 0}`
          : id.slice(0, 12),
      image,
      ...imageParts(image),
      labels,
      env: {},
      state: cg ? 'running' : 'exited',
      ports: [],
      addresses: {},
      networkMode: podName ? 'pod' : 'unknown',
      health: 'none',
      createdAt: f.createdAt,
      restartCount: cri?.attempt ?? 0,
      source: cri || pod || bundle ? 'cri' : 'cgroup',
      ...(cri?.logPath ? { logPath: cri.logPath, logFormat: 'k8s-file' as const } : {}),
    };
  }
  if (cg) d.cgroupPath = cg.path;
  return d;
}

/** Docker's state of a container whose cgroup is gone: never running. */
function notRunning(state: ContainerDescriptor['state']): ContainerDescriptor['state'] {
  return RUNNING.has(state) ? 'exited' : state;
}
