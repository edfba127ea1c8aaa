import { parseDotenv } from './dotenv.js';
import type { DeployDraft, ServiceDraft } from './draft.js';
import { ComposeError, type Pos } from './errors.js';
import type { Lookup } from './interpolate.js';
import type { FileDraft } from './read-file.js';
import { readComposeText } from './read-text.js';
import type {
  ComposeDeploy,
  ComposeNetwork,
  ComposeProject,
  ComposeService,
  ComposeUpdateConfig,
  ComposeVolume,
} from './types.js';

/**
 * Turns the merged drafts into the project model: Compose's defaults, the
 * environment (env_file under environment, names alone from the project
 * environment), networks and volumes named as Compose names them, profiles,
 * and the checks that need the whole project (references, cycles, replicas
 * against container_name).
 */
export interface FinalizeInput {
  merged: FileDraft;
  name: string;
  workingDir: string;
  files: string[];
  profiles: string[];
  lookup: Lookup;
  /** Where an error without a better position points: the first file. */
  filePos: Pos;
}

/** Docker's service update defaults, which Compose's deploy section inherits. */
export const UPDATE_DEFAULTS: ComposeUpdateConfig = {
  parallelism: 1,
  delayMs: 0,
  failureAction: 'pause',
  monitorMs: 5000,
  maxFailureRatio: 0,
  order: 'stop-first',
};

export function finalizeProject(input: FinalizeInput): ComposeProject {
  const { merged, name } = input;
  const networks: Record<string, ComposeNetwork> = {};
  for (const [key, d] of merged.networks) {
    networks[key] = {
      name: d.name ?? (d.external === true ? key : `${name}_${key}`),
      driver: 'bridge',
      external: d.external ?? false,
      internal: d.internal ?? false,
      labels: d.labels ?? {},
    };
  }
  const volumes: Record<string, ComposeVolume> = {};
  for (const [key, d] of merged.volumes) {
    volumes[key] = {
      name: d.name ?? (d.external === true ? key : `${name}_${key}`),
      driver: 'local',
      external: d.external ?? false,
      labels: d.labels ?? {},
    };
  }
  const all: Record<string, ComposeService> = {};
  for (const [svc, draft] of merged.services) all[svc] = buildService(svc, draft, input);
  const active = new Set(input.profiles);
  const services: Record<string, ComposeService> = {};
  const disabledServices: Record<string, ComposeService> = {};
  for (const [svc, s] of Object.entries(all)) {
    const on = s.profiles.length === 0 || active.has('*') || s.profiles.some((p) => active.has(p));
    (on ? services : disabledServices)[svc] = s;
  }
  for (const [svc, s] of Object.entries(services)) {
    const draft = merged.services.get(svc);
    const at = (key: string): Pos | undefined =>
      draft?.pos.get(key) ?? draft?.pos.get(key.split(/[.[]/)[0] ?? '') ?? draft?.pos.get('');
    for (const [dep, d] of Object.entries(s.dependsOn)) {
      if (services[dep] !== undefined) continue;
      // As compose-go: an optional dependency on a service its profiles switch off stays (the
      // reconciler skips it); an undefined service, or a required disabled one, is refused.
      if (!d.required && disabledServices[dep] !== undefined) continue;
      const why = disabledServices[dep] !== undefined ? 'is disabled by its profiles' : 'is not defined';
      throw new ComposeError(
        at(`depends_on.${dep}`),
        `services.${svc}.depends_on.${dep}`,
        `service "${dep}" ${why}`,
      );
    }
    for (const net of Object.keys(s.networks)) {
      if (net === 'default' && networks.default === undefined) {
        networks.default = {
          name: `${name}_default`,
          driver: 'bridge',
          external: false,
          internal: false,
          labels: {},
        };
      }
      if (networks[net] === undefined) {
        throw new ComposeError(
          at(`networks.${net}`),
          `services.${svc}.networks.${net}`,
          `network "${net}" is not declared under the top-level networks`,
        );
      }
    }
    s.volumes.forEach((m, i) => {
      if (m.type === 'volume' && m.source !== undefined && volumes[m.source] === undefined) {
        throw new ComposeError(
          at(`volumes[${i}]`),
          `services.${svc}.volumes[${i}]`,
          `volume "${m.source}" is not declared under the top-level volumes`,
        );
      }
    });
    if (s.containerName !== undefined && s.deploy.replicas > 1) {
      throw new ComposeError(
        at('container_name'),
        `services.${svc}.container_name`,
        `"${s.containerName}" is a fixed name, so the service cannot have ${s.deploy.replicas} replicas (container names are unique): drop container_name or set deploy.replicas to 1`,
      );
    }
    // compose-go refuses both forms of a limit when they disagree; one of them alone is fine.
    const lim = s.deploy.resources.limits;
    for (const [short, long, a, b] of [
      ['mem_limit', 'memory', s.memLimit, lim.memory],
      ['cpus', 'cpus', s.cpus, lim.cpus],
      ['pids_limit', 'pids', s.pidsLimit, lim.pids],
    ] as const) {
      if (a !== undefined && b !== undefined && a !== b) {
        throw new ComposeError(
          at(short),
          `services.${svc}.${short}`,
          `${a} differs from deploy.resources.limits.${long} (${b}): set one of them`,
        );
      }
    }
    if (s.networkMode !== undefined && draft?.fields.networks !== undefined) {
      throw new ComposeError(
        at('network_mode'),
        `services.${svc}.network_mode`,
        'network_mode and networks exclude each other',
      );
    }
    if (s.image === undefined) {
      throw new ComposeError(
        at('') ?? input.filePos,
        `services.${svc}`,
        'no image: berth runs images and does not build (set "image")',
      );
    }
  }
  checkCycles(services, merged);
  return {
    name,
    workingDir: input.workingDir,
    files: input.files,
    services,
    disabledServices,
    networks,
    volumes,
  };
}

function buildService(svc: string, draft: ServiceDraft, input: FinalizeInput): ComposeService {
  const f = draft.fields;
  const environment: Record<string, string | null> = {};
  for (const ef of f.envFiles ?? []) {
    let text: string;
    try {
      text = readComposeText(ef.path);
    } catch (e) {
      if (!ef.required && (e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new ComposeError(
        draft.pos.get('env_file'),
        `services.${svc}.env_file`,
        `cannot read ${ef.path}: ${(e as Error).message}`,
      );
    }
    try {
      Object.assign(environment, parseDotenv(text, input.lookup));
    } catch (e) {
      throw new ComposeError(
        draft.pos.get('env_file'),
        `services.${svc}.env_file`,
        `${ef.path}: ${(e as Error).message}`,
      );
    }
  }
  for (const [k, v] of Object.entries(f.environment ?? {})) {
    // A name without a value takes the project environment's value; unset, it stays null (not passed).
    environment[k] = v ?? input.lookup(k) ?? null;
  }
  const { deploy: d, healthcheck: h, ...rest } = f;
  const service: ComposeService = {
    name: svc,
    ...rest,
    environment,
    envFiles: f.envFiles ?? [],
    ports: f.ports ?? [],
    expose: f.expose ?? [],
    labels: f.labels ?? {},
    volumes: f.volumes ?? [],
    tmpfs: f.tmpfs ?? [],
    readOnly: f.readOnly ?? false,
    capAdd: f.capAdd ?? [],
    capDrop: f.capDrop ?? [],
    securityOpt: f.securityOpt ?? [],
    ulimits: f.ulimits ?? {},
    // No networks (or an empty list) and no network_mode: the project's default network, as compose-go.
    networks:
      f.networks !== undefined && Object.keys(f.networks).length > 0
        ? f.networks
        : f.networkMode === undefined
          ? { default: { aliases: [] } }
          : {},
    dependsOn: f.dependsOn ?? {},
    deploy: buildDeploy(d),
    profiles: f.profiles ?? [],
  };
  if (h !== undefined) service.healthcheck = { ...h, disable: h.disable ?? false };
  // 0 means no limit (Docker's reading, and compose-go drops it), so an override file can lift one.
  if (service.memLimit === 0) delete service.memLimit;
  if (service.cpus === 0) delete service.cpus;
  if (service.pidsLimit === 0) delete service.pidsLimit;
  return service;
}

function buildDeploy(d: DeployDraft | undefined): ComposeDeploy {
  const out: ComposeDeploy = {
    replicas: d?.replicas ?? 1,
    resources: { limits: { ...d?.limits } },
    updateConfig: { ...UPDATE_DEFAULTS, ...d?.updateConfig },
    rollbackConfig: { ...UPDATE_DEFAULTS, ...d?.rollbackConfig },
  };
  const rp = d?.restartPolicy;
  if (rp !== undefined) {
    out.restartPolicy = {
      condition: rp.condition ?? 'any',
      delayMs: rp.delayMs ?? 0,
      windowMs: rp.windowMs ?? 0,
    };
    if (rp.maxAttempts !== undefined) out.restartPolicy.maxAttempts = rp.maxAttempts;
  }
  return out;
}

/** Refuses a depends_on cycle, naming the chain and pointing at the edge that closes it. */
function checkCycles(services: Record<string, ComposeService>, merged: FileDraft): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (svc: string, chain: string[]): void => {
    if (state.get(svc) === 'done') return;
    state.set(svc, 'visiting');
    for (const dep of Object.keys(services[svc]?.dependsOn ?? {})) {
      if (state.get(dep) === 'visiting') {
        const cycle = [...chain.slice(chain.indexOf(dep)), svc, dep].join(' -> ');
        throw new ComposeError(
          merged.services.get(svc)?.pos.get(`depends_on.${dep}`),
          `services.${svc}.depends_on.${dep}`,
          `dependency cycle: ${cycle}`,
        );
      }
      visit(dep, [...chain, svc]);
    }
    state.set(svc, 'done');
  };
  for (const svc of Object.keys(services).sort()) visit(svc, []);
}
