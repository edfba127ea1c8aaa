import type { Command } from 'commander';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import type { NetworkInfo } from '../../../runtime/network/types.js';
import type { ApiClient } from '../client.js';
import { forEachName } from '../each.js';
import { ago, report, table } from '../format.js';

type Shown = Omit<NetworkInfo, 'containers'> & {
  containers: Array<{ id: string; name?: string; address?: string; aliases: string[] }>;
};

const collect = (v: string, prev: string[] = []) => [...prev, v];
const path = (name: string, verb = '') => `/v1/networks/${encodeURIComponent(name)}${verb}`;

/** `berth network create|ls|inspect|rm|connect|disconnect|prune`, as `docker network`. */
export function registerNetworkCommands(program: Command, client: () => ApiClient): void {
  const network = program
    .command('network')
    .description('manage user-defined bridge networks (create, ls, inspect, rm, connect, disconnect, prune)');

  network
    .command('create')
    .description('create a bridge network with its own subnet, isolated from the other networks')
    .argument('<name>')
    .option('--subnet <cidr>', 'IPv4 subnet (default: the next free /24 of the pool, 10.89.0.0/16)')
    .option('--gateway <ip>', 'gateway address in the subnet (default: its first address)')
    .option('--label <key=value>', 'set a label (repeatable)', collect)
    .option('--internal', 'no traffic in or out of the network, only between its containers')
    .action(
      async (
        name: string,
        o: { subnet?: string; gateway?: string; label?: string[]; internal?: boolean },
      ) => {
        const body = {
          name,
          ...(o.subnet !== undefined ? { subnet: o.subnet } : {}),
          ...(o.gateway !== undefined ? { gateway: o.gateway } : {}),
          ...(o.internal ? { internal: true } : {}),
          ...(o.label ? { labels: labels(o.label) } : {}),
        };
        const n = await client().json<Shown>('POST', '/v1/networks', { body });
        process.stdout.write(`${n.name}\n`);
      },
    );

  network
    .command('ls')
    .description('list networks (the default network bridge first) and their containers')
    .option('-q, --quiet', 'print names only')
    .option('--format <fmt>', 'json for one JSON array')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      if (o.format !== undefined && o.format !== 'json')
        throw new InvalidArgumentError(`--format: only json is supported, got ${JSON.stringify(o.format)}`, {
          field: 'format',
        });
      const list = await client().json<Shown[]>('GET', '/v1/networks');
      if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(list)}\n`);
      if (o.quiet) return void process.stdout.write(list.map((n) => `${n.name}\n`).join(''));
      const rows = list.map((n) => [
        n.name,
        n.bridge,
        n.subnet,
        n.internal ? 'internal' : n.builtin ? 'default' : 'bridge',
        n.createdAt ? ago(n.createdAt) : '-',
        n.containers.map((c) => c.name ?? c.id.slice(0, 12)).join(',') || '-',
      ]);
      process.stdout.write(table(['NETWORK', 'BRIDGE', 'SUBNET', 'KIND', 'CREATED', 'CONTAINERS'], rows));
    });

  network
    .command('inspect')
    .description('show networks as JSON (subnet, gateway, labels, running containers with their addresses)')
    .argument('<name...>')
    .action(async (names: string[]) => {
      const out = await forEachName(names, (n) => client().json<Shown>('GET', path(n)));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  network
    .command('rm')
    .description('remove networks; one with running containers on it is refused, naming them')
    .argument('<name...>')
    .action(async (names: string[]) => {
      await forEachName(names, async (n) => {
        await client().json('DELETE', path(n));
        process.stdout.write(`${n}\n`);
      });
    });

  network
    .command('connect')
    .description('join a container to a network (at once when it runs; kept for its next starts)')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <name>', 'another DNS name of the container on this network (repeatable)', collect)
    .action(async (name: string, container: string, o: { alias?: string[] }) => {
      await client().json('POST', path(name, '/connect'), {
        body: { container, ...(o.alias ? { aliases: o.alias } : {}) },
      });
    });

  network
    .command('disconnect')
    .description('take a container off a network')
    .argument('<network>')
    .argument('<container>')
    .action(async (name: string, container: string) => {
      await client().json('POST', path(name, '/disconnect'), { body: { container } });
    });

  network
    .command('prune')
    .description('remove every user-defined network no running container is on')
    .action(async () => {
      const { removed } = await client().json<{ removed: string[] }>('POST', '/v1/networks/prune');
      report(
        'network',
        removed.map((n) => `Deleted: ${n}`),
        removed.length,
      );
    });
}

/** `--label k=v` values as an object; a value without `=` is refused naming the flag. */
function labels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0)
      throw new InvalidArgumentError(`--label: ${JSON.stringify(kv)} is not KEY=VALUE`, { field: 'labels' });
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}
