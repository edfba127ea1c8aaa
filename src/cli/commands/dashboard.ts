import type { Command } from 'commander';
import type { ApiClient } from '../client.js';

/**
 * The dashboard's flags on `berth agent` (`--dashboard ADDR:PORT`,
 * `--no-dashboard`: the config file's `dashboard` section otherwise, see
 * src/api/README.md) and `berth dashboard-url`, which asks the agent for a
 * fresh one-time login URL for an operator who missed the printed one.
 */
export function registerDashboardCommands(program: Command, client: () => ApiClient): void {
  program.commands
    .find((c) => c.name() === 'agent')
    ?.option(
      '--dashboard <addr>',
      'ADDR:PORT of the web dashboard (default 127.0.0.1:7080; env BERTH_DASHBOARD; config dashboard.listen); not loopback only with the API TLS',
    )
    .option('--no-dashboard', 'serve no web dashboard (config dashboard.enabled: false)');
  program
    .command('dashboard-url')
    .description(
      'print a fresh one-time login URL for the web dashboard (good once, for dashboard.loginTtl; needs the API socket)',
    )
    .option('--json', 'print {"url", "expiresAt"} as JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await client().json<{ url: string; expiresAt: string }>('POST', '/v1/dashboard/login');
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `${r.url}\n`);
      if (!o.json) process.stderr.write(`good once, until ${r.expiresAt}\n`);
    });
}
