/**
 * The chart tests' tools: the real helm (built by .ci/setup.sh test), the
 * rendered objects parsed, and a sandbox that lays out what the DaemonSet's
 * container would see (its ConfigMap, Secrets, emptyDirs and host paths, all
 * under a temp dir) so the real `berth agent --check-config` runs on exactly
 * the args and env the chart renders.
 */
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseAllDocuments } from 'yaml';
import type { CliResult } from '../../harness/agent.js';
import { freePorts } from '../../harness/ports.js';
import { type ManagedProcess, startProcess } from '../../harness/proc.js';
import { toolPath } from '../../harness/tools.js';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const CHART = join(ROOT, 'helm');
export const RELEASE = 'obs';
export const NAMESPACE = 'monitoring';

/** A rendered object before validation: only its type meta and metadata are known. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** Runs the built helm; never throws on a non-zero exit (the tests read it). */
export function helm(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      toolPath('helm'),
      args,
      {
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          HELM_CACHE_HOME: '/tmp/berth-helm-cache',
          HELM_CONFIG_HOME: '/tmp/berth-helm-config',
          HELM_DATA_HOME: '/tmp/berth-helm-data',
        },
      },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
      },
    );
  });
}

/** `helm template` of the chart with `values` (a file in `dir`); the objects, or the failed run. */
export async function render(
  dir: string,
  name: string,
  values: Record<string, unknown>,
): Promise<{ objects: K8sObject[]; run: CliResult; valuesFile: string }> {
  const valuesFile = join(dir, `${name}.values.json`);
  await writeFile(valuesFile, JSON.stringify(values));
  const run = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '--values', valuesFile]);
  const objects: K8sObject[] = [];
  if (run.code === 0) {
    for (const doc of parseAllDocuments(run.stdout)) {
      if (doc.errors.length > 0)
        throw new Error(`${name}: rendered YAML does not parse: ${doc.errors[0]?.message}`);
      const o = doc.toJS() as K8sObject | null;
      if (o !== null) objects.push(o);
    }
  }
  return { objects, run, valuesFile };
}

export function find(objects: K8sObject[], kind: string, suffix = ''): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name.endsWith(suffix));
  if (!o) throw new Error(`no ${kind}${suffix ? ` *${suffix}` : ''} rendered`);
  return o;
}

/** The rendered DaemonSet, typed (validated by the tests against Kubernetes' schema). */
export function daemonSet(objects: K8sObject[]): IDaemonSet {
  return find(objects, 'DaemonSet') as unknown as IDaemonSet;
}

/** The DaemonSet's pod spec and its one container. */
export function podOf(objects: K8sObject[]): { pod: IPodSpec; container: IContainer } {
  const pod = daemonSet(objects).spec?.template.spec;
  const container = pod?.containers[0];
  if (!pod || !container) throw new Error('the DaemonSet has no pod spec or container');
  return { pod, container };
}

/** Secrets (and ConfigMaps the chart does not render) as a user would create them, by name: each key a file, or an env value. */
export type SecretFixture = Record<string, Record<string, string>>;

/** What the node gives the env's fieldRefs (status.hostIP is a TEST-NET-1 address: never dialled). */
const FIELDS: Record<string, string> = { 'spec.nodeName': 'node-1', 'status.hostIP': '192.0.2.10' };

/**
 * The container of the rendered DaemonSet, laid out under `root` (each
 * mountPath P at root+P: the ConfigMap's files, each Secret's keys from
 * `secrets`, empty dirs for emptyDirs and host paths, or for a host path
 * named in `hostLinks` a symlink to the real one) and its args and env
 * rewritten to match: a path at, under or above a mount point is moved under
 * `root` (so `--host-root /host` and `/host/proc:/sys:...` follow their
 * mounts; `/sys`, mounted nowhere, stays), then `$(VAR)` is expanded as the
 * kubelet does.
 */
export async function layOut(
  objects: K8sObject[],
  root: string,
  secrets: SecretFixture = {},
  hostLinks: Record<string, string> = {},
): Promise<{ args: string[]; env: Record<string, string> }> {
  const { pod, container } = podOf(objects);
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  const mounts = (container.volumeMounts ?? []).map((m) => m.mountPath);
  const moved = (p: string): string =>
    mounts.some((m) => p === m || p.startsWith(`${m}/`) || m.startsWith(`${p}/`)) ? join(root, p) : p;
  const rewrite = (s: string): string =>
    s.startsWith('/')
      ? s
          .split(':')
          .map((part) => (part.startsWith('/') ? moved(part) : part))
          .join(':')
      : s;
  const rewriteJson = (v: unknown): unknown =>
    typeof v === 'string'
      ? rewrite(v)
      : Array.isArray(v)
        ? v.map(rewriteJson)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewriteJson(x)]))
          : v;

  for (const m of container.volumeMounts ?? []) {
    const dir = join(root, m.mountPath);
    const v = volumes.get(m.name);
    if (!v) throw new Error(`volumeMount ${m.name} has no volume`);
    const link = v.hostPath ? hostLinks[v.hostPath.path] : undefined;
    if (link !== undefined) {
      await mkdir(dirname(dir), { recursive: true });
      await symlink(link, dir);
      continue;
    }
    await mkdir(dir, { recursive: true });
    const cm = v.configMap;
    const secret = v.secret;
    if (cm?.name) {
      // Rendered by the chart, or one the user made (servicesConfigMap): from `secrets` then.
      const source = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cm.name);
      const data = (source?.data as Record<string, string> | undefined) ?? secrets[cm.name];
      if (!data) throw new Error(`volume ${m.name}: no ConfigMap ${cm.name} rendered or given`);
      const files: Record<string, string> = {};
      for (const [file, text] of Object.entries(data)) {
        files[file] = file === 'config.json' ? JSON.stringify(rewriteJson(JSON.parse(text))) : text;
      }
      await atomicWriterLayout(dir, files);
    } else if (secret?.secretName) {
      const keys = secrets[secret.secretName];
      if (!keys) throw new Error(`the test has no Secret ${secret.secretName}`);
      await atomicWriterLayout(dir, keys, 0o400);
    }
  }

  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const from = e.valueFrom;
    if (from?.fieldRef) env[e.name] = FIELDS[from.fieldRef.fieldPath] ?? '';
    else if (from?.secretKeyRef) {
      const value = secrets[from.secretKeyRef.name ?? '']?.[from.secretKeyRef.key];
      if (value === undefined)
        throw new Error(`env ${e.name}: no key ${from.secretKeyRef.key} in Secret ${from.secretKeyRef.name}`);
      env[e.name] = value;
    } else env[e.name] = rewrite(String(e.value ?? ''));
  }
  // The kubelet's expansion: $(VAR) of a defined variable, $$ for a literal $.
  const expand = (s: string): string =>
    s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name?: string) =>
      all === '$$' ? '$' : name !== undefined && env[name] !== undefined ? env[name] : all,
    );
  const command = (container.command ?? []).join(' ');
  if (command !== 'berth agent') throw new Error(`the container runs ${command}, not berth agent`);
  const args = (container.args ?? []).map((a) => expand(rewrite(a)));
  return { args, env };
}

/**
 * A ConfigMap or Secret volume as the kubelet's atomic writer lays it out:
 * the files in a timestamped dir, `..data` linking to it, and each name a
 * link through `..data`, so berth reads them through the same symlinks as in
 * a pod.
 */
async function atomicWriterLayout(dir: string, files: Record<string, string>, mode = 0o644): Promise<void> {
  const stamp = '..2026_12_07_12_00_00.000000001';
  await mkdir(join(dir, stamp), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, stamp, name), text, { mode });
  await symlink(stamp, join(dir, '..data'));
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(dir, name));
}

/** `layOut`, then the real `berth agent --check-config` on the container's args, with its env only. */
export async function checkConfigOf(
  objects: K8sObject[],
  root: string,
  secrets: SecretFixture = {},
): Promise<CliResult & { args: string[]; env: Record<string, string> }> {
  const { args, env } = await layOut(objects, root, secrets);
  // The container's environment only (not this test's), as in the pod; PATH and HOME as an image has them.
  const run = await new Promise<CliResult>((resolve, reject) => {
    execFile(
      join(ROOT, 'src/bin/berth'),
      ['agent', '--check-config', ...args],
      { env: { ...imageEnv(root), ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
      },
    );
  });
  return { ...run, args, env };
}

/** What the image's environment gives berth besides the pod's env: PATH, HOME, its Node (this test's, 24). */
export function imageEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    BERTH_NODE: process.execPath,
    BERTH_FROM_SOURCE: '1',
  };
}

/** The chart's pod as a process on this host (pod.test.ts says how and why). */
export interface PodProcess {
  process: ManagedProcess;
  metricsUrl: string;
  /** The chart's writable mounts, under the layout's root. */
  writable: string[];
  /** The capabilities the chart adds (after dropping ALL). */
  caps: string[];
}

/**
 * Lays the rendered pod out under `root` and starts the real agent with its
 * args and env, as the pod runs it: uid 0 with only the chart's capabilities
 * (setpriv, no_new_privs) in a mount namespace of its own where / is
 * read-only but for the chart's writable mounts (unshare). Listen addresses
 * move from 0.0.0.0 to free loopback ports; `extraArgs` follow the chart's.
 */
export async function startPod(
  objects: K8sObject[],
  root: string,
  opts: { secrets?: SecretFixture; hostLinks?: Record<string, string>; extraArgs?: string[] } = {},
): Promise<PodProcess> {
  const laid = await layOut(objects, root, opts.secrets, opts.hostLinks);
  const ports = await freePorts(laid.args.length);
  const args = laid.args.map((x, i) => (/^0\.0\.0\.0:\d+$/.test(x) ? `127.0.0.1:${ports[i]}` : x));
  const metrics = args[args.indexOf('--metrics-listen') + 1] ?? '';
  const { container } = podOf(objects);
  const sc = container.securityContext;
  if (sc?.readOnlyRootFilesystem !== true || sc.capabilities?.drop?.join() !== 'ALL') {
    throw new Error(
      'the chart no longer renders a read-only root and ALL dropped: this launcher assumes both',
    );
  }
  const writable = (container.volumeMounts ?? [])
    .filter((m) => m.readOnly !== true)
    .map((m) => join(root, m.mountPath));
  const caps = sc.capabilities?.add ?? [];
  const bounding = ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');
  const readOnlyRoot = `set -e; for d in "$@"; do [ "$d" = -- ] && break; mount --bind "$d" "$d"; done
    while [ "$1" != -- ]; do shift; done; shift; mount -o remount,bind,ro /; exec "$@"`;
  const metricsUrl = `http://${metrics}/metrics`;
  const process_ = await startProcess({
    name: 'berth-pod',
    cmd: 'unshare',
    args: [
      ...['--mount', '--propagation', 'private', 'sh', '-c', readOnlyRoot, 'sh', ...writable, '--'],
      ...['setpriv', '--reuid=0', '--regid=0', '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all'],
      ...[`--bounding-set=${bounding}`, '--no-new-privs', '--'],
      ...[process.execPath, join(ROOT, 'src/bin/berth.js'), 'agent', ...args, ...(opts.extraArgs ?? [])],
    ],
    env: { ...imageEnv(root), ...laid.env },
    ready: async () => (await fetch(metricsUrl)).ok,
    readyTimeoutMs: 30_000,
  });
  return { process: process_, metricsUrl, writable, caps };
}
