import { type Command, Option } from 'commander';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import { DEFAULT_COMPOSE_FILES, findComposeFile } from '../../compose/find.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * `berth config`: loads a Compose project on this machine, as `docker compose config` does
 * (the files are the client's), and prints the normalized model berth would run, or the first
 * problem as `file:line:col: key: reason`. Needs no agent.
 */
export function registerComposeCommands(program: Command): void {
  program
    .command('config')
    .description(
      'validate Compose files and print the normalized project berth would run (no agent needed); errors name file:line:col and the key',
    )
    .option(
      '-f, --file <file>',
      'Compose file (repeatable, merged in order; default compose.yaml here or above)',
      collect,
    )
    .option(
      '-p, --project <name>',
      'project name (default: name:, COMPOSE_PROJECT_NAME or the directory), as the other project verbs take it',
    )
    // `docker compose config --project-name` spelling, kept so scripts written for it work.
    .addOption(new Option('--project-name <name>').hideHelp())
    .option(
      '--project-directory <dir>',
      'where relative paths and .env are found (default: the first file’s directory)',
    )
    .option(
      '--env-file <file>',
      'environment file for interpolation instead of the project’s .env (repeatable)',
      collect,
    )
    .option('--profile <name>', 'enable a profile (repeatable; default COMPOSE_PROFILES)', collect)
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('--services', 'print the service names, one a line')
    .option('-q, --quiet', 'only validate: print nothing, exit 0 when the project is valid')
    .action(
      async (o: {
        file?: string[];
        project?: string;
        projectName?: string;
        projectDirectory?: string;
        envFile?: string[];
        profile?: string[];
        format: string;
        services?: boolean;
        quiet?: boolean;
      }) => {
        if (o.format !== 'yaml' && o.format !== 'json') {
          throw new InvalidArgumentError(`--format: "${o.format}" is not yaml or json`, { field: 'format' });
        }
        const files = o.file ?? [findComposeFile(process.cwd()) ?? ''];
        if (files[0] === '') {
          throw new InvalidArgumentError(
            `no Compose file: none of ${DEFAULT_COMPOSE_FILES.join(', ')} here or above; name one with -f`,
            { field: 'file' },
          );
        }
        // Loaded only by this verb: `berth run` and the others never pay for the Compose loader.
        const { loadProject } = await import('../../compose/loader.js');
        const project = loadProject({
          files,
          ...(o.projectDirectory ? { projectDir: o.projectDirectory } : {}),
          ...(o.envFile ? { envFiles: o.envFile } : {}),
          ...(o.profile ? { profiles: o.profile } : {}),
          ...((o.project ?? o.projectName) ? { projectName: o.project ?? o.projectName } : {}),
        });
        if (o.quiet) return;
        if (o.services) {
          process.stdout.write(`${Object.keys(project.services).join('\n')}\n`);
          return;
        }
        if (o.format === 'json') process.stdout.write(`${JSON.stringify(project, null, 2)}\n`);
        else process.stdout.write((await import('yaml')).stringify(project));
      },
    );
}
