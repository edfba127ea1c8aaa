import type { Command } from 'commander';
import type { ExecResult, LogLine, WaitResult } from '../../../runtime/runtime.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { InvalidArgumentError } from '../../common/errors.js';
import type { ApiClient } from '../client.js';
import { ago, table } from '../format.js';
import { buildCreateRequest, type RunFlags } from '../run-request.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function writeLine(l: LogLine, timestamps: boolean): void {
  const out = l.stream === 'stderr' ? process.stderr : process.stdout;
  out.write(timestamps ? `${l.time} ${l.line}\n` : `${l.line}\n`);
}

function addRunFlags(cmd: Command): Command {
  return cmd
    .option('-d, --detach', 'run in the background and print the container id')
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'container name')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect)
    .option('-p, --publish <[ip:]hostPort:containerPort[/proto]>', 'publish a port (repeatable)', collect)
    .option('-v, --volume <src:dst[:ro]>', 'bind mount a host path or a named volume (repeatable)', collect)
    .option('--tmpfs <path[:options]>', 'mount a tmpfs (repeatable)', collect)
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--cap-add <CAP>', 'add a Linux capability (repeatable; ALL for all)', collect)
    .option('--cap-drop <CAP>', 'drop a Linux capability (repeatable; ALL for all)', collect)
    .option(
      '--security-opt <opt>',
      'no-new-privileges[:false], seccomp=unconfined|FILE (repeatable)',
      collect,
    )
    .option('--privileged', 'give the container all capabilities and devices, no seccomp')
    .option('-m, --memory <size>', 'memory limit, e.g. 64m')
    .option('--memory-swap <size>', 'memory plus swap limit; -1 for unlimited swap')
    .option('--cpus <n>', 'CPU quota in cores, e.g. 0.5')
    .option('--cpuset-cpus <list>', 'CPUs the container may use, e.g. 0-1')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--ulimit <name=soft[:hard]>', 'resource limit, e.g. nofile=1024:2048 (repeatable)', collect)
    .option('--restart <policy>', 'no, on-failure[:N], always or unless-stopped', 'no')
    .option('--health-cmd <cmd>', 'command run in the container to check health')
    .option('--health-interval <duration>', 'time between health checks (e.g. 30s)')
    .option('--health-timeout <duration>', 'time a check may take')
    .option('--health-retries <n>', 'consecutive failures to report unhealthy')
    .option('--health-start-period <duration>', 'start-up time during which failures do not count')
    .option('--no-healthcheck', "disable the image's health check")
    .option('--network <mode>', 'none, host or bridge', 'bridge')
    .option('-l, --label <KEY=VALUE>', 'set a label (repeatable)', collect)
    .option('-u, --user <user[:group]>', 'user name or uid to run as')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('--hostname <name>', 'container host name')
    .option('--entrypoint <cmd>', "override the image's entrypoint")
    .option('--stop-signal <signal>', 'signal sent by stop (default SIGTERM or the image’s)')
    .option('--stop-timeout <seconds>', 'seconds stop waits before SIGKILL');
}

export function registerContainerCommands(program: Command, client: () => ApiClient): void {
  addRunFlags(
    program
      .command('run')
      .description('create and start a container; attached by default, -d to detach')
      .argument('<image>', 'image reference, e.g. busybox:latest')
      .argument('[command...]', 'command and arguments (replaces the image CMD)')
      .passThroughOptions(),
  ).action(async (image: string, args: string[], flags: RunFlags & { healthcheck?: boolean }) => {
    const f = { ...flags, noHealthcheck: flags.healthcheck === false };
    const body = buildCreateRequest(image, args, f);
    let exit: WaitResult | undefined;
    for await (const rec of client().stream<Record<string, unknown>>('POST', '/v1/containers/run', {
      query: { detach: f.detach, rm: f.rm },
      body,
    })) {
      if (rec.created && f.detach) process.stdout.write(`${(rec.created as { id: string }).id}\n`);
      else if (rec.line !== undefined) writeLine(rec as unknown as LogLine, false);
      else if (rec.exit) exit = rec.exit as WaitResult;
      else if (rec.error) throw new Error((rec.error as { message: string }).message);
    }
    if (exit) process.exitCode = exit.exitCode;
  });

  addRunFlags(
    program
      .command('create')
      .description('create a container without starting it; prints its id')
      .argument('<image>')
      .argument('[command...]')
      .passThroughOptions(),
  ).action(async (image: string, args: string[], flags: RunFlags & { healthcheck?: boolean }) => {
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
          ? `Up since ${ago(c.startedAt)}${c.health !== 'none' ? ` (${c.health})` : ''}`
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
