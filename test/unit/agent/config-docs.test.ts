/**
 * The agent's options table in src/README.md is rendered from the same config
 * table the agent validates with; this keeps them in step. Regenerate with
 * BERTH_UPDATE_DOCS=1.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { describeConfig } from '../../../runtime/base/config.js';
import { AGENT_CONFIG, loadAgentConfig } from '../../../src/agent/config.js';

const README = new URL('../../../src/README.md', import.meta.url);
const BEGIN = '<!-- agent-config:begin -->';
const END = '<!-- agent-config:end -->';

test('src/README.md documents every agent option as the config table does', () => {
  const doc = readFileSync(README, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  assert.ok(a >= 0 && b > a, 'src/README.md lacks the agent-config markers');
  const want = `${BEGIN}\n${describeConfig(AGENT_CONFIG)}\n${END}`;
  const have = doc.slice(a, b + END.length);
  if (process.env.BERTH_UPDATE_DOCS === '1' && have !== want) {
    writeFileSync(README, doc.slice(0, a) + want + doc.slice(b + END.length));
    return;
  }
  // The formatter pads markdown tables; compare cell contents only.
  const cells = (t: string) => t.replace(/[ \t]*\|[ \t]*/g, '|').replace(/-{3,}/g, '---');
  assert.equal(
    cells(have),
    cells(want),
    'run BERTH_UPDATE_DOCS=1 bash test/run.sh test/unit/agent to regenerate',
  );
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
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
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
