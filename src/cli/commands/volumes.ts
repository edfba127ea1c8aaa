import type { Command } from 'commander';
import type { VolumeSummary } from '../../../runtime/runtime.js';
import type { ApiClient } from '../client.js';
import { forEachName } from '../each.js';
import { ago, report, table } from '../format.js';

/** `berth volume ls|create|inspect|rm|prune`, as `docker volume`. */
export function registerVolumeCommands(program: Command, client: () => ApiClient): void {
  const volume = program
    .command('volume')
    .description('manage named volumes (ls, create, inspect, rm, prune)');

  volume
    .command('ls')
    .description('list volumes and the containers that mount them')
    .option('-q, --quiet', 'print names only')
    .option('--format <fmt>', 'json for one JSON array')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const list = await client().json<VolumeSummary[]>('GET', '/v1/volumes');
      if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(list)}\n`);
      if (o.quiet) return void process.stdout.write(list.map((v) => `${v.name}\n`).join(''));
      const rows = list.map((v) => [
        v.name,
        v.anonymous ? 'anonymous' : 'named',
        ago(v.createdAt),
        v.usedBy.join(',') || '-',
      ]);
      process.stdout.write(table(['VOLUME NAME', 'KIND', 'CREATED', 'USED BY'], rows));
    });

  volume
    .command('create')
    .description('create a named volume (nothing happens if it exists)')
    .argument('<name>')
    .action(async (name: string) => {
      const v = await client().json<VolumeSummary>('POST', '/v1/volumes', { body: { name } });
      process.stdout.write(`${v.name}\n`);
    });

  volume
    .command('inspect')
    .description('show volumes as JSON (mountpoint, creation time, users)')
    .argument('<name...>')
    .action(async (names: string[]) => {
      const out = await forEachName(names, (n) =>
        client().json<VolumeSummary>('GET', `/v1/volumes/${encodeURIComponent(n)}`),
      );
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  volume
    .command('rm')
    .description('remove volumes and their data; a volume a container mounts is refused')
    .argument('<name...>')
    .action(async (names: string[]) => {
      await forEachName(names, async (n) => {
        await client().json('DELETE', `/v1/volumes/${encodeURIComponent(n)}`);
        process.stdout.write(`${n}\n`);
      });
    });

  volume
    .command('prune')
    .description('remove every volume no container mounts, with its data')
    .action(() => pruneVolumes(client()));
}

/** `volume prune` (and `system prune --volumes`): removes the volumes no container mounts, says which. */
export async function pruneVolumes(api: ApiClient): Promise<void> {
  const { removed } = await api.json<{ removed: string[] }>('POST', '/v1/volumes/prune');
  report(
    'volume',
    removed.map((n) => `Deleted: ${n}`),
    removed.length,
  );
}
