/**
 * `berth config`: a Compose project validated and normalized on the client, as `docker compose
 * config` does, with no agent (BERTH_SOCKET points nowhere). The loader itself is checked against
 * compose-go in test/unit/compose; this is the verb a user types.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const bin = fileURLToPath(new URL('../../../src/bin/berth.js', import.meta.url));
const basic = fileURLToPath(new URL('../../fixtures/compose/valid/basic/compose.yaml', import.meta.url));

async function berth(
  args: string[],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [bin, ...args], {
      env: { ...process.env, BERTH_FROM_SOURCE: '1', BERTH_SOCKET: '/nonexistent/berth.sock' },
      ...(cwd ? { cwd } : {}),
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('berth config (no agent needed)', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('prints the normalized project as JSON, and the service names', async () => {
    const json = await berth(['config', '-f', basic, '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const p = JSON.parse(json.stdout) as { services: Record<string, { image: string; ports: unknown[] }> };
    assert.deepEqual(Object.keys(p.services).sort(), ['db', 'web']);
    assert.equal(p.services.web?.image, 'nginx:1.27');
    assert.deepEqual(p.services.web?.ports, [
      { target: 80, protocol: 'tcp', mode: 'ingress', published: '8080' },
    ]);
    const names = await berth(['config', '-f', basic, '--services']);
    assert.deepEqual(names.stdout.trim().split('\n').sort(), ['db', 'web']);
  });

  it("takes the project name as the other project verbs do (-p/--project), and Compose's --project-name", async () => {
    for (const flag of ['-p', '--project', '--project-name']) {
      const r = await berth(['config', '-f', basic, flag, 'shop', '--format', 'json']);
      assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
      assert.equal((JSON.parse(r.stdout) as { name: string }).name, 'shop', flag);
    }
  });

  it('finds compose.yaml in the directory or a parent, as Compose does; -q only validates', async () => {
    const d = mkdtempSync(join(tmpdir(), 'berth-config-'));
    dirs.push(d);
    writeFileSync(join(d, 'compose.yaml'), 'services:\n  api:\n    image: busybox\n');
    mkdirSync(join(d, 'sub'));
    const r = await berth(['config', '--services'], join(d, 'sub'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'api');
    const q = await berth(['config', '-q'], d);
    assert.equal(q.code, 0);
    assert.equal(q.stdout, '');
  });

  it('refuses a bad file naming file:line:col and the key, exit 125, and says when there is no file', async () => {
    const d = mkdtempSync(join(tmpdir(), 'berth-config-'));
    dirs.push(d);
    writeFileSync(join(d, 'bad.yaml'), 'services:\n  web:\n    image: busybox\n    ports: ["80:x"]\n');
    const bad = await berth(['config', '-f', join(d, 'bad.yaml')]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /bad\.yaml:4:13: services\.web\.ports\[0\]: "80:x" is not a port/);
    const none = await berth(['config'], d);
    assert.equal(none.code, 125);
    assert.match(none.stderr, /no Compose file: none of compose\.yaml, .* here or above; name one with -f/);
    const fmt = await berth(['config', '-f', join(d, 'bad.yaml'), '--format', 'toml']);
    assert.match(fmt.stderr, /--format: "toml" is not yaml or json/);
  });
});
