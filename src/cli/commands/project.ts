import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { DEFAULT_COMPOSE_FILES, findComposeFile } from '../../compose/find.js';
import type { ProjectStatus } from '../../deploy/types.js';
import type { ApiClient } from '../client.js';
import { table } from '../format.js';
import { RolloutFollower, waitConverged } from './rollout-follow.js';

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
      'wait until every service is running and healthy, printing each rollout’s steps; exit 1 with the reason when one fails or a rollout rolls back (implies -d)',
    )
    .option('--wait-timeout <seconds>', 'give up waiting after this long', '300')
    .option('--scale <service=n>', 'replicas of a service over deploy.replicas (repeatable)', collect)
    .option('--remove-orphans', 'remove replicas of services the files no longer declare')
    .option('-q, --quiet', 'print nothing but errors (the replicas’ logs still follow without -d/--wait)')
    .action(
      async (
        o: ProjectFlags & {
          detach?: boolean;
          wait?: boolean;
          waitTimeout: string;
          scale?: string[];
          removeOrphans?: boolean;
          quiet?: boolean;
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
        // Rollout progress: redrawn in place with --wait on a terminal; one line per change beside the logs.
        const follower =
          o.quiet || (o.detach && !o.wait)
            ? undefined
            : new RolloutFollower(
                client(),
                name,
                o.wait ? process.stderr : { write: (t: string) => process.stderr.write(t) },
              );
        const status = await client()
          .json<ProjectStatus>('PUT', `/v1/projects/${encodeURIComponent(name)}`, {
            body: {
              files: files.map((path) => ({ path, content: readFileSync(path, 'utf8') })),
              projectDir: projectDir ?? dirname(files[0] ?? ''),
              env,
              ...(envFiles ? { envFiles } : {}),
              ...(o.profile ? { profiles: o.profile } : {}),
              ...(o.scale ? { scale } : {}),
              ...(o.removeOrphans ? { removeOrphans: true } : {}),
            },
          })
          .catch(async (err: unknown) => {
            await follower?.stop();
            throw err;
          });
        if (!o.quiet) {
          process.stderr.write(
            `project ${status.name}: applied (${status.services.map((s) => `${s.name} ×${s.desired}`).join(', ')})\n`,
          );
        }
        follower?.fromStatus(status);
        if (o.wait) {
          const failure = await waitConverged(client(), name, timeoutS * 1000, {
            ...(follower ? { follower } : {}),
            quiet: o.quiet === true,
          });
          if (failure !== undefined) {
            process.stderr.write(`berth up: ${failure}\n`);
            process.exitCode = 1;
          }
          return;
        }
        if (o.detach) return;
        try {
          await followLogs(client(), name, [], { follow: true, tail: '0' });
        } finally {
          await follower?.stop();
        }
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
      .description(
        'return a service to its previous revision, through the rolling update (rollback_config), printing its steps until it ends',
      ),
  )
    .argument('<service>')
    .option('-d, --detach', 'return once the rollback is started, without following it')
    .option('--wait', 'follow until the service is converged; exit 1 when it fails (the default without -d)')
    .option('--wait-timeout <seconds>', 'give up waiting after this long', '300')
    .option('-q, --quiet', 'print nothing but errors')
    .action(
      async (
        service: string,
        o: ProjectFlags & { wait?: boolean; detach?: boolean; quiet?: boolean; waitTimeout: string },
      ) => {
        const name = await projectName(o);
        const timeoutS = Number(o.waitTimeout);
        if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
          throw new InvalidArgumentError(
            `--wait-timeout: must be a number of seconds, got ${o.waitTimeout}`,
            { field: 'wait-timeout' },
          );
        }
        const wait = o.wait === true || o.detach !== true;
        const follower = o.quiet || !wait ? undefined : new RolloutFollower(client(), name, process.stderr);
        const status = await client()
          .json<ProjectStatus>(
            'POST',
            `/v1/projects/${encodeURIComponent(name)}/services/${encodeURIComponent(service)}/rollback`,
          )
          .catch(async (err: unknown) => {
            await follower?.stop();
            throw err;
          });
        if (!o.quiet) process.stderr.write(`${service}: rolling back\n`);
        follower?.fromStatus(status);
        if (!wait) return;
        const failure = await waitConverged(client(), name, timeoutS * 1000, {
          ...(follower ? { follower } : {}),
          quiet: o.quiet === true,
          service,
        });
        if (failure !== undefined) {
          process.stderr.write(`berth rollback: ${failure}\n`);
          process.exitCode = 1;
        }
      },
    );
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
