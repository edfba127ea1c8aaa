/**
 * Reading berth's Grafana dashboards the way the tests need them: the files,
 * their panels (also those nested in collapsed rows), every target's PromQL,
 * and Grafana's variable substitution done the way a test can run it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const DASHBOARDS_DIR = fileURLToPath(new URL('../../../dashboards/', import.meta.url));

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: unknown;
  legendFormat?: string;
}

export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: unknown;
  targets?: Target[];
  gridPos?: { h: number; w: number; x: number; y: number };
  panels?: Panel[];
}

export interface Variable {
  name: string;
  type: string;
  query?: unknown;
  datasource?: unknown;
}

export interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

export interface DashboardFile {
  file: string;
  json: Dashboard;
}

/** One target of one panel: what the panel test runs. */
export interface PanelQuery {
  dashboard: string;
  panelId: number | undefined;
  panel: string;
  refId: string;
  expr: string;
}

export async function loadDashboards(): Promise<DashboardFile[]> {
  const files = (await readdir(DASHBOARDS_DIR)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      file,
      json: JSON.parse(await readFile(`${DASHBOARDS_DIR}${file}`, 'utf8')) as Dashboard,
    })),
  );
}

/** Every panel, rows' nested panels included, rows themselves included. */
export function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

export function panelQueries(f: DashboardFile): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const p of allPanels(f.json)) {
    for (const t of p.targets ?? []) {
      out.push({
        dashboard: f.file,
        panelId: p.id,
        panel: p.title ?? '(untitled)',
        refId: t.refId ?? '?',
        expr: t.expr ?? '',
      });
    }
  }
  return out;
}

/** Grafana's interval variables, at values that suit a Prometheus scraping every second for a minute. */
const BUILTINS: Record<string, string> = {
  __rate_interval: '30s',
  __interval: '5s',
  __range: '5m',
  __range_s: '300',
};

/**
 * Substitutes Grafana variables as Grafana would with "All" selected:
 * the dashboard's own variables become `.*` (their allValue), the interval
 * built-ins get fixed values. Both `$name` and `${name}` forms.
 */
export function substitute(expr: string): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    return BUILTINS[name] ?? '.*';
  });
}

/** Metric names a query reads (the families berth, cAdvisor and HAProxy export). */
export function metricNames(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:berth|container|machine|haproxy)_[a-zA-Z0-9_:]*/g) ?? [])].sort();
}
