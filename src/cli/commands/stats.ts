import type { Command } from 'commander';
import type { ContainerStats, StatsReply } from '../../../sidecar/metrics/stats.js';
import type { ApiClient } from '../client.js';
import { humanSize, table } from '../format.js';

/**
 * `berth stats`: CPU, memory, network, block I/O and pids of running
 * containers, from the agent's cgroup readers (the ones behind /metrics).
 * CPU % is the CPU time used between two reads a second apart, per core as
 * Docker counts it (two busy cores: 200 %). Refreshes every second until
 * Ctrl-C; --no-stream prints one table.
 */
export function registerStatsCommand(program: Command, client: () => ApiClient): void {
  program
    .command('stats')
    .description('live CPU, memory, network, block I/O and pids of running containers (all, or those named)')
    .argument('[container...]')
    .option('--no-stream', 'print one table and exit')
    .action(async (names: string[], o: { stream: boolean }) => {
      const read = () => client().json<StatsReply>('GET', '/v1/stats', { query: { name: names } });
      let before = await read();
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        const now = await read();
        const text = render(before.containers, now.containers);
        if (o.stream && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        process.stdout.write(text);
        before = now;
        if (!o.stream) break;
      }
      const { missing } = before;
      if (missing.length > 0) {
        process.stderr.write(`berth: not running or no such container: ${missing.join(', ')}\n`);
        process.exitCode = 125;
      }
    });
}

export function render(before: ContainerStats[], now: ContainerStats[]): string {
  const rows = now.map((s) => {
    const prev = before.find((b) => b.id === s.id);
    const seconds = prev ? (s.at - prev.at) / 1000 : 0;
    const cpu =
      prev?.cpuSeconds !== undefined && s.cpuSeconds !== undefined && seconds > 0
        ? `${((100 * (s.cpuSeconds - prev.cpuSeconds)) / seconds).toFixed(2)}%`
        : '--';
    const used = s.memory.workingSet ?? s.memory.usage;
    const mem = used === undefined ? '--' : `${humanSize(used)} / ${humanSize(s.memory.limit)}`;
    const memPct = used === undefined ? '--' : `${((100 * used) / s.memory.limit).toFixed(2)}%`;
    const net = s.net ? `${humanSize(s.net.rxBytes)} / ${humanSize(s.net.txBytes)}` : '--';
    const block = `${humanSize(s.block.readBytes)} / ${humanSize(s.block.writeBytes)}`;
    return [s.id.slice(0, 12), s.name, cpu, mem, memPct, net, block, String(s.pids.current ?? '--')];
  });
  return table(
    ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'],
    rows,
  );
}
