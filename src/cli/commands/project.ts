import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { DEFAULT_COMPOSE_FILES, findComposeFile } from '../../compose/find.js';
import type { ProjectStatus, ServiceStatus } from '../../deploy/types.js';
import type { ApiClient } from '../client.js';
import { table } from '../format.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The options every project verb shares (Compose's global ones). */
export interface ProjectFlags {
  file?: string[];
  project?: string;
  projectDirectory?: string;
  envFile?: string[];
  profile?: string[];
}

export function projectOptions(cmd: Command, opts: { file?: boolean } = {}): Command {
  if (opts.file !== false) {
    cmd.option(
      '-f, --file <file>',
      'Compose file (repeatable, merged in order; default compose.yaml here or above)',
      collect,
    );
  }
  return cmd
    .option(
      '-p, --project <name>',
      'project name (default: from the files: name:, COMPOSE_PROJECT_NAME or the directory)',
    )
    .option(
      '--project-directory <dir>',
      'where relative paths and .env are found (default: the first file’s directory)',
    )
    .option(
      '--env-file <file>',
      'environment file for interpolation instead of the project’s .env (repeatable)',
      collect,
    )
    .option('--profile <name>', 'enable a profile (repeatable; default COMPOSE_PROFILES)', collect);
}

/** The Compose files named or found, absolute. */
function composeFiles(o: ProjectFlags): string[] {
  const files = o.file ?? [findComposeFile(process.cwd()) ?? ''];
  if (files[0] === '') {
    throw new InvalidArgumentError(
      `no Compose file: none of ${DEFAULT_COMPOSE_FILES.join(', ')} here or above; name one with -f or the project with -p`,
      { field: 'file' },
    );
  }
  return files.map((f) => resolve(f));
}

/**
 * The project a verb acts on: `-p`, else the name the Compose files give
 * (loaded here only to learn it, with Compose's rules), as `docker compose`
 * finds it.
 */
export async function projectName(o: ProjectFlags): Promise<string> {
  if (o.project !== undefined) return o.project;
  const files = composeFiles(o);
  const { loadProject } = await import('../../compose/loader.js');
  return loadProject({
    files,
    ...(o.projectDirectory ? { projectDir: resolve(o.projectDirectory) } : {}),
    ...(o.envFile ? { envFiles: o.envFile.map((f) => resolve(f)) } : {}),
    ...(o.profile ? { profiles: o.profile } : {}),
  }).name;
}

export function registerProjectCommands(program: Command, client: () => ApiClient): void {
  projectOptions(
    program
      .command('up')
      .description(
        'create or update a Compose project on the agent: it keeps the services running (replicas, health, restarts, rolling updates)',
      ),
  )
    .option(
      '-d, --detach',
      'return once applied (default: follow the replicas’ logs until Ctrl-C, which stops following, not the project: berth down does)',
    )
    .option(
      '--wait',
      'wait until every service is running and healthy; exit 1 with the reason when one fails or a rollout rolls back (implies -d)',
    )
    .option('--wait-timeout <seconds>', 'give up waiting after this long', '300')
    .option('--scale <service=n>', 'replicas of a service over deploy.replicas (repeatable)', collect)
    .option('--remove-orphans', 'remove replicas of services the files no longer declare')
    .action(
      async (
        o: ProjectFlags & {
          detach?: boolean;
          wait?: boolean;
          waitTimeout: string;
          scale?: string[];
          removeOrphans?: boolean;
        },
      ) => {
        const files = composeFiles(o);
        const projectDir = o.projectDirectory ? resolve(o.projectDirectory) : undefined;
        const envFiles = o.envFile?.map((f) => resolve(f));
        // The agent loads the files itself; loading here too names the project and refuses a bad file early.
        const { loadProject } = await import('../../compose/loader.js');
        const name =
          o.project ??
          loadProject({
            files,
            ...(projectDir ? { projectDir } : {}),
            ...(envFiles ? { envFiles } : {}),
            ...(o.profile ? { profiles: o.profile } : {}),
          }).name;
        const scale: Record<string, number> = {};
        for (const s of o.scale ?? []) {
          const m = /^([^=]+)=(\d+)$/.exec(s);
          if (m === null)
            throw new InvalidArgumentError(`--scale: must be SERVICE=N, got ${JSON.stringify(s)}`, {
              field: 'scale',
            });
          scale[m[1] ?? ''] = Number(m[2]);
        }
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
        const timeoutS = Number(o.waitTimeout);
        if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
          throw new InvalidArgumentError(
            `--wait-timeout: must be a number of seconds, got ${o.waitTimeout}`,
            { field: 'wait-timeout' },
          );
        }
        const status = await client().json<ProjectStatus>('PUT', `/v1/projects/${encodeURIComponent(name)}`, {
          body: {
            files: files.map((path) => ({ path, content: readFileSync(path, 'utf8') })),
            projectDir: projectDir ?? dirname(files[0] ?? ''),
            env,
            ...(envFiles ? { envFiles } : {}),
            ...(o.profile ? { profiles: o.profile } : {}),
            ...(o.scale ? { scale } : {}),
            ...(o.removeOrphans ? { removeOrphans: true } : {}),
          },
        });
        process.stderr.write(
          `project ${status.name}: applied (${status.services.map((s) => `${s.name} ×${s.desired}`).join(', ')})\n`,
        );
        if (o.wait) {
          const failure = await waitConverged(client(), name, timeoutS * 1000);
          if (failure !== undefined) {
            process.stderr.write(`berth up: ${failure}\n`);
            process.exitCode = 1;
          }
          return;
        }
        if (o.detach) return;
        await followLogs(client(), name, [], { follow: true, tail: '0' });
      },
    );

  projectOptions(
    program
      .command('down')
      .description('stop and remove a project’s replicas and networks (and with -v its volumes)'),
  )
    .option('-v, --volumes', 'also remove the project’s named volumes')
    .option(
      '--remove-orphans',
      'also remove replicas of services the files no longer declare (down always removes every replica of the project)',
    )
    .action(async (o: ProjectFlags & { volumes?: boolean; removeOrphans?: boolean }) => {
      const name = await projectName(o);
      const r = await client().json<{ removed: string[] }>(
        'DELETE',
        `/v1/projects/${encodeURIComponent(name)}`,
        {
          query: { volumes: o.volumes, removeOrphans: o.removeOrphans },
        },
      );
      for (const n of r.removed) process.stderr.write(`removed ${n}\n`);
      process.stderr.write(`project ${name}: down\n`);
    });

  projectOptions(
    program
      .command('services')
      .description(
        'per service of a project: desired, running and healthy replicas, its rollout, its last error',
      ),
  )
    .option('--format <fmt>', 'json for the project status as the API gives it')
    .action(async (o: ProjectFlags & { format?: string }) => {
      const name = await projectName(o);
      const st = await client().json<ProjectStatus>('GET', `/v1/projects/${encodeURIComponent(name)}`);
      if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(st)}\n`);
      process.stdout.write(
        table(
          ['SERVICE', 'IMAGE', 'DESIRED', 'RUNNING', 'HEALTHY', 'FRONTEND', 'ROLLOUT', 'LAST ERROR'],
          st.services.map((s) => [
            s.name,
            s.image,
            String(s.desired),
            String(s.running),
            String(s.healthy),
            s.frontend ? `${s.frontend.bind ?? ''}:${s.frontend.port}` : '',
            s.rollout
              ? `${s.rollout.kind} ${s.rollout.phase} (old ${s.rollout.oldCount}, new ${s.rollout.newCount})${s.rollout.reason ? `: ${s.rollout.reason}` : ''}`
              : '',
            s.lastError ? s.lastError.message : '',
          ]),
        ),
      );
      if (st.lastError && !st.lastError.service)
        process.stdout.write(`last error: ${st.lastError.message}\n`);
    });

  projectOptions(
    program.command('scale').description('set the replicas of services: berth scale web=3 api=2'),
  )
    .argument('<service=n...>')
    .action(async (pairs: string[], o: ProjectFlags) => {
      const name = await projectName(o);
      for (const p of pairs) {
        const m = /^([^=]+)=(\d+)$/.exec(p);
        if (m === null)
          throw new InvalidArgumentError(`scale: must be SERVICE=N, got ${JSON.stringify(p)}`, {
            field: 'scale',
          });
        await client().json(
          'POST',
          `/v1/projects/${encodeURIComponent(name)}/services/${encodeURIComponent(m[1] ?? '')}/scale`,
          {
            body: { replicas: Number(m[2]) },
          },
        );
        process.stderr.write(`${m[1]}: ${m[2]} replicas\n`);
      }
    });

  projectOptions(
    program
      .command('rollback')
      .description('return a service to its previous revision, through the rolling update (rollback_config)'),
  )
    .argument('<service>')
    .option('--wait', 'wait until the rollback is done; exit 1 when it fails')
    .option('--wait-timeout <seconds>', 'give up waiting after this long', '300')
    .action(async (service: string, o: ProjectFlags & { wait?: boolean; waitTimeout: string }) => {
      const name = await projectName(o);
      await client().json(
        'POST',
        `/v1/projects/${encodeURIComponent(name)}/services/${encodeURIComponent(service)}/rollback`,
      );
      process.stderr.write(`${service}: rolling back\n`);
      if (o.wait) {
        const failure = await waitConverged(client(), name, Number(o.waitTimeout) * 1000);
        if (failure !== undefined) {
          process.stderr.write(`berth rollback: ${failure}\n`);
          process.exitCode = 1;
        }
      }
    });
}

/** `berth ps -p NAME`: the project's replicas. */
export async function projectPs(
  client: ApiClient,
  name: string,
  o: { quiet?: boolean; format?: string },
): Promise<void> {
  const st = await client.json<ProjectStatus>('GET', `/v1/projects/${encodeURIComponent(name)}`);
  const rows = st.services.flatMap((s) =>
    s.replicas.map((r) => ({
      ...r,
      service: s.name,
      image: s.image,
      current: r.configHash === s.configHash,
    })),
  );
  if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(rows)}\n`);
  if (o.quiet) return void process.stdout.write(rows.map((r) => `${r.id.slice(0, 12)}\n`).join(''));
  process.stdout.write(
    table(
      ['NAME', 'SERVICE', 'IMAGE', 'STATE', 'HEALTH', 'CONFIG'],
      rows.map((r) => [
        r.name,
        r.service,
        r.image,
        r.state + (r.exitCode !== undefined && r.state === 'exited' ? ` (${r.exitCode})` : ''),
        r.health,
        r.current ? 'current' : 'old',
      ]),
    ),
  );
}

/** `berth logs -p NAME [SERVICE...]`: every replica's lines, prefixed `<name> | `. */
export async function followLogs(
  client: ApiClient,
  name: string,
  services: string[],
  o: { follow?: boolean; tail?: string; since?: string; timestamps?: boolean },
): Promise<void> {
  for await (const rec of client.stream<{
    container: string;
    line: string;
    stream: string;
    time: string;
    error?: { message: string };
  }>('GET', `/v1/projects/${encodeURIComponent(name)}/logs`, {
    query: {
      follow: o.follow,
      tail: o.tail,
      since: o.since,
      service: services.length > 0 ? services : undefined,
    },
  })) {
    if (rec.error) throw new Error(rec.error.message);
    const line = `${rec.container} | ${o.timestamps ? `${rec.time} ` : ''}${rec.line}\n`;
    (rec.stream === 'stderr' ? process.stderr : process.stdout).write(line);
  }
}

/** A replica counts as up: running and healthy (or without a check), or a one-shot that exited 0. */
function replicaUp(r: ServiceStatus['replicas'][number]): boolean {
  return (
    (r.state === 'running' && (r.health === 'healthy' || r.health === 'none')) ||
    (r.state === 'exited' && r.exitCode === 0)
  );
}

function serviceLine(s: ServiceStatus): string {
  const up = s.replicas.filter((r) => r.configHash === s.configHash && replicaUp(r)).length;
  const roll =
    s.rollout && s.rollout.phase === 'running'
      ? ` · ${s.rollout.kind} old ${s.rollout.oldCount} → new ${s.rollout.newCount}${s.rollout.waiting ? `, ${s.rollout.waiting.for} ${s.rollout.waiting.name}` : ''}`
      : '';
  return `${s.name} ${up}/${s.desired} up${roll}`;
}

/**
 * Polls the project until every service has its desired count of current,
 * up replicas and no rollout runs; returns the reason of a failure (a
 * rollout that rolled back, failed or paused; the timeout with the last
 * error) or undefined. On a terminal a progress line per service is redrawn.
 */
export async function waitConverged(
  client: ApiClient,
  name: string,
  timeoutMs: number,
): Promise<string | undefined> {
  const tty = process.stderr.isTTY === true;
  const deadline = Date.now() + timeoutMs;
  let drawn = 0;
  let last: ProjectStatus | undefined;
  const draw = (st: ProjectStatus) => {
    const lines = st.services.map(serviceLine);
    if (tty) {
      process.stderr.write(
        `${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`,
      );
      drawn = lines.length;
    }
  };
  while (Date.now() < deadline) {
    const st = await client.json<ProjectStatus>('GET', `/v1/projects/${encodeURIComponent(name)}`);
    last = st;
    draw(st);
    for (const s of st.services) {
      const p = s.rollout;
      if (p && (p.phase === 'rolled-back' || p.phase === 'failed' || p.phase === 'paused')) {
        return `${s.name}: rollout ${p.phase}${p.reason ? `: ${p.reason}` : ''}`;
      }
    }
    // A service no longer declared (an orphan kept without --remove-orphans) has no config hash.
    const done = st.services.every(
      (s) =>
        s.configHash === '' ||
        ((s.rollout === undefined || s.rollout.phase === 'done') &&
          s.replicas.filter((r) => r.configHash === s.configHash && replicaUp(r)).length >= s.desired &&
          s.replicas.length === s.desired),
    );
    if (done) {
      if (!tty) for (const s of st.services) process.stderr.write(`${serviceLine(s)}\n`);
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const errs = (last?.services ?? []).flatMap((s) => {
    const down = s.replicas.filter((r) => !replicaUp(r)).map((r) => `${r.name} ${r.state}/${r.health}`);
    const why = [...down, ...(s.lastError ? [s.lastError.message] : [])];
    return why.length > 0 ? [`${s.name}: ${why.join(', ')}`] : [];
  });
  return `not up within ${Math.round(timeoutMs / 1000)} s${errs.length > 0 ? ` (${errs.join('; ')})` : ''}: ${(last?.services ?? []).map(serviceLine).join(', ')}`;
}
