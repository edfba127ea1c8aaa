import { Command } from 'commander';
import type { ConfigRow, ConfigTable } from '../../runtime/base/config.js';
import { VERSION } from '../version.js';
import type { ApiClient } from './client.js';
import { registerComposeCommands } from './commands/compose.js';
import { registerContainerCommands, relativeTime } from './commands/containers.js';
import { registerDashboardCommands } from './commands/dashboard.js';
import { registerImageCommands, registerLoginCommands } from './commands/images.js';
import { registerNetworkCommands } from './commands/networks.js';
import { registerProjectCommands } from './commands/project.js';
import { registerPruneCommands } from './commands/prune.js';
import { registerStatsCommand } from './commands/stats.js';
import { registerVolumeCommands } from './commands/volumes.js';

/**
 * The full `berth` command tree (commander). `agentConfig` is the agent's
 * config table, one flag per row; main passes it only when `agent` (or its
 * help) runs, so other verbs do not load the agent's modules.
 */
export function buildCli(client: () => ApiClient, agentConfig?: ConfigTable): Command {
  const program = new Command('berth')
    .description('berth: a per-host container agent (runtime, metrics, logs, discovery, DNS, HAProxy)')
    .version(VERSION, '-v, --version', 'print the berth version')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`berth: ${str.replace(/^error: /, '')}`) })
    // Before any verb is added, so every verb inherits it: commander throws instead of exiting, and
    // main turns usage errors into berth's exit code 125.
    .exitOverride();

  program
    .command('version')
    .description("print the CLI's berth and Node.js versions and platform, and the agent's when it answers")
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const info: Record<string, unknown> = {
        berth: VERSION,
        node: process.version,
        platform: `${process.platform}/${process.arch}`,
      };
      // The agent's side too, as `docker version` shows the server's: which Node it runs on is
      // not necessarily the CLI's. An agent that does not answer is said, not an error.
      let agentLine: string;
      try {
        const agent = await client().json<{ berth: string; node: string }>('GET', '/v1/version');
        info.agent = agent;
        agentLine = `agent berth ${agent.berth} (node ${agent.node})`;
      } catch (err) {
        info.agentError = err instanceof Error ? err.message : String(err);
        agentLine = `agent not reachable: ${String(info.agentError)}`;
      }
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(info)}\n`
          : `berth ${VERSION} (node ${process.version}, ${String(info.platform)})\n${agentLine}\n`,
      );
    });

  const agent = program
    .command('agent')
    .description(
      'run the berth agent in the foreground (the daemon every other verb talks to); containers outlive it',
    )
    .option(
      '--config <file>',
      `agent config file: JSON with the keys below (camelCase) and the sections ${AGENT_CONFIG_SECTIONS.join(', ')} (src/README.md)`,
    );
  // One flag per config row, so --help, the config file and the docs agree.
  for (const row of agentConfig ?? []) agent.option(...agentFlag(row));
  agent.option(
    '--check-config',
    'check flags, env and --config as a start does, print the effective config as JSON and exit (0, or 125 naming the field); touches no state, socket or network',
  );
  agent.action(async (opts: Record<string, string | undefined>) => {
    // A mode, not a config key: it never reaches the config table.
    const { checkConfig, ...flags } = opts;
    if (checkConfig !== undefined) {
      const { checkAgentConfig } = await import('../agent/check.js');
      process.stdout.write(`${JSON.stringify(await checkAgentConfig(flags), null, 2)}\n`);
      return;
    }
    const { runAgent } = await import('../agent/run.js');
    await runAgent(flags);
  });

  program
    .command('info')
    .description("print the agent's version and where its endpoints listen")
    .action(async () => {
      const info = await client().json<Record<string, unknown>>('GET', '/v1/info');
      process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    });

  program
    .command('events')
    .description('stream runtime events as JSON lines (container.*, image.*)')
    .option('--filter <topic>', 'only these topics, e.g. container.died or container.* (repeatable)', collect)
    .option(
      '--since <time>',
      'first the events since this time that the agent still holds (its last 256), then live ones: RFC 3339, unix seconds, or a duration like 10m',
    )
    .action(async (o: { filter?: string[]; since?: string }) => {
      const since = o.since === undefined ? undefined : relativeTime(o.since);
      for await (const env of client().stream('GET', '/v1/events', { query: { topic: o.filter, since } })) {
        process.stdout.write(`${JSON.stringify(env)}\n`);
      }
    });

  registerContainerCommands(program, client);
  registerImageCommands(program, client);
  registerLoginCommands(program, client);
  registerVolumeCommands(program, client);
  registerNetworkCommands(program, client);
  registerPruneCommands(program, client);
  registerStatsCommand(program, client);
  registerDashboardCommands(program, client);
  registerComposeCommands(program);
  registerProjectCommands(program, client);
  return program;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The agent config file's sections (src/agent/config.ts CONFIG_SECTIONS; a test keeps them in step). */
export const AGENT_CONFIG_SECTIONS = [
  'metrics',
  'logs',
  'haproxy',
  'dns',
  'discovery',
  'consulClient',
  'dashboard',
] as const;

/** A config row as a commander option: `stateRoot` → `--state-root <value>`, its default and env in the help. */
export function agentFlag(row: ConfigRow): [flags: string, description: string] {
  const flag = row.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const def = Array.isArray(row.default) ? row.default.join(',') : row.default;
  const extra = [
    row.values ? `one of ${row.values.join(', ')}` : '',
    def !== null && def !== undefined && def !== '' ? `default ${String(def)}` : '',
    row.env ? `env ${row.env}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return [`--${flag} <value>`, `${row.description}${extra ? ` (${extra})` : ''}`];
}
