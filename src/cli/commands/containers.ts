import type { Command } from 'commander';
import {
  fromWire,
  InvalidArgumentError,
  NotImplementedError,
  UnavailableError,
} from '../../../runtime/base/errors.js';
import type { LogLine, WaitResult } from '../../../runtime/runtime.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { EXEC_STDERR, EXEC_STDIN } from '../../api/types.js';
import type { ApiClient } from '../client.js';
import { forEachName } from '../each.js';
import { matchesFilters, parseFilters } from '../filters.js';
import { ago, since, table } from '../format.js';
import { addRunFlags, type ParsedRunFlags } from '../run-flags.js';
import { buildCreateRequest } from '../run-request.js';
import { runContainer, writeLine } from './run.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `berth ps` flags; `-p` lists a Compose project's replicas instead. */
type PsOptions = {
  all?: boolean;
  quiet?: boolean;
  format?: string;
  filter?: string[];
  project?: string;
  source?: string;
};

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
      await forEachName(ids, async (id) => {
        await client().json('POST', `/v1/containers/${encodeURIComponent(id)}/start`);
        process.stdout.write(`${id}\n`);
      });
    });

  program
    .command('ps')
    .description(
      'list containers (running only, -a for all); with an agent in --mode observe|both, the observed ones too (SOURCE column)',
    )
    .option('-a, --all', 'show all containers, not only running ones')
    .option('-q, --quiet', 'print ids only')
    .option('--format <fmt>', 'json for one JSON array')
    .option(
      '-f, --filter <key=value>',
      'only containers matching: id, name, label=k[=v], status, health, ancestor (repeatable; same key: any, keys: all)',
      collect,
    )
    .option('-p, --project <name>', "a Compose project's replicas (its name, service, state, health)")
    .option(
      '--source <name>',
      'only containers from this source: berth (its own), docker, cri, cgroup (observed ones, in agent --mode observe|both)',
    )
    .action(async (o: PsOptions) => {
      if (o.project !== undefined) return (await import('./project.js')).projectPs(client(), o.project, o);
      const filters = parseFilters(o.filter ?? []);
      const asTable = o.format !== 'json' && !o.quiet;
      // As Docker's: asking for a status shows stopped containers without -a.
      const [all, info] = await Promise.all([
        client().json<ContainerDescriptor[]>('GET', '/v1/containers', {
          query: { all: o.all || filters.has('status'), source: o.source },
        }),
        // The table has a SOURCE column when the agent observes (src/cli/README.md, "ps").
        asTable ? client().json<{ mode?: string }>('GET', '/v1/info') : undefined,
      ]);
      const list = all.filter((c) => matchesFilters(c, filters));
      if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(list)}\n`);
      if (o.quiet) return void process.stdout.write(list.map((c) => `${c.id.slice(0, 12)}\n`).join(''));
      const observing = info?.mode !== undefined && info.mode !== 'run';
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
        ...(observing ? [c.source] : []),
      ]);
      const head = ['CONTAINER ID', 'IMAGE', 'STATUS', 'PORTS', 'NAMES', ...(observing ? ['SOURCE'] : [])];
      process.stdout.write(table(head, rows));
    });

  program
    .command('logs')
    .description(
      "print a container's output (or with -p a project's, each line prefixed `<replica> | `); stdout and stderr go to their own streams",
    )
    .argument('[container-or-services...]', 'a container; with -p, services of the project (default all)')
    .option('-p, --project <name>', "a Compose project's replicas, interleaved")
    .option('-f, --follow', 'keep printing new output')
    .option('-n, --tail <n>', 'only the last N lines ("all" for everything)', 'all')
    .option('--since <time>', 'lines at or after this time (RFC 3339, unix seconds, or a duration like 10m)')
    .option('--until <time>', 'lines before this time')
    .option('-t, --timestamps', 'prefix each line with its time')
    .action(
      async (
        args: string[],
        o: {
          follow?: boolean;
          tail: string;
          since?: string;
          until?: string;
          timestamps?: boolean;
          project?: string;
        },
      ) => {
        if (o.tail !== 'all' && !/^\d+$/.test(o.tail)) {
          throw new InvalidArgumentError(
            `-n/--tail: must be a number or "all", got ${JSON.stringify(o.tail)}`,
          );
        }
        if (o.project !== undefined) {
          const since = o.since ? relativeTime(o.since) : undefined;
          const opts = { tail: o.tail, ...(o.follow ? { follow: true } : {}), ...(since ? { since } : {}) };
          return (await import('./project.js')).followLogs(client(), o.project, args, {
            ...opts,
            ...(o.timestamps ? { timestamps: true } : {}),
          });
        }
        const [id, ...extra] = args;
        if (id === undefined || extra.length > 0) {
          throw new InvalidArgumentError('logs: name one container (or a project with -p)', {
            field: 'container',
          });
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

  // stop and restart: the same grace period (-t), one request per container.
  for (const [verb, description] of [
    ['stop', 'stop containers: stop signal, then SIGKILL after the grace period'],
    ['restart', 'stop containers (as stop does), then start them again'],
  ] as const) {
    program
      .command(verb)
      .description(description)
      .argument('<container...>')
      .option('-t, --time <seconds>', 'seconds to wait before killing')
      .action(async (ids: string[], o: { time?: string }) => {
        const t = graceSeconds(o.time);
        await forEachName(ids, async (id) => {
          await client().json('POST', `/v1/containers/${encodeURIComponent(id)}/${verb}`, { query: { t } });
          process.stdout.write(`${id}\n`);
        });
      });
  }

  program
    .command('kill')
    .description('send a signal to containers (default SIGKILL)')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'signal name or number', 'SIGKILL')
    .action(async (ids: string[], o: { signal: string }) => {
      await forEachName(ids, async (id) => {
        await client().json('POST', `/v1/containers/${encodeURIComponent(id)}/kill`, {
          query: { signal: o.signal },
        });
        process.stdout.write(`${id}\n`);
      });
    });

  program
    .command('rm')
    .description('remove containers (-f to stop running ones first)')
    .argument('<container...>')
    .option('-f, --force', 'kill a running container before removing it')
    .action(async (ids: string[], o: { force?: boolean }) => {
      await forEachName(ids, async (id) => {
        await client().json('DELETE', `/v1/containers/${encodeURIComponent(id)}`, {
          query: { force: o.force },
        });
        process.stdout.write(`${id}\n`);
      });
    });

  program
    .command('inspect')
    .description('print the full state and config of containers as JSON')
    .argument('<container...>')
    .action(async (ids: string[]) => {
      const out = await forEachName(ids, (id) =>
        client().json('GET', `/v1/containers/${encodeURIComponent(id)}`),
      );
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  program
    .command('wait')
    .description('wait for containers to exit and print their exit codes')
    .argument('<container...>')
    .action(async (ids: string[]) => {
      await forEachName(ids, async (id) => {
        const r = await client().json<WaitResult>('POST', `/v1/containers/${encodeURIComponent(id)}/wait`);
        process.stdout.write(`${r.exitCode}\n`);
      });
    });

  program
    .command('exec')
    .description(
      'run a command in a running container, its output streamed as it comes; exits with its exit code',
    )
    .argument('<container>')
    .argument('<command...>')
    .option('-i, --interactive', "attach berth's stdin to the command (e.g. exec -i db psql < dump.sql)")
    .option('-t, --tty', 'allocate a terminal: not supported')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect)
    .option('-u, --user <user>', 'user to run as')
    .option('-w, --workdir <dir>', 'working directory')
    .passThroughOptions()
    .action(async (id: string, cmd: string[], o: ExecFlags) => {
      process.exitCode = await execStreaming(client(), id, cmd, o);
    });
}

interface ExecFlags {
  interactive?: boolean;
  tty?: boolean;
  env?: string[];
  user?: string;
  workdir?: string;
}

/**
 * `berth exec` over the agent's exec WebSocket (src/api/routes/exec.ts):
 * output is written as it comes, binary-safe, stdout and stderr apart; with
 * -i our stdin is the command's. Ctrl-C closes the socket, which kills the
 * command. Resolves to the command's exit code.
 */
async function execStreaming(api: ApiClient, id: string, cmd: string[], o: ExecFlags): Promise<number> {
  if (o.tty) {
    throw new NotImplementedError(
      "-t/--tty: not supported: berth relays a command's stdin and output as streams, without a terminal",
    );
  }
  const ws = await api.websocket(`/v1/containers/${encodeURIComponent(id)}/exec/ws`);
  ws.send(
    JSON.stringify({ cmd, env: o.env, user: o.user, workdir: o.workdir, stdin: o.interactive === true }),
  );
  if (o.interactive) {
    // Hold our stdin while 16 chunks are on their way; go on when fewer than 4 are.
    let unsent = 0;
    process.stdin.on('data', (chunk: Buffer) => {
      unsent++;
      if (unsent >= 16) process.stdin.pause();
      ws.send(Buffer.concat([Buffer.of(EXEC_STDIN), chunk]), { binary: true }, () => {
        unsent--;
        if (unsent < 4 && process.stdin.isPaused()) process.stdin.resume();
      });
    });
    process.stdin.on('end', () => ws.send(JSON.stringify({ eof: true })));
  }
  const interrupt = () => ws.close();
  process.once('SIGINT', interrupt);
  try {
    return await new Promise<number>((resolve, reject) => {
      let result: { exit?: number; error?: { code?: string; message?: string } } = {};
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) {
          result = JSON.parse(data.toString()) as typeof result;
          return;
        }
        const out = data[0] === EXEC_STDERR ? process.stderr : process.stdout;
        if (!out.write(data.subarray(1))) {
          ws.pause();
          out.once('drain', () => ws.resume());
        }
      });
      ws.once('error', reject);
      ws.once('close', () => {
        process.stdin.destroy();
        if (result.exit !== undefined) resolve(result.exit);
        else if (result.error) reject(fromWire(result.error.code ?? 'Internal', result.error.message ?? ''));
        else reject(new UnavailableError('the agent closed the exec stream before the command ended'));
      });
    });
  } finally {
    process.off('SIGINT', interrupt);
  }
}

/** stop's and restart's -t: whole seconds. */
function graceSeconds(v: string | undefined): string | undefined {
  if (v !== undefined && !/^\d+$/.test(v)) {
    throw new InvalidArgumentError(`-t/--time: must be a whole number of seconds, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** `10m` → an ISO time 10 minutes ago; anything else is passed through. */
export function relativeTime(v: string, now = Date.now()): string {
  const m = /^(\d+)(s|m|h)$/.exec(v);
  if (!m) return v;
  const ms = Number(m[1]) * ({ s: 1000, m: 60_000, h: 3_600_000 } as const)[m[2] as 's' | 'm' | 'h'];
  return new Date(now - ms).toISOString();
}
