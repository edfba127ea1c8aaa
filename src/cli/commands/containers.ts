import type { Command } from 'commander';
import type { ExecResult, LogLine, WaitResult } from '../../../runtime/runtime.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { InvalidArgumentError } from '../../common/errors.js';
import type { ApiClient } from '../client.js';
import { ago, since, table } from '../format.js';
import { addRunFlags, type ParsedRunFlags } from '../run-flags.js';
import { buildCreateRequest } from '../run-request.js';
import { runContainer, writeLine } from './run.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerContainerCommands(program: Command, client: () => ApiClient): void {
  addRunFlags(
    program
      .command('run')
      .description('create and start a container; attached by default, -d to detach')
      .argument('<image>', 'image reference, e.g. busybox:latest')
      .argument('[command...]', 'command and arguments (replaces the image CMD)')
      .passThroughOptions(),
  ).action((image: string, args: string[], flags: ParsedRunFlags) =>
    runContainer(client(), image, args, flags),
  );

  addRunFlags(
    program
      .command('create')
      .description('create a container without starting it; prints its id')
      .argument('<image>')
      .argument('[command...]')
      .passThroughOptions(),
  ).action(async (image: string, args: string[], flags: ParsedRunFlags) => {
    const d = await client().json<ContainerDescriptor>('POST', '/v1/containers', {
      body: buildCreateRequest(image, args, { ...flags, noHealthcheck: flags.healthcheck === false }),
    });
    process.stdout.write(`${d.id}\n`);
  });

  program
    .command('start')
    .description('start one or more created or stopped containers')
    .argument('<container...>')
    .action(async (ids: string[]) => {
      for (const id of ids) {
        await client().json('POST', `/v1/containers/${encodeURIComponent(id)}/start`);
        process.stdout.write(`${id}\n`);
      }
    });

  program
    .command('ps')
    .description('list containers (running only, -a for all)')
    .option('-a, --all', 'show all containers, not only running ones')
    .option('-q, --quiet', 'print ids only')
    .option('--format <fmt>', 'json for one JSON array')
    .action(async (o: { all?: boolean; quiet?: boolean; format?: string }) => {
      const list = await client().json<ContainerDescriptor[]>('GET', '/v1/containers', {
        query: { all: o.all },
      });
      if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(list)}\n`);
      if (o.quiet) return void process.stdout.write(list.map((c) => `${c.id.slice(0, 12)}\n`).join(''));
      const rows = list.map((c) => [
        c.id.slice(0, 12),
        c.image,
        c.state === 'running'
          ? `Up ${c.startedAt ? since(c.startedAt) : ''}${c.health !== 'none' ? ` (${c.health})` : ''}`
          : c.state === 'exited'
            ? `Exited (${c.exitCode ?? '?'}) ${ago(c.finishedAt)}`
            : c.state,
        c.ports
          .map((p) =>
            p.hostPort
              ? `${p.hostIp || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`
              : `${p.containerPort}/${p.protocol}`,
          )
          .join(', '),
        c.name,
      ]);
      process.stdout.write(table(['CONTAINER ID', 'IMAGE', 'STATUS', 'PORTS', 'NAMES'], rows));
    });

  program
    .command('logs')
    .description("print a container's output; stdout and stderr go to their own streams")
    .argument('<container>')
    .option('-f, --follow', 'keep printing new output')
    .option('-n, --tail <n>', 'only the last N lines ("all" for everything)', 'all')
    .option('--since <time>', 'lines at or after this time (RFC 3339, unix seconds, or a duration like 10m)')
    .option('--until <time>', 'lines before this time')
    .option('-t, --timestamps', 'prefix each line with its time')
    .action(
      async (
        id: string,
        o: { follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean },
      ) => {
        if (o.tail !== 'all' && !/^\d+$/.test(o.tail)) {
          throw new InvalidArgumentError(
            `-n/--tail: must be a number or "all", got ${JSON.stringify(o.tail)}`,
          );
        }
        for await (const rec of client().stream<LogLine & { error?: { message: string } }>(
          'GET',
          `/v1/containers/${encodeURIComponent(id)}/logs`,
          {
            query: {
              follow: o.follow,
              tail: o.tail,
              since: o.since ? relativeTime(o.since) : undefined,
              until: o.until ? relativeTime(o.until) : undefined,
            },
          },
        )) {
          if (rec.error) throw new Error(rec.error.message);
          writeLine(rec, Boolean(o.timestamps));
        }
      },
    );

  program
    .command('stop')
    .description('stop containers: stop signal, then SIGKILL after the grace period')
    .argument('<container...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing')
    .action(async (ids: string[], o: { time?: string }) => {
      if (o.time !== undefined && !/^\d+$/.test(o.time)) {
        throw new InvalidArgumentError(
          `-t/--time: must be a whole number of seconds, got ${JSON.stringify(o.time)}`,
        );
      }
      for (const id of ids) {
        await client().json('POST', `/v1/containers/${encodeURIComponent(id)}/stop`, {
          query: { t: o.time },
        });
        process.stdout.write(`${id}\n`);
      }
    });

  program
    .command('kill')
    .description('send a signal to containers (default SIGKILL)')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'signal name or number', 'SIGKILL')
    .action(async (ids: string[], o: { signal: string }) => {
      for (const id of ids) {
        await client().json('POST', `/v1/containers/${encodeURIComponent(id)}/kill`, {
          query: { signal: o.signal },
        });
        process.stdout.write(`${id}\n`);
      }
    });

  program
    .command('rm')
    .description('remove containers (-f to stop running ones first)')
    .argument('<container...>')
    .option('-f, --force', 'kill a running container before removing it')
    .action(async (ids: string[], o: { force?: boolean }) => {
      for (const id of ids) {
        await client().json('DELETE', `/v1/containers/${encodeURIComponent(id)}`, {
          query: { force: o.force },
        });
        process.stdout.write(`${id}\n`);
      }
    });

  program
    .command('inspect')
    .description('print the full state and config of containers as JSON')
    .argument('<container...>')
    .action(async (ids: string[]) => {
      const out = [];
      for (const id of ids) out.push(await client().json('GET', `/v1/containers/${encodeURIComponent(id)}`));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  program
    .command('wait')
    .description('wait for containers to exit and print their exit codes')
    .argument('<container...>')
    .action(async (ids: string[]) => {
      for (const id of ids) {
        const r = await client().json<WaitResult>('POST', `/v1/containers/${encodeURIComponent(id)}/wait`);
        process.stdout.write(`${r.exitCode}\n`);
      }
    });

  program
    .command('exec')
    .description('run a command in a running container; exits with its exit code')
    .argument('<container>')
    .argument('<command...>')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect)
    .option('-u, --user <user>', 'user to run as')
    .option('-w, --workdir <dir>', 'working directory')
    .passThroughOptions()
    .action(async (id: string, cmd: string[], o: { env?: string[]; user?: string; workdir?: string }) => {
      const r = await client().json<ExecResult>('POST', `/v1/containers/${encodeURIComponent(id)}/exec`, {
        body: { cmd, env: o.env, user: o.user, workdir: o.workdir },
      });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      process.exitCode = r.exitCode;
    });
}

/** `10m` → an ISO time 10 minutes ago; anything else is passed through. */
export function relativeTime(v: string, now = Date.now()): string {
  const m = /^(\d+)(s|m|h)$/.exec(v);
  if (!m) return v;
  const ms = Number(m[1]) * ({ s: 1000, m: 60_000, h: 3_600_000 } as const)[m[2] as 's' | 'm' | 'h'];
  return new Date(now - ms).toISOString();
}
