import { ComposeError } from '../compose/errors.js';
import type { ComposeMount, ComposeProject, ComposeService } from '../compose/types.js';
import { BERTH, COMPOSE, replicaName } from './labels.js';
import type { Locate } from './locate.js';
import { lbLabels, type PortPlan, planPorts } from './ports.js';

/**
 * A Compose service → the container create request of one replica (the
 * runtime's `CreateRequest`, Docker notation, validated again by the runtime)
 * plus what must exist first (named volumes). Pure: no I/O. Everything the
 * request cannot say is refused here with the key (and file:line when the
 * project's files are at hand), before anything is created.
 */
export interface ReplicaSpec {
  request: Record<string, unknown>;
  /** Named volumes the replica mounts, created (idempotently) before it. */
  volumes: string[];
  /** The networks it joins, with its aliases (the service name always among them). */
  networks: Array<{ name: string; aliases: string[] }>;
  ports: PortPlan;
}

/** The Compose version berth reports in `com.docker.compose.version` (the spec level it follows). */
const COMPOSE_VERSION = '2.40.0';

export function replicaSpec(
  project: ComposeProject,
  svc: ComposeService,
  index: number,
  configHash: string,
  locate: Locate = () => undefined,
): ReplicaSpec {
  const refuse = (path: ReadonlyArray<string | number>, reason: string): ComposeError => {
    const full = ['services', svc.name, ...path];
    const pos = locate(full) ?? locate(full.slice(0, 3));
    return new ComposeError(
      pos,
      full
        .map((k) => (typeof k === 'number' ? `[${k}]` : k))
        .join('.')
        .replace(/\.\[/g, '['),
      reason,
    );
  };
  if (svc.image === undefined) throw refuse(['image'], 'required: berth runs images, it does not build them');
  const replicas = svc.deploy.replicas;
  const ports = planPorts(svc, replicas, refuse);

  const labels: Record<string, string> = {
    ...svc.labels,
    ...lbLabels(project.name, svc, ports),
    ...loggingLabels(svc, refuse),
    [COMPOSE.project]: project.name,
    [COMPOSE.service]: svc.name,
    [COMPOSE.number]: String(index),
    [COMPOSE.configHash]: configHash,
    [COMPOSE.oneoff]: 'False',
    [COMPOSE.configFiles]: project.files.join(','),
    [COMPOSE.workingDir]: project.workingDir,
    [COMPOSE.version]: COMPOSE_VERSION,
    [BERTH.project]: project.name,
    [BERTH.service]: svc.name,
  };

  const volumes: string[] = [];
  const mounts: string[] = [];
  const tmpfs: string[] = [...svc.tmpfs];
  svc.volumes.forEach((m, i) => {
    const r = mountSpec(project, m, i, refuse);
    if (r.kind === 'tmpfs') tmpfs.push(r.spec);
    else mounts.push(r.spec);
    if (r.volume !== undefined) volumes.push(r.volume);
  });

  const env = Object.entries(svc.environment).map(([k, v]) => (v === null ? k : `${k}=${v}`));
  const limits = svc.deploy.resources.limits;
  const memory = svc.memLimit ?? limits.memory;
  const cpus = svc.cpus ?? limits.cpus;
  const pids = svc.pidsLimit ?? limits.pids;
  const request: Record<string, unknown> = {
    image: svc.image,
    name: svc.containerName ?? replicaName(project.name, svc.name, index),
    labels,
    ...(svc.command !== undefined ? { cmd: svc.command } : {}),
    ...(svc.entrypoint !== undefined ? { entrypoint: svc.entrypoint } : {}),
    ...(env.length > 0 ? { env } : {}),
    ...(ports.publish.length > 0 ? { ports: ports.publish } : {}),
    ...(mounts.length > 0 ? { volumes: mounts } : {}),
    ...(tmpfs.length > 0 ? { tmpfs } : {}),
    network: svc.networkMode ?? 'bridge',
    ...(svc.hostname !== undefined ? { hostname: svc.hostname } : {}),
    ...(svc.user !== undefined ? { user: svc.user } : {}),
    ...(svc.workingDir !== undefined ? { workdir: svc.workingDir } : {}),
    ...(svc.readOnly ? { readOnly: true } : {}),
    ...(svc.capAdd.length > 0 ? { capAdd: svc.capAdd } : {}),
    ...(svc.capDrop.length > 0 ? { capDrop: svc.capDrop } : {}),
    ...(svc.securityOpt.length > 0 ? { securityOpt: svc.securityOpt } : {}),
    ...(memory !== undefined ? { memory } : {}),
    ...(cpus !== undefined ? { cpus } : {}),
    ...(pids !== undefined ? { pidsLimit: pids } : {}),
    ...(Object.keys(svc.ulimits).length > 0
      ? { ulimits: Object.entries(svc.ulimits).map(([k, u]) => `${k}=${u.soft}:${u.hard}`) }
      : {}),
    restart: restartPolicy(svc),
    ...(svc.stopSignal !== undefined ? { stopSignal: svc.stopSignal } : {}),
    ...(svc.stopGracePeriodMs !== undefined ? { stopTimeout: Math.ceil(svc.stopGracePeriodMs / 1000) } : {}),
    ...healthcheck(svc),
  };
  const networks =
    svc.networkMode !== undefined
      ? []
      : Object.entries(svc.networks).map(([key, n]) => ({
          name: project.networks[key]?.name ?? `${project.name}_${key}`,
          aliases: [...new Set([svc.name, ...n.aliases])],
        }));
  return { request, volumes: [...new Set(volumes)], networks, ports };
}

/**
 * The runtime's restart policy: `restart:` as written, else
 * `deploy.restart_policy` (any → always, on-failure[:max_attempts], none →
 * no), else `no` as in Compose. The runtime's policy acts first; the
 * reconciler replaces a replica only once the policy has given up.
 */
export function restartPolicy(svc: ComposeService): string {
  if (svc.restart !== undefined) return svc.restart;
  const p = svc.deploy.restartPolicy;
  if (p === undefined) return 'no';
  if (p.condition === 'any') return 'always';
  if (p.condition === 'none') return 'no';
  return p.maxAttempts !== undefined && p.maxAttempts > 0 ? `on-failure:${p.maxAttempts}` : 'on-failure';
}

function healthcheck(svc: ComposeService): Record<string, unknown> {
  const h = svc.healthcheck;
  if (h === undefined) return {};
  if (h.disable) return { healthcheck: { test: ['NONE'] } };
  return {
    healthcheck: {
      ...(h.test !== undefined ? { test: h.test } : {}),
      ...(h.intervalMs !== undefined ? { interval: h.intervalMs } : {}),
      ...(h.timeoutMs !== undefined ? { timeout: h.timeoutMs } : {}),
      ...(h.retries !== undefined ? { retries: h.retries } : {}),
      ...(h.startPeriodMs !== undefined ? { startPeriod: h.startPeriodMs } : {}),
    },
  };
}

type Refuse = (path: ReadonlyArray<string | number>, reason: string) => ComposeError;

function mountSpec(
  project: ComposeProject,
  m: ComposeMount,
  i: number,
  refuse: Refuse,
): { kind: 'mount' | 'tmpfs'; spec: string; volume?: string } {
  const ro = m.readOnly ? ':ro' : '';
  if (m.type === 'tmpfs') {
    const opts = [
      ...(m.tmpfs?.size !== undefined ? [`size=${m.tmpfs.size}`] : []),
      ...(m.tmpfs?.mode !== undefined ? [`mode=${m.tmpfs.mode.toString(8).padStart(4, '0')}`] : []),
      ...(m.readOnly ? ['ro'] : []),
    ];
    return { kind: 'tmpfs', spec: opts.length > 0 ? `${m.target}:${opts.join(',')}` : m.target };
  }
  if (m.volume?.subpath !== undefined)
    throw refuse(['volumes', i], 'volume.subpath is not supported by berth');
  if (m.bind?.propagation !== undefined || m.bind?.selinux !== undefined) {
    throw refuse(
      ['volumes', i],
      'bind propagation and SELinux relabelling (z, Z) are not supported by berth',
    );
  }
  if (m.type === 'bind') {
    if (m.source === undefined) throw refuse(['volumes', i], 'a bind mount needs a source');
    return { kind: 'mount', spec: `${m.source}:${m.target}${ro}` };
  }
  if (m.source === undefined) return { kind: 'mount', spec: m.target };
  const declared = project.volumes[m.source];
  const name = declared?.name ?? `${project.name}_${m.source}`;
  // An external volume must exist already; the runtime refuses the mount when it does not.
  return { kind: 'mount', spec: `${name}:${m.target}${ro}`, ...(declared?.external ? {} : { volume: name }) };
}

/**
 * `logging:` onto the log sidecar's labels: driver absent, `json-file`,
 * `local`, `fluentd` or `berth` keep shipping (receivers are the agent's
 * option), `none` turns it off; options `tag` and `multiline` become
 * `berth.logs.tag` and `berth.logs.multiline`. Anything else is refused.
 */
function loggingLabels(svc: ComposeService, refuse: Refuse): Record<string, string> {
  const l = svc.logging;
  if (l === undefined) return {};
  const out: Record<string, string> = {};
  const driver = l.driver ?? 'json-file';
  if (driver === 'none') out['berth.logs.ship'] = 'false';
  else if (!['json-file', 'local', 'fluentd', 'berth'].includes(driver)) {
    throw refuse(
      ['logging', 'driver'],
      `driver ${JSON.stringify(driver)} is not supported (berth keeps logs itself and ships to the agent's Fluentd receivers: json-file, local, fluentd, berth or none)`,
    );
  }
  for (const [k, v] of Object.entries(l.options)) {
    if (k === 'tag') out['berth.logs.tag'] = v;
    else if (k === 'multiline') out['berth.logs.multiline'] = v;
    else
      throw refuse(
        ['logging', 'options', k],
        'unsupported option (berth reads tag and multiline; receivers are agent options)',
      );
  }
  return out;
}
