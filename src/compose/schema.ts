import type { DraftFields } from './draft.js';
import { readPorts } from './ports.js';
import type { NodeReader } from './reader.js';
import {
  readCommand,
  readDependsOn,
  readDeploy,
  readEnvFiles,
  readHealthcheck,
  readLogging,
  readRestart,
  readServiceNetworks,
  readUlimits,
} from './service-keys.js';
import { readMounts } from './volumes.js';
import type { YNode } from './yaml-tree.js';

/**
 * berth's schema of the Compose keys it supports, declared once: the loader
 * refuses every key not listed here (naming it), reads each listed key with
 * its reader and merges it across files with its rule. src/compose/README.md
 * lists the same keys (a test keeps them in step).
 */

/**
 * How a later file's value combines with an earlier one (compose-go's
 * override package): override replaces; map merges by key; append adds the
 * entries not already present; ports appends then drops exact duplicates;
 * mounts replaces the entry with the same target; deep merges objects field
 * by field (shallow: top fields only, so healthcheck.test is replaced);
 * networks and depends_on merge by name, field by field.
 */
export type MergeRule =
  | 'override'
  | 'map'
  | 'append'
  | 'ports'
  | 'mounts'
  | 'shallow'
  | 'deep'
  | 'logging'
  | 'byName';

export interface ServiceKey {
  /** The model field this key sets. */
  field: keyof DraftFields;
  merge: MergeRule;
  doc: string;
  read: (r: NodeReader, node: YNode, path: string, workingDir: string) => DraftFields[keyof DraftFields];
}

const str: ServiceKey['read'] = (r, n, p) => r.str(n, p);
const list: ServiceKey['read'] = (r, n, p) => r.strList(n, p);
const kv =
  (what: string): ServiceKey['read'] =>
  (r, n, p) => {
    const out: Record<string, string | null> = {};
    for (const [k, v] of r.keyValues(n, p)) {
      // compose-go refuses `KEY =value`: the space would become part of the name.
      if (what === 'environment' && /\s$/.test(k)) r.fail(v.node, v.path, `"${k}" ends with a space`);
      // A label needs a value; an environment name alone takes it from the project's environment.
      out[k] = what === 'labels' ? (v.value ?? '') : v.value;
    }
    return out as Record<string, string>;
  };

export const SERVICE_KEYS: Record<string, ServiceKey> = {
  image: { field: 'image', merge: 'override', doc: 'image reference', read: str },
  container_name: {
    field: 'containerName',
    merge: 'override',
    doc: 'fixed container name (one replica only)',
    read: str,
  },
  command: {
    field: 'command',
    merge: 'override',
    doc: 'string (split as a shell would) or list',
    read: readCommand,
  },
  entrypoint: { field: 'entrypoint', merge: 'override', doc: 'string or list', read: readCommand },
  environment: { field: 'environment', merge: 'map', doc: 'map or KEY=value list', read: kv('environment') },
  env_file: {
    field: 'envFiles',
    merge: 'append',
    doc: 'path, list of paths or {path, required}',
    read: (r, n, p, wd) => readEnvFiles(r, n, p, wd),
  },
  ports: {
    field: 'ports',
    merge: 'ports',
    doc: 'short and long syntax',
    read: (r, n, p) => readPorts(r, n, p),
  },
  expose: {
    field: 'expose',
    merge: 'append',
    doc: 'container ports',
    read: (r, n, p) => r.seq(n, p).items.map((i, x) => r.str(i, `${p}[${x}]`)),
  },
  labels: { field: 'labels', merge: 'map', doc: 'map or KEY=value list', read: kv('labels') },
  volumes: {
    field: 'volumes',
    merge: 'mounts',
    doc: 'bind, named and anonymous volumes, tmpfs; short and long syntax',
    read: (r, n, p, wd) => readMounts(r, n, p, wd),
  },
  tmpfs: {
    field: 'tmpfs',
    merge: 'append',
    doc: 'path or list of paths',
    read: (r, n, p) => r.strList(n, p, true),
  },
  read_only: {
    field: 'readOnly',
    merge: 'override',
    doc: 'read-only root filesystem',
    read: (r, n, p) => r.bool(n, p),
  },
  user: { field: 'user', merge: 'override', doc: 'user[:group]', read: str },
  working_dir: { field: 'workingDir', merge: 'override', doc: 'working directory', read: str },
  hostname: { field: 'hostname', merge: 'override', doc: 'container host name', read: str },
  cap_add: { field: 'capAdd', merge: 'append', doc: 'capabilities to add', read: list },
  cap_drop: { field: 'capDrop', merge: 'append', doc: 'capabilities to drop', read: list },
  security_opt: { field: 'securityOpt', merge: 'append', doc: 'security options', read: list },
  ulimits: { field: 'ulimits', merge: 'map', doc: 'name: n or {soft, hard}', read: readUlimits },
  pids_limit: { field: 'pidsLimit', merge: 'override', doc: 'max processes', read: (r, n, p) => r.int(n, p) },
  mem_limit: {
    field: 'memLimit',
    merge: 'override',
    doc: 'bytes or 512m, 1g',
    read: (r, n, p) => r.bytes(n, p),
  },
  cpus: {
    field: 'cpus',
    merge: 'override',
    doc: 'CPU share, 0.5 = half a core',
    read: (r, n, p) => r.num(n, p),
  },
  stop_signal: { field: 'stopSignal', merge: 'override', doc: 'signal name (SIGTERM)', read: str },
  stop_grace_period: {
    field: 'stopGracePeriodMs',
    merge: 'override',
    doc: 'duration',
    read: (r, n, p) => r.durationMs(n, p),
  },
  restart: {
    field: 'restart',
    merge: 'override',
    doc: 'no, always, on-failure[:N], unless-stopped',
    read: readRestart,
  },
  healthcheck: {
    field: 'healthcheck',
    merge: 'shallow',
    doc: 'test, interval, timeout, retries, start_period, start_interval, disable',
    read: readHealthcheck,
  },
  logging: { field: 'logging', merge: 'logging', doc: 'driver and options', read: readLogging },
  networks: {
    field: 'networks',
    merge: 'byName',
    doc: 'list or map with aliases',
    read: readServiceNetworks,
  },
  network_mode: {
    field: 'networkMode',
    merge: 'override',
    doc: 'host or none',
    read: (r, n, p) => r.oneOf(n, p, ['host', 'none'] as const),
  },
  depends_on: {
    field: 'dependsOn',
    merge: 'byName',
    doc: 'list or map with condition, required, restart',
    read: readDependsOn,
  },
  deploy: {
    field: 'deploy',
    merge: 'deep',
    doc: 'replicas, resources.limits, update_config, rollback_config, restart_policy',
    read: readDeploy,
  },
  profiles: { field: 'profiles', merge: 'append', doc: 'profiles that enable the service', read: list },
};

/** Top-level keys; `version` is accepted and ignored as Compose itself ignores it (obsolete). */
export const TOP_LEVEL_KEYS = ['name', 'services', 'networks', 'volumes', 'version'] as const;
/** Keys of a top-level network. */
export const NETWORK_KEYS = ['name', 'driver', 'external', 'internal', 'labels'] as const;
/** Keys of a top-level volume. */
export const VOLUME_KEYS = ['name', 'driver', 'external', 'labels'] as const;

/** `x-` keys are Compose extensions (anchors for reuse); allowed at the top level and in a service, never read. */
export function isExtension(key: string): boolean {
  return key.startsWith('x-');
}
