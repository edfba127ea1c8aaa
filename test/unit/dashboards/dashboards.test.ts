/**
 * The dashboards' structure as Grafana and an operator importing them need
 * it: one templated Prometheus data source and no data source uids, stable
 * dashboard uids, unique panel ids, a PromQL query on every target that
 * Prometheus' own parser accepts, every metric documented, and provisioning
 * files Grafana can read.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parse } from 'yaml';
import {
  allPanels,
  DASHBOARDS_DIR,
  type DashboardFile,
  loadDashboards,
  metricNames,
  panelQueries,
  substitute,
} from './dashboard-file.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, meant literally
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const SLUG = /^[a-z0-9][a-z0-9-]*$/;

let dashboards: DashboardFile[];

before(async () => {
  dashboards = await loadDashboards();
});

describe('dashboards/*.json', () => {
  test('the four dashboards are there, with distinct stable uids and titles', () => {
    assert.deepEqual(
      dashboards.map((d) => d.file),
      ['berth-deploy.json', 'berth-discovery.json', 'berth-logs.json', 'berth-overview.json'],
    );
    const uids = dashboards.map((d) => d.json.uid);
    for (const u of uids) assert.match(String(u), SLUG, `uid ${u} is not a stable slug`);
    assert.equal(new Set(uids).size, uids.length, `duplicate uids: ${uids.join(', ')}`);
    const titles = dashboards.map((d) => d.json.title);
    assert.equal(new Set(titles).size, titles.length);
  });

  test('schemaVersion is current (39 or later)', () => {
    for (const d of dashboards)
      assert.ok((d.json.schemaVersion ?? 0) >= 39, `${d.file}: ${d.json.schemaVersion}`);
  });

  test('the data source is a Prometheus-typed template variable named datasource', () => {
    for (const d of dashboards) {
      const v = d.json.templating?.list?.find((x) => x.name === 'datasource');
      assert.ok(v, `${d.file}: no datasource variable`);
      assert.equal(v.type, 'datasource', d.file);
      assert.equal(v.query, 'prometheus', d.file);
      for (const q of d.json.templating?.list ?? []) {
        if (q.type === 'query') assert.deepEqual(q.datasource, DATASOURCE, `${d.file}: variable ${q.name}`);
      }
    }
  });

  test('every panel and target uses the datasource variable; rows have no queries', () => {
    for (const d of dashboards) {
      for (const p of allPanels(d.json)) {
        const where = `${d.file}: panel ${p.id} "${p.title}"`;
        if (p.type === 'row') {
          assert.equal(p.targets, undefined, `${where}: a row has targets`);
          continue;
        }
        assert.deepEqual(p.datasource, DATASOURCE, where);
        assert.ok((p.targets ?? []).length > 0, `${where}: no targets`);
        for (const t of p.targets ?? [])
          assert.deepEqual(t.datasource, DATASOURCE, `${where} target ${t.refId}`);
      }
    }
  });

  test('no uid literal anywhere but the dashboard uid itself', () => {
    for (const d of dashboards) {
      const found: string[] = [];
      const walk = (v: unknown, path: string) => {
        if (Array.isArray(v)) {
          for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
        } else if (v && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            if (k === 'uid' && path !== '' && x !== DATASOURCE.uid) found.push(`${path}.uid=${String(x)}`);
            walk(x, `${path}.${k}`);
          }
        }
      };
      walk(d.json, '');
      assert.deepEqual(found, [], `${d.file}: uid literals`);
      assert.doesNotMatch(
        JSON.stringify(d.json),
        /"datasource":\s*"/,
        `${d.file}: a datasource given by name`,
      );
    }
  });

  test('panel ids are unique per dashboard and panels fit the 24-column grid without overlapping', () => {
    for (const d of dashboards) {
      const panels = allPanels(d.json);
      const ids = panels.map((p) => p.id);
      for (const id of ids) assert.ok(Number.isInteger(id), `${d.file}: panel without an integer id`);
      assert.equal(new Set(ids).size, ids.length, `${d.file}: duplicate panel ids`);
      const cells = new Map<string, number | undefined>();
      for (const p of panels) {
        const g = p.gridPos;
        assert.ok(g, `${d.file}: panel ${p.id} has no gridPos`);
        assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${d.file}: panel ${p.id} outside the grid`);
        for (let x: number = g.x; x < g.x + g.w; x++) {
          for (let y: number = g.y; y < g.y + g.h; y++) {
            const other = cells.get(`${x},${y}`);
            assert.equal(other, undefined, `${d.file}: panels ${other} and ${p.id} overlap at ${x},${y}`);
            cells.set(`${x},${y}`, p.id);
          }
        }
      }
    }
  });

  test('every target has an expr and a refId unique within its panel', () => {
    for (const d of dashboards) {
      for (const p of allPanels(d.json)) {
        const refs = (p.targets ?? []).map((t) => t.refId);
        assert.equal(new Set(refs).size, refs.length, `${d.file}: panel ${p.id} repeats a refId`);
        for (const t of p.targets ?? []) {
          assert.ok(
            typeof t.expr === 'string' && t.expr.trim() !== '',
            `${d.file}: panel ${p.id} ${t.refId}`,
          );
        }
      }
    }
  });

  test("every query, variables substituted, parses with Prometheus' own parser (promtool)", async () => {
    const queries = dashboards.flatMap(panelQueries);
    const rules = {
      groups: [
        {
          name: 'dashboards',
          rules: queries.map((q, i) => ({ record: `dashboard:query:${i}`, expr: substitute(q.expr) })),
        },
      ],
    };
    const dir = await mkdtemp(join(tmpdir(), 'berth-dashboards-'));
    try {
      const file = join(dir, 'rules.json');
      // JSON is YAML: promtool reads it as a rules file.
      await writeFile(file, JSON.stringify(rules));
      const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, `promtool rejected a query:\n${r.stdout}${r.stderr}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('substitution leaves no Grafana variable behind', () => {
    for (const q of dashboards.flatMap(panelQueries)) {
      assert.doesNotMatch(substitute(q.expr), /\$/, `${q.dashboard} ${q.panel}`);
    }
  });

  test('every metric a dashboard reads is in the metric contract of dashboards/README.md', async () => {
    const readme = await readFile(`${DASHBOARDS_DIR}README.md`, 'utf8');
    const missing = new Set<string>();
    for (const q of dashboards.flatMap(panelQueries)) {
      for (const m of metricNames(q.expr)) if (!readme.includes(`\`${m}\``)) missing.add(m);
    }
    assert.deepEqual([...missing], [], 'metrics queried but not documented');
  });
});

describe('dashboards/provisioning', () => {
  test('dashboards.yaml: a file provider Grafana can load', async () => {
    const y = parse(await readFile(`${DASHBOARDS_DIR}provisioning/dashboards.yaml`, 'utf8')) as {
      apiVersion: number;
      providers: Array<{ name: string; type: string; options: { path: string } }>;
    };
    assert.equal(y.apiVersion, 1);
    assert.equal(y.providers.length, 1);
    const p = y.providers[0];
    assert.equal(p?.type, 'file');
    assert.ok(p?.options.path.startsWith('/'), 'provider path must be absolute');
  });

  test('datasources.yaml: one default Prometheus data source, no uid for dashboards to depend on', async () => {
    const y = parse(await readFile(`${DASHBOARDS_DIR}provisioning/datasources.yaml`, 'utf8')) as {
      apiVersion: number;
      datasources: Array<{ type: string; url: string; isDefault: boolean; uid?: string }>;
    };
    assert.equal(y.apiVersion, 1);
    assert.equal(y.datasources.length, 1);
    const ds = y.datasources[0];
    assert.equal(ds?.type, 'prometheus');
    assert.equal(ds?.isDefault, true);
    assert.match(String(ds?.url), /^https?:\/\//);
  });
});
