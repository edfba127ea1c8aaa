/**
 * The documented order (src/README.md): flags, then environment, then the file, then defaults —
 * for the sections' options too, whose env variables once ranked below the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadAgentConfig } from '../../../src/agent/config.js';

describe('section options from the environment', () => {
  it('rank above the config file and below flags, in every section', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-secenv-'));
    try {
      const file = join(dir, 'agent.json');
      writeFileSync(
        file,
        JSON.stringify({
          dashboard: { listen: '127.0.0.4:7000' },
          logs: { servers: '127.0.0.1:24224' },
          metrics: { roots: '/proc:/sys:/sys/fs/cgroup' },
        }),
      );
      const env = {
        BERTH_DASHBOARD: '127.0.0.2:7081',
        BERTH_LOGS_SERVERS: '127.0.0.1:24999',
        BERTH_METRICS_ROOTS: '/host/proc:/host/sys:/host/sys/fs/cgroup',
      };
      const fileOnly = await loadAgentConfig({ config: file }, {});
      assert.equal(fileOnly.dashboard.listen, '127.0.0.4:7000');
      assert.equal(fileOnly.sections.logs?.servers, '127.0.0.1:24224');
      const withEnv = await loadAgentConfig({ config: file }, env);
      assert.equal(withEnv.dashboard.listen, '127.0.0.2:7081');
      assert.equal(withEnv.sections.logs?.servers, '127.0.0.1:24999');
      assert.equal(withEnv.sections.metrics?.roots, '/host/proc:/host/sys:/host/sys/fs/cgroup');
      const withFlag = await loadAgentConfig({ config: file, dashboard: '127.0.0.3:7082' }, env);
      assert.equal(withFlag.dashboard.listen, '127.0.0.3:7082');
      // An env value is checked like a file's, naming the option.
      await assert.rejects(
        loadAgentConfig({ config: file }, { BERTH_DASHBOARD: 'nowhere' }),
        /dashboard\.listen/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
