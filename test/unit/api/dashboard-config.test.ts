import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadAgentConfig } from '../../../src/agent/config.js';
import { ApiClient } from '../../../src/cli/client.js';
import { buildCli } from '../../../src/cli/program.js';

describe('dashboard options', () => {
  it('defaults to 127.0.0.1:7080, on', async () => {
    const cfg = await loadAgentConfig({}, {});
    assert.equal(cfg.dashboard.enabled, true);
    assert.equal(cfg.dashboard.listen, '127.0.0.1:7080');
    assert.equal(cfg.dashboard.loginTtl, 15 * 60_000);
    assert.equal(cfg.dashboard.sessionTtl, 12 * 3_600_000);
  });

  it('takes --dashboard ADDR:PORT and --no-dashboard as commander parses them', async () => {
    const parse = async (argv: string[]) => {
      const cli = buildCli(() => new ApiClient(), []);
      let flags: Record<string, string | undefined> = {};
      const agent = cli.commands.find((c) => c.name() === 'agent');
      agent?.action((o: Record<string, string | undefined>) => {
        flags = o;
      });
      await cli.parseAsync(['node', 'berth', 'agent', ...argv]);
      return loadAgentConfig(flags, {});
    };
    assert.equal((await parse(['--dashboard', '127.0.0.1:9999'])).dashboard.listen, '127.0.0.1:9999');
    assert.equal((await parse(['--no-dashboard'])).dashboard.enabled, false);
    assert.equal((await parse([])).dashboard.enabled, true);
  });

  it('reads the config file section and BERTH_DASHBOARD, flags first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-dash-'));
    try {
      const file = join(dir, 'agent.json');
      writeFileSync(file, JSON.stringify({ dashboard: { enabled: false, sessionTtl: '1h' } }));
      const off = await loadAgentConfig({ config: file }, {});
      assert.equal(off.dashboard.enabled, false);
      assert.equal(off.dashboard.sessionTtl, 3_600_000);
      const env = await loadAgentConfig({}, { BERTH_DASHBOARD: '127.0.0.2:7081' });
      assert.equal(env.dashboard.listen, '127.0.0.2:7081');
      const flag = await loadAgentConfig(
        { dashboard: '127.0.0.3:7082' },
        { BERTH_DASHBOARD: '127.0.0.2:7081' },
      );
      assert.equal(flag.dashboard.listen, '127.0.0.3:7082');
      writeFileSync(file, JSON.stringify({ dashboard: { listn: 'x' } }));
      await assert.rejects(
        loadAgentConfig({ config: file }, {}),
        /dashboard\.listn.*dashboard\.listen|listn/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a non-loopback address without TLS and a bad address, naming the field', async () => {
    await assert.rejects(
      loadAgentConfig({ dashboard: '0.0.0.0:7080' }, {}),
      /dashboard\.listen: 0\.0\.0\.0 is not loopback: without TLS/,
    );
    await assert.rejects(loadAgentConfig({ dashboard: 'here' }, {}), /dashboard\.listen/);
    // Off, the address is not looked at.
    const dir = mkdtempSync(join(tmpdir(), 'berth-dash-'));
    try {
      const file = join(dir, 'agent.json');
      writeFileSync(file, JSON.stringify({ dashboard: { enabled: false, listen: '0.0.0.0:7080' } }));
      assert.equal((await loadAgentConfig({ config: file }, {})).dashboard.enabled, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
