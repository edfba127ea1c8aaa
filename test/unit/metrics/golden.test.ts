import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { MetricsCollector } from '../../../sidecar/metrics/collector.js';
import { MetricsServer } from '../../../sidecar/metrics/server.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { FIXED_NOW, FIXTURES, fixtureContainers, fixtureRoots } from './fixture-source.js';

/**
 * Fixture roots → MetricsServer over real HTTP → diff against the expected
 * file. Regenerate with `BERTH_UPDATE_GOLDEN=1 bash test/run.sh test/unit/metrics/golden.test.ts`.
 */

const VARYING_VALUE =
  /^(berth_metrics_collector_duration_seconds|berth_metrics_scrape_duration_seconds)(\{[^}]*\})? /;
const PROCESS_METRICS = /^(# (HELP|TYPE) )?berth_(process|nodejs)_/;

/** Drops the agent's own process metrics and masks durations: everything else must match exactly. */
export function stable(body: string): string {
  return body
    .split('\n')
    .filter((l) => !PROCESS_METRICS.test(l))
    .map((l) => {
      const m = VARYING_VALUE.exec(l);
      return m ? `${m[0]}<varies>` : l;
    })
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
}

for (const version of ['v1', 'v2'] as const) {
  describe(`golden /metrics from the ${version} fixture`, () => {
    let server: MetricsServer;
    let url: string;

    before(async () => {
      const collector = new MetricsCollector({
        source: new FakeContainerSource(fixtureContainers()),
        roots: fixtureRoots(version),
        logger: silentLogger(),
        labelsAllowlist: ['com.docker.compose.service'],
        now: () => FIXED_NOW,
      });
      server = new MetricsServer({ collector, logger: silentLogger(), host: '127.0.0.1', port: 0 });
      const { port } = await server.start();
      url = `http://127.0.0.1:${port}/metrics`;
    });

    after(async () => {
      await server?.stop();
    });

    test('matches the expected exposition', async () => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      const got = stable(await res.text());
      const file = `${FIXTURES}expected-${version}.prom`;
      if (process.env.BERTH_UPDATE_GOLDEN === '1') await writeFile(file, got);
      const want = await readFile(file, 'utf8');
      assert.equal(
        got,
        want,
        `${file} differs; regenerate with BERTH_UPDATE_GOLDEN=1 if the change is intended`,
      );
    });

    test("Prometheus's promtool parses it; its only lint findings are names inherited from cAdvisor and prom-client", async () => {
      const body = await (await fetch(url)).text();
      const r = spawnSync('promtool', ['check', 'metrics'], {
        input: body,
        encoding: 'utf8',
        timeout: 10_000,
      });
      assert.equal(r.error, undefined);
      const findings = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
      const inherited = [
        /^container_memory_failcnt counter metrics should have "_total" suffix$/,
        /^berth_nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/,
      ];
      for (const f of findings)
        assert.ok(
          inherited.some((re) => re.test(f)),
          `promtool: ${f}`,
        );
      // Exit 3 is "lint problems only"; a parse error is 1.
      assert.ok(r.status === 0 || r.status === 3, `promtool exited ${r.status}: ${r.stderr}`);
    });
  });
}
