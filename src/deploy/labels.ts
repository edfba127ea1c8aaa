/**
 * The labels berth puts on every replica of a Compose service: Compose's own
 * (so tools that read `com.docker.compose.*` work on berth's containers) and
 * berth's, which the reconciler keys on when it re-adopts containers after a
 * restart (a container without `berth.project` is never touched by it).
 */
export const COMPOSE = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  configHash: 'com.docker.compose.config-hash',
  oneoff: 'com.docker.compose.oneoff',
  configFiles: 'com.docker.compose.project.config_files',
  workingDir: 'com.docker.compose.project.working_dir',
  version: 'com.docker.compose.version',
} as const;

export const BERTH = {
  project: 'berth.project',
  service: 'berth.service',
} as const;

/** What a replica's labels say about it, or undefined when it is not a replica of a berth project. */
export function replicaIdentity(
  labels: Record<string, string>,
): { project: string; service: string; index: number; configHash: string } | undefined {
  const project = labels[BERTH.project];
  const service = labels[BERTH.service];
  const index = Number(labels[COMPOSE.number]);
  if (!project || !service || !Number.isInteger(index) || index < 1) return undefined;
  return { project, service, index, configHash: labels[COMPOSE.configHash] ?? '' };
}

/** `<project>-<service>-<n>`, Compose's replica name. */
export function replicaName(project: string, service: string, index: number): string {
  return `${project}-${service}-${index}`;
}
