import type { ContainerDescriptor } from '../../runtime/types.js';
import { loadProject } from '../compose/loader.js';
import type { ComposeProject } from '../compose/types.js';
import type { RolloutProgress } from './contract.js';
import { configHash } from './hash.js';
import { BERTH, replicaIdentity } from './labels.js';
import { locator } from './locate.js';
import { planPorts } from './ports.js';
import { replicaSpec } from './spec.js';
import type { ActualReplica, DesiredService, ProjectRecord, ProjectSource, ProjectStatus } from './types.js';

/**
 * Loads a project from what the client sent (the agent's own load: a model
 * built by the client is never trusted) and checks that every service maps
 * onto a create request, so a refusal (file:line) comes before anything runs.
 */
export function loadSource(source: ProjectSource, projectName?: string): ComposeProject {
  const project = loadProject({
    files: source.files.map((f) => f.path),
    contents: source.files.map((f) => f.content),
    ...(source.projectDir !== undefined ? { projectDir: source.projectDir } : {}),
    env: source.env ?? {},
    ...(source.envFiles !== undefined ? { envFiles: source.envFiles } : {}),
    ...(source.profiles !== undefined ? { profiles: source.profiles } : {}),
    ...(projectName !== undefined ? { projectName } : {}),
  });
  const locate = locator(source.files.map((f) => ({ file: f.path, text: f.content })));
  for (const svc of Object.values(project.services)) replicaSpec(project, svc, 1, configHash(svc), locate);
  return project;
}

/** The desired services of a record: each service's current revision at its scale. */
export function desiredServices(rec: ProjectRecord): DesiredService[] {
  return Object.keys(rec.project.services).flatMap((name) => {
    const rev = rec.revisions[name]?.current;
    if (rev === undefined) return [];
    return [
      {
        name,
        rev,
        replicas: rec.scale[name] ?? rev.service.deploy.replicas,
        dependsOn: rev.service.dependsOn,
      },
    ];
  });
}

/** The replicas of `project` among the runtime's containers. */
export function actualReplicas(all: ContainerDescriptor[], project: string): ActualReplica[] {
  const out: ActualReplica[] = [];
  for (const c of all) {
    if (c.labels[BERTH.project] !== project) continue;
    const id = replicaIdentity(c.labels);
    if (id === undefined) continue;
    out.push({
      id: c.id,
      name: c.name,
      index: id.index,
      configHash: id.configHash,
      service: id.service,
      state: c.state,
      health: c.health,
      ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
      ...(c.finishedAt !== undefined ? { finishedAt: c.finishedAt } : {}),
    });
  }
  return out;
}

/** `GET /v1/projects/:name`: per service, desired/running/healthy, replicas, the rollout, the last error. */
export function projectStatus(
  rec: ProjectRecord,
  actual: ActualReplica[],
  progress: ReadonlyMap<string, RolloutProgress>,
  serviceErrors: ReadonlyMap<string, { message: string; at: string }>,
): ProjectStatus {
  const desired = new Map(desiredServices(rec).map((d) => [d.name, d]));
  const names = [...new Set([...desired.keys(), ...actual.map((r) => r.service)])];
  return {
    name: rec.name,
    origin: rec.origin,
    workingDir: rec.project.workingDir,
    files: rec.project.files,
    appliedAt: rec.appliedAt,
    ...(rec.lastError !== undefined ? { lastError: rec.lastError } : {}),
    services: names.map((name) => {
      const d = desired.get(name);
      const rs = actual.filter((r) => r.service === name).sort((a, b) => a.index - b.index);
      const lb = d === undefined ? undefined : frontendOf(d.rev.service);
      const saved = rec.rollouts[name];
      const p =
        progress.get(name) ??
        (saved === undefined
          ? undefined
          : {
              service: name,
              kind: saved.kind,
              phase: saved.phase,
              oldCount: 0,
              newCount: saved.started.length,
              failures: saved.failures,
              ...(saved.reason !== undefined ? { reason: saved.reason } : {}),
            });
      const err = serviceErrors.get(name);
      return {
        name,
        image: d?.rev.service.image ?? '',
        configHash: d?.rev.configHash ?? '',
        desired: d?.replicas ?? 0,
        running: rs.filter((r) => r.state === 'running').length,
        healthy: rs.filter((r) => r.state === 'running' && r.health === 'healthy').length,
        ...(lb !== undefined ? { frontend: lb } : {}),
        ...(p !== undefined ? { rollout: p } : {}),
        ...(err !== undefined ? { lastError: err } : {}),
        replicas: rs.map((r) => ({
          id: r.id,
          name: r.name,
          index: r.index,
          state: r.state,
          health: r.health,
          configHash: r.configHash,
          ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
        })),
      };
    }),
  };
}

function frontendOf(svc: ComposeProject['services'][string]): { port: number; bind?: string } | undefined {
  try {
    const lb = planPorts(svc, svc.deploy.replicas, () => new Error('refused') as never).lb;
    return lb === undefined
      ? undefined
      : { port: lb.port, ...(lb.bind !== undefined ? { bind: lb.bind } : {}) };
  } catch {
    return undefined;
  }
}
