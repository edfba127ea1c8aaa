import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { report } from '../format.js';
import { pruneVolumes } from './volumes.js';

type Removed = { removed: string[] };

/**
 * `berth tag`, and the clean-up verbs as Docker spells them: `container
 * prune` (every container that is not running), `image prune [-a]` (untagged
 * images, or every image no container uses), `system prune [-a] [--volumes]`
 * (all of these; volumes only when asked). No prompt: they remove only what
 * nothing uses, and say what they removed.
 */
export function registerPruneCommands(program: Command, client: () => ApiClient): void {
  program
    .command('tag')
    .description('give an image another name (SOURCE: a reference or id)')
    .argument('<source>')
    .argument('<target>')
    .action(async (source: string, target: string) => {
      await client().json('POST', '/v1/images/tag', { query: { source, target } });
    });

  const pruneContainers = async () => {
    const { removed } = await client().json<Removed>('POST', '/v1/containers/prune');
    report('container', removed, removed.length);
  };
  const pruneImages = async (all: boolean) => {
    // rmi's own lines (Untagged: …, Deleted: sha256:…); an image counts once it is deleted.
    const { removed } = await client().json<Removed>('POST', '/v1/images/prune', { query: { all } });
    report('image', removed, removed.filter((l) => l.startsWith('Deleted: ')).length);
  };
  program
    .command('container')
    .description('container housekeeping (prune)')
    .command('prune')
    .description('remove every container that is not running')
    .action(pruneContainers);

  program
    .command('image')
    .description('image housekeeping (prune)')
    .command('prune')
    .description('remove untagged images no container uses (-a: every image no container uses)')
    .option('-a, --all', 'also tagged images no container uses')
    .action((o: { all?: boolean }) => pruneImages(o.all === true));

  program
    .command('system')
    .description('whole-host housekeeping (prune)')
    .command('prune')
    .description('container prune, then image prune; with --volumes, volume prune too')
    .option('-a, --all', 'also tagged images no container uses')
    .option('--volumes', 'also remove volumes no container mounts')
    .action(async (o: { all?: boolean; volumes?: boolean }) => {
      await pruneContainers();
      await pruneImages(o.all === true);
      if (o.volumes) await pruneVolumes(client());
    });
}
