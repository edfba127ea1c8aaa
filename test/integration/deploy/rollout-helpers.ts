/**
 * What the rollout tests and `npm run bench -- rollout` share: a project of
 * the HTTP test service (test/harness/http-image.ts) written as a Compose
 * file, `berth up` through the CLI, the project's replicas as `berth ps`
 * shows them, and HAProxy's view of the backend (its Runtime API, the same
 * socket the agent drives).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliCommand } from '../../../sidecar/haproxy/runtime-api.js';
import type { CliResult, TestAgent } from '../../harness/agent.js';
import { HTTP_IMAGE, HTTP_PORT, type HttpTag } from '../../harness/http-image.js';
import { pollUntil } from '../../harness/proc.js';

export interface WebProject {
  name: string;
  file: string;
  lbPort: number;
}

export interface UpdateConfig {
  parallelism?: number;
  order?: 'start-first' | 'stop-first';
  failure_action?: 'rollback' | 'pause' | 'continue';
  monitor?: string;
  delay?: string;
}

/**
 * A project with one service `web` of the test image, `replicas` behind one
 * HAProxy frontend on `lbPort` (Compose's `ports: "PORT:8080"` on a service
 * with replicas). The tag comes from ${WEB_TAG}, so a test rolls it by
 * running `up` with another value, as users do with an image variable.
 */
export async function writeWebProject(
  dir: string,
  o: { name: string; lbPort: number; replicas?: number; update?: UpdateConfig },
): Promise<WebProject> {
  const update = {
    parallelism: 1,
    order: 'start-first',
    failure_action: 'rollback',
    monitor: '2s',
    ...o.update,
  };
  const yaml = `name: ${o.name}
services:
  web:
    image: ${HTTP_IMAGE}:\${WEB_TAG}
    ports:
      - "127.0.0.1:${o.lbPort}:${HTTP_PORT}"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${HTTP_PORT}/healthz"]
      interval: 1s
      timeout: 1s
      retries: 2
    deploy:
      replicas: ${o.replicas ?? 3}
      update_config:
${Object.entries(update)
  .map(([k, v]) => `        ${k}: ${v}`)
  .join('\n')}
`;
  const file = join(dir, `${o.name}.yaml`);
  await writeFile(file, yaml);
  return { name: o.name, file, lbPort: o.lbPort };
}

/** `berth up -f FILE ARGS` with WEB_TAG=tag. */
export function up(
  agent: TestAgent,
  p: WebProject,
  tag: HttpTag,
  args: string[] = ['-d', '--wait'],
): Promise<CliResult> {
  return agent.cli(['up', '-f', p.file, ...args], { env: { WEB_TAG: tag }, timeoutMs: 180_000 });
}

export interface ReplicaView {
  id: string;
  name: string;
  index: number;
  tag: string;
  state: string;
  health: string;
  pid: number | undefined;
  /** `127.0.0.1:<host port>`: the replica's HAProxy server (replicas publish their target on an ephemeral loopback port). */
  endpoint: string | undefined;
}

/** The project's containers as `berth ps -a --format json` lists them (all states). */
export async function replicas(agent: TestAgent, project: string): Promise<ReplicaView[]> {
  const r = await agent.cli([
    'ps',
    '-a',
    '--format',
    'json',
    '--filter',
    `label=com.docker.compose.project=${project}`,
  ]);
  assert.equal(r.code, 0, `berth ps: ${r.stderr}`);
  const list = JSON.parse(r.stdout) as Array<{
    id: string;
    name: string;
    imageTag: string;
    state: string;
    health: string;
    pid?: number;
    labels: Record<string, string>;
    ports: Array<{ containerPort: number; hostIp: string; hostPort: number }>;
  }>;
  return list
    .map((c) => ({
      id: c.id,
      name: c.name,
      index: Number(c.labels['com.docker.compose.container-number']),
      tag: c.imageTag,
      state: c.state,
      health: c.health,
      pid: c.pid,
      endpoint: endpointOf(c.ports),
    }))
    .sort((a, b) => a.index - b.index);
}

function endpointOf(
  ports: Array<{ containerPort: number; hostIp: string; hostPort: number }>,
): string | undefined {
  const p = ports.find((x) => x.containerPort === HTTP_PORT && x.hostPort > 0);
  return p && `${p.hostIp || '127.0.0.1'}:${p.hostPort}`;
}

/** The replicas running and healthy, all of `tag`, exactly `n` of them; undefined otherwise. */
export async function settled(
  agent: TestAgent,
  project: string,
  tag: string,
  n: number,
): Promise<ReplicaView[] | undefined> {
  const all = await replicas(agent, project);
  const ok = all.filter((r) => r.state === 'running' && r.health === 'healthy' && r.tag === tag);
  return ok.length === n && all.length === n ? all : undefined;
}

/** `show servers state` rows of the backends: address:port of each server in rotation (running, not in maint/drain). */
export async function serversInRotation(agent: TestAgent): Promise<string[]> {
  const text = await cliCommand(join(agent.stateRoot, 'haproxy', 'stats.sock'), 'show servers state');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    // 4 srv_addr, 5 srv_op_state (2 = running), 6 srv_admin_state (0x04: "disabled in config", kept after `state ready`), 18 srv_port.
    if (f.length > 18 && f[5] === '2' && (Number(f[6]) & ~0x04) === 0) out.push(`${f[4]}:${f[18]}`);
  }
  return out;
}

/** Polls GET http://127.0.0.1:PORT/ until `want` answers `n` times in a row. */
export async function waitServing(port: number, want: string, timeoutMs = 30_000): Promise<void> {
  let streak = 0;
  await pollUntil(
    `${want} answering on 127.0.0.1:${port}`,
    async () => {
      const body = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => (r.ok ? r.text() : `HTTP ${r.status}`),
      );
      streak = body.trim() === want ? streak + 1 : 0;
      return streak >= 6 ? true : undefined;
    },
    timeoutMs,
    100,
  );
}
