/**
 * Every option table in the READMEs is rendered from the same config table
 * the agent validates with (the top-level options in src/README.md, each
 * config-file section in its sidecar's README); this keeps them in step.
 * Regenerate with BERTH_UPDATE_DOCS=1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ConfigTable, describeConfig, validateConfig } from '../../../runtime/base/config.js';
import { AGENT_CONFIG, CONFIG_SECTIONS, loadAgentConfig } from '../../../src/agent/config.js';
import { AGENT_CONFIG_SECTIONS, agentFlag, buildCli } from '../../../src/cli/program.js';

const root = new URL('../../../', import.meta.url);

/** Where each table is documented: README, markers, key prefix. */
const DOCS: Array<{ readme: string; marker: string; table: ConfigTable; prefix: string }> = [
  { readme: 'src/README.md', marker: 'agent-config', table: AGENT_CONFIG, prefix: '' },
  {
    readme: 'sidecar/metrics/README.md',
    marker: 'config:metrics',
    table: CONFIG_SECTIONS.metrics,
    prefix: 'metrics.',
  },
  { readme: 'sidecar/logs/README.md', marker: 'config:logs', table: CONFIG_SECTIONS.logs, prefix: 'logs.' },
  {
    readme: 'sidecar/haproxy/README.md',
    marker: 'config:haproxy',
    table: CONFIG_SECTIONS.haproxy,
    prefix: 'haproxy.',
  },
  { readme: 'sidecar/dns/README.md', marker: 'config:dns', table: CONFIG_SECTIONS.dns, prefix: 'dns.' },
  {
    readme: 'sidecar/discovery/README.md',
    marker: 'config:discovery',
    table: CONFIG_SECTIONS.discovery,
    prefix: 'discovery.',
  },
  {
    readme: 'sidecar/discovery/README.md',
    marker: 'config:consulClient',
    table: CONFIG_SECTIONS.consulClient,
    prefix: 'consulClient.',
  },
  {
    readme: 'src/api/README.md',
    marker: 'config:dashboard',
    table: CONFIG_SECTIONS.dashboard,
    prefix: 'dashboard.',
  },
];

/** Pads a markdown table's columns, as the READMEs keep them. */
function padTable(md: string): string {
  const rows = md.split('\n').map((l) =>
    l
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim()),
  );
  const widths = rows[0]?.map((_, i) => Math.max(3, ...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r, j) =>
      j === 1
        ? `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`
        : `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`,
    )
    .join('\n');
}

// The formatter pads markdown tables; compare cell contents only.
const cells = (t: string) => t.replace(/[ \t]*\|[ \t]*/g, '|').replace(/-{3,}/g, '---');

for (const d of DOCS) {
  test(`${d.readme} documents ${d.prefix || 'the agent'}* options as the config table does`, () => {
    const file = new URL(d.readme, root);
    const doc = readFileSync(file, 'utf8');
    const begin = `<!-- ${d.marker}:begin -->`;
    const end = `<!-- ${d.marker}:end -->`;
    const a = doc.indexOf(begin);
    const b = doc.indexOf(end);
    assert.ok(a >= 0 && b > a, `${d.readme} lacks the ${d.marker} markers`);
    const want = `${begin}\n${padTable(describeConfig(d.table, d.prefix))}\n${end}`;
    const have = doc.slice(a, b + end.length);
    if (process.env.BERTH_UPDATE_DOCS === '1' && cells(have) !== cells(want)) {
      writeFileSync(file, doc.slice(0, a) + want + doc.slice(b + end.length));
      return;
    }
    assert.equal(
      cells(have),
      cells(want),
      'run BERTH_UPDATE_DOCS=1 bash test/run.sh test/unit/agent to regenerate',
    );
  });
}

test('every config table: camelCase keys, defaults that pass their own row, unique keys and aliases', () => {
  for (const d of DOCS) {
    const names = new Set<string>();
    for (const row of d.table) {
      assert.match(row.key, /^[a-z][a-zA-Z0-9]*$/, `${d.prefix}${row.key}: keys are camelCase`);
      for (const n of [row.key, ...(row.aliases ?? [])]) {
        assert.ok(!names.has(n), `${d.prefix}${n} appears twice`);
        names.add(n);
      }
      assert.ok(row.description.length > 0, `${d.prefix}${row.key} has a description`);
    }
    // Every default goes through its row's coercion and range (validateConfig applies them all).
    const required = d.table.filter((r) => !('default' in r)).map((r) => r.key);
    assert.deepEqual(required, [], `${d.prefix}: no required keys, the agent runs on defaults`);
    assert.doesNotThrow(() => validateConfig(d.table, [], { prefix: d.prefix }), d.prefix);
  }
});

test('an unknown key in the agent config is rejected naming the nearest key', async () => {
  await assert.rejects(loadAgentConfig({ metricsListn: '127.0.0.1:1' }, {}), /metricsListn.*metricsListen/);
});

test('the TCP API needs a token', async () => {
  await assert.rejects(loadAgentConfig({ apiTcp: '127.0.0.1:7777' }, {}), /apiToken/);
});

test('apiTcp is host:port or [v6]:port; anything else is refused naming apiTcp and the reason', async () => {
  const token = { apiToken: 'secret' };
  assert.equal((await loadAgentConfig({ apiTcp: '[::1]:2375', ...token }, {})).apiTcp, '[::1]:2375');
  await assert.rejects(
    loadAgentConfig({ apiTcp: 'localhost', ...token }, {}),
    /apiTcp: "localhost" is not host:port \(.*e\.g\. 127\.0\.0\.1:2375\)/,
  );
  await assert.rejects(loadAgentConfig({ apiTcp: '127.0.0.1:99999', ...token }, {}), /apiTcp: .*99999/);
});

test('sidecar sections of the config file are checked by their own tables', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  try {
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ bridge: 'br9', metrics: { listen: '127.0.0.1:9' } }));
    const cfg = await loadAgentConfig({ config: file }, {});
    assert.equal(cfg.bridge, 'br9');
    assert.deepEqual(cfg.sections.metrics, { listen: '127.0.0.1:9' });
    writeFileSync(file, JSON.stringify({ metrics: 'yes' }));
    await assert.rejects(loadAgentConfig({ config: file }, {}), /metrics: must be an object/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dns, discovery and consulClient sections are typed from their tables, defaults from the rows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  try {
    const file = join(dir, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        dns: { tcpMaxConnections: 10, serviceTtl: '30s', answerCacheMaxBytes: '1m' },
        discovery: { drainTimeout: '500ms' },
        consulClient: { wait: '1m' },
      }),
    );
    const cfg = await loadAgentConfig({ config: file }, {});
    assert.equal(cfg.dns.tcpMaxConnections, 10);
    assert.equal(cfg.dns.serviceTtl, 30_000);
    assert.equal(cfg.dns.answerCacheMaxBytes, 1024 * 1024);
    assert.equal(cfg.dns.tcpMaxConnectionsPerClient, 16, 'a default from the table');
    assert.equal(cfg.discovery.drainTimeout, 500);
    assert.equal(cfg.discovery.eventBuffer, 10_000);
    assert.equal(cfg.consulClient.wait, 60_000);
    assert.equal(cfg.consulClient.checkTtl, 30_000);
    writeFileSync(file, JSON.stringify({ dns: { tcpMaxConection: 1 } }));
    await assert.rejects(
      loadAgentConfig({ config: file }, {}),
      /dns\.tcpMaxConection: unknown key \(did you mean dns\.tcpMaxConnections\?\)/,
    );
    writeFileSync(file, JSON.stringify({ consulClient: { wait: '11m' } }));
    await assert.rejects(loadAgentConfig({ config: file }, {}), /consulClient\.wait: must be at most 600000/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an old key spelling in a section is accepted, renamed, and reported once as deprecated', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  try {
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ logs: { max_line_bytes: '32k', poll_interval: '20ms', tag: 'x' } }));
    const cfg = await loadAgentConfig({ config: file }, {});
    assert.deepEqual(cfg.sections.logs, { maxLineBytes: '32k', pollInterval: '20ms', tag: 'x' });
    assert.deepEqual(cfg.deprecated, [
      'logs.max_line_bytes is deprecated: use logs.maxLineBytes',
      'logs.poll_interval is deprecated: use logs.pollInterval',
    ]);
    writeFileSync(file, JSON.stringify({ logs: { maxLineBytes: '32k' } }));
    assert.deepEqual((await loadAgentConfig({ config: file }, {})).deprecated, []);
    // A section is checked at load, before anything starts, with the sidecar's own messages.
    writeFileSync(file, JSON.stringify({ logs: { tls_ca: '/ca.pem' } }));
    await assert.rejects(loadAgentConfig({ config: file }, {}), /logs\.tlsCa: set logs\.tls: true/);
    // As before, the haproxy section is not looked at when HAProxy is off.
    writeFileSync(file, JSON.stringify({ haproxy: { bogus: 1 } }));
    await assert.rejects(loadAgentConfig({ config: file }, {}), /haproxy\.bogus: unknown key/);
    assert.deepEqual((await loadAgentConfig({ config: file, haproxy: 'off' }, {})).sections.haproxy, {
      bogus: 1,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('berth agent --help: one flag per row with its default and env, and the sections named', () => {
  assert.deepEqual([...AGENT_CONFIG_SECTIONS], Object.keys(CONFIG_SECTIONS));
  const agent = buildCli(() => assert.fail('no API call'), AGENT_CONFIG).commands.find(
    (c) => c.name() === 'agent',
  );
  assert.ok(agent);
  const options = new Map(agent.options.map((o) => [o.flags, o.description]));
  for (const row of AGENT_CONFIG as ConfigTable) {
    const flag = `--${row.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} <value>`;
    assert.ok(options.has(flag), `${flag} missing from agent --help`);
    if (row.env) assert.match(options.get(flag) ?? '', new RegExp(`env ${row.env}\\)$`), flag);
  }
  assert.deepEqual(agentFlag(AGENT_CONFIG.find((r) => r.key === 'stopTimeout') ?? assert.fail()), [
    '--stop-timeout <value>',
    'default grace period between the stop signal and SIGKILL (default 10s)',
  ]);
  assert.match(
    agentFlag(AGENT_CONFIG.find((r) => r.key === 'dnsListen') ?? assert.fail())[1],
    /default 127\.0\.0\.1:53;/,
  );
  assert.doesNotMatch(
    agentFlag(AGENT_CONFIG.find((r) => r.key === 'fluentd') ?? assert.fail())[1],
    /default/,
  );
  assert.match(
    options.get('--config <file>') ?? '',
    /sections metrics, logs, haproxy, dns, discovery, consulClient/,
  );
});

test("src/README.md's example config file loads as written", async () => {
  const doc = readFileSync(new URL('src/README.md', root), 'utf8');
  const section = doc.slice(doc.indexOf('## Agent options'));
  const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(json, 'no json example under "Agent options"');
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  try {
    const file = join(dir, 'agent.json');
    writeFileSync(file, json);
    const cfg = await loadAgentConfig({ config: file }, {});
    assert.deepEqual(cfg.deprecated, []);
    assert.equal(cfg.dns.serviceTtl, 5000);
    assert.equal(cfg.consulClient.checkTtl, 60_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
