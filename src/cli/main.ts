import { Command, CommanderError } from 'commander';
import { AGENT_CONFIG } from '../agent/config.js';
import { errorCode, messageOf } from '../common/errors.js';
import { VERSION } from '../version.js';
import { ApiClient } from './client.js';
import { registerContainerCommands } from './commands/containers.js';
import { registerImageCommands } from './commands/images.js';
import { nameFlagInMessage } from './run-request.js';

/**
 * The `berth` CLI. Every verb's implementation is imported lazily so that a
 * short command (`berth ps`) loads only what it needs: CLI start-up time is
 * part of every `berth run`.
 */
export function buildCli(): Command {
  const program = new Command('berth')
    .description('berth: a per-host container agent (runtime, metrics, logs, discovery, DNS, HAProxy)')
    .version(VERSION, '-v, --version', 'print the berth version')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`berth: ${str.replace(/^error: /, '')}`) });

  program
    .command('version')
    .description('print the berth version, Node.js version and platform')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const info = { berth: VERSION, node: process.version, platform: `${process.platform}/${process.arch}` };
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(info)}\n`
          : `berth ${info.berth} (node ${info.node}, ${info.platform})\n`,
      );
    });

  const agent = program
    .command('agent')
    .description(
      'run the berth agent in the foreground (the daemon every other verb talks to); containers outlive it',
    )
    .option('--config <file>', 'agent config file (JSON with the keys below in camelCase)');
  // One flag per config row, so --help, the config file and the docs agree.
  for (const row of AGENT_CONFIG) {
    const flag = row.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const extra = [
      row.values ? `one of ${row.values.join(', ')}` : '',
      row.default !== null && row.default !== undefined ? `default ${String(row.default)}` : '',
      row.env ? `env ${row.env}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    agent.option(`--${flag} <value>`, `${row.description}${extra ? ` (${extra})` : ''}`);
  }
  agent.action(async (opts: Record<string, string | undefined>) => {
    const { runAgent } = await import('../agent/run.js');
    await runAgent(opts);
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
    .action(async (o: { filter?: string[] }) => {
      for await (const env of client().stream('GET', '/v1/events', { query: { topic: o.filter } })) {
        process.stdout.write(`${JSON.stringify(env)}\n`);
      }
    });

  registerContainerCommands(program, client);
  registerImageCommands(program, client);
  return program;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
let sharedClient: ApiClient | undefined;
const client = () => {
  sharedClient ??= new ApiClient();
  return sharedClient;
};

export async function main(argv: string[]): Promise<number> {
  const program = buildCli().exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    // Verbs that mirror a container's exit (run, exec, wait) set process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit with 0 and have already printed.
      return err.exitCode;
    }
    const msg = errorCode(err) === 'InvalidArgument' ? nameFlagInMessage(messageOf(err)) : messageOf(err);
    process.stderr.write(`berth: ${msg}\n`);
    return 125;
  }
}
