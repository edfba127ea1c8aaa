import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readBounded } from './safe-read.js';

/**
 * What a CRI runtime writes into a container's OCI bundle (`config.json`,
 * its `annotations`), read for what the kubelet's log layout lacks: the
 * image, and the names of a container that has no log link (yet).
 *
 *   containerd  <run>/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/config.json
 *               io.kubernetes.cri.{image-name,container-name,container-type,sandbox-name,sandbox-namespace,sandbox-uid}
 *   CRI-O       <run>/containers/storage/overlay-containers/<id>/userdata/config.json
 *               io.kubernetes.cri-o.ImageName, io.kubernetes.{container.name,pod.name,pod.namespace,pod.uid},
 *               io.kubernetes.cri-o.ContainerType
 *
 * Annotations are set by the runtime from the kubelet's request, but the
 * bundle also holds what the pod spec says: every value is checked.
 */
export interface BundleMeta {
  image?: string;
  container?: string;
  pod?: string;
  namespace?: string;
  podUid?: string;
  /** The pod's sandbox (pause) container. */
  sandbox: boolean;
}

/** OCI bundles carry the seccomp profile and more: 1 MiB is far above any real one. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;
const TASKS = 'containerd/io.containerd.runtime.v2.task';
const NAMESPACE = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,75}$/;
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const UID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;
/** An image reference: no spaces or control characters, bounded. */
const IMAGE = /^[a-zA-Z0-9][a-zA-Z0-9._:/@+-]{0,511}$/;

/** containerd's namespaces (`k8s.io`, `moby`, `default`, …), at most 16. */
export async function containerdNamespaces(run: string): Promise<string[]> {
  try {
    return (await readdir(join(run, TASKS))).filter((n) => NAMESPACE.test(n)).slice(0, 16);
  } catch {
    return [];
  }
}

/** The bundle annotations of container `id` under `run` (the host's /run), or undefined. */
export async function readBundleMeta(
  run: string,
  id: string,
  namespaces: readonly string[],
): Promise<BundleMeta | undefined> {
  for (const ns of namespaces) {
    const a = await annotations(run, join(run, TASKS, ns, id, 'config.json'));
    if (a) {
      return pick(a, {
        image: 'io.kubernetes.cri.image-name',
        container: 'io.kubernetes.cri.container-name',
        pod: 'io.kubernetes.cri.sandbox-name',
        namespace: 'io.kubernetes.cri.sandbox-namespace',
        podUid: 'io.kubernetes.cri.sandbox-uid',
        type: 'io.kubernetes.cri.container-type',
      });
    }
  }
  const a = await annotations(
    run,
    join(run, 'containers/storage/overlay-containers', id, 'userdata/config.json'),
  );
  if (!a) return undefined;
  return pick(a, {
    image: 'io.kubernetes.cri-o.ImageName',
    container: 'io.kubernetes.container.name',
    pod: 'io.kubernetes.pod.name',
    namespace: 'io.kubernetes.pod.namespace',
    podUid: 'io.kubernetes.pod.uid',
    type: 'io.kubernetes.cri-o.ContainerType',
  });
}

async function annotations(root: string, file: string): Promise<Record<string, unknown> | undefined> {
  const text = await readBounded(root, file, MAX_BUNDLE_BYTES);
  if (text === undefined) return undefined;
  try {
    const doc: unknown = JSON.parse(text);
    const a = (doc as { annotations?: unknown } | null)?.annotations;
    return a !== null && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>) : {};
  } catch {
    return undefined;
  }
}

function pick(
  a: Record<string, unknown>,
  keys: { image: string; container: string; pod: string; namespace: string; podUid: string; type: string },
): BundleMeta {
  const get = (k: string, re: RegExp) => {
    const v = a[k];
    return typeof v === 'string' && re.test(v) ? v : undefined;
  };
  const out: BundleMeta = { sandbox: a[keys.type] === 'sandbox' };
  const image = get(keys.image, IMAGE);
  const container = get(keys.container, LABEL);
  const pod = get(keys.pod, SUBDOMAIN);
  const namespace = get(keys.namespace, LABEL);
  const podUid = get(keys.podUid, UID);
  if (image) out.image = image;
  if (container) out.container = container;
  if (pod) out.pod = pod;
  if (namespace) out.namespace = namespace;
  if (podUid) out.podUid = podUid;
  return out;
}
