import { ApiClient } from './client.js';
import { runContainer } from './commands/run.js';
import { cliError } from './errors.js';
import { parseRunArgv } from './run-flags.js';

/**
 * The `berth` CLI. Its start-up is part of every `berth run`, so this module
 * imports almost nothing: a plain `berth run` is parsed from the shared flag
 * table without commander, and commander (with every verb) is loaded only for
 * the other verbs, help and unusual spellings. The agent's config table is
 * loaded only for `agent` and `help`.
 */
export async function main(argv: string[]): Promise<number> {
  let sharedClient: ApiClient | undefined;
  const client = () => {
    sharedClient ??= new ApiClient();
    return sharedClient;
  };
  try {
    const run = parseRunArgv(argv);
    if (run) {
      await runContainer(client(), run.image, run.args, run.flags);
    } else {
      const code = await runCommander(argv, client);
      if (code !== undefined) return code;
    }
    // Verbs that mirror a container's exit (run, exec, wait) set process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const { line, exit } = cliError(err, { nameFlags: true });
    process.stderr.write(`${line}\n`);
    return exit;
  }
}

/** Parses and runs with commander; returns commander's exit code when it stopped early (help, usage errors). */
async function runCommander(argv: string[], client: () => ApiClient): Promise<number | undefined> {
  const [{ CommanderError }, { buildCli }] = await Promise.all([import('commander'), import('./program.js')]);
  const verb = argv.find((a) => !a.startsWith('-'));
  const agentConfig =
    verb === 'agent' || verb === 'help' ? (await import('../agent/config.js')).AGENT_CONFIG : undefined;
  const program = buildCli(client, agentConfig);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return undefined;
  } catch (err) {
    // help and version exit with 0 and have already printed; a usage error (unknown verb or flag, a
    // missing value) has printed its message and exits 125, as every other CLI error does (Docker's too).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 125;
    throw err;
  }
}
