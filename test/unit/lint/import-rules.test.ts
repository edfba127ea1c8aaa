/**
 * `npm run lint` refuses an import that points up a layer or closes a cycle
 * (issue 13; the rules and the layers are in .dependency-cruiser.cjs). Each
 * case lays out a tiny tree with berth's folder names in a temp dir and runs
 * dependency-cruiser with the repo's own config on it; the last one runs it
 * on the real tree, which must be clean.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../../..');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

async function cruise(cwd: string): Promise<{ code: number; out: string }> {
  try {
    const r = await promisify(execFile)(
      process.execPath,
      [DEPCRUISE, '-c', CONFIG, 'src', 'runtime', 'sidecar'],
      {
        cwd,
        maxBuffer: 8 << 20,
      },
    );
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('import rules (dependency-cruiser, npm run lint)', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const tree = (files: Record<string, string>) => {
    const d = mkdtempSync(join(tmpdir(), 'berth-lint-'));
    dirs.push(d);
    writeFileSync(join(d, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext' } }));
    for (const dir of ['src', 'runtime', 'sidecar']) mkdirSync(join(d, dir), { recursive: true });
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(dirname(join(d, p)), { recursive: true });
      writeFileSync(join(d, p), text);
    }
    return d;
  };

  it('accepts imports that point down the layers', async () => {
    const r = await cruise(
      tree({
        'src/agent/run.ts': "import { s } from '../../sidecar/dns/server.ts';\nexport const a = s;\n",
        'sidecar/dns/server.ts':
          "import { r } from '../../runtime/containers/manager.ts';\nexport const s = r;\n",
        'runtime/containers/manager.ts': "import { b } from '../base/errors.ts';\nexport const r = b;\n",
        'runtime/base/errors.ts': 'export const b = 1;\n',
      }),
    );
    assert.equal(r.code, 0, r.out);
  });

  it('refuses runtime/ importing a sidecar, naming the rule', async () => {
    const r = await cruise(
      tree({
        'runtime/containers/manager.ts':
          "import { s } from '../../sidecar/dns/server.ts';\nexport const r = s;\n",
        'sidecar/dns/server.ts': 'export const s = 1;\n',
      }),
    );
    assert.notEqual(r.code, 0);
    assert.match(
      r.out,
      /runtime-below-sidecars-and-surface: runtime\/containers\/manager\.ts → sidecar\/dns\/server\.ts/,
    );
  });

  it('refuses the base importing anything of berth, and a sidecar reaching into another', async () => {
    const r = await cruise(
      tree({
        'runtime/base/log.ts': "import { x } from '../image/store.ts';\nexport const l = x;\n",
        'runtime/image/store.ts': 'export const x = 1;\n',
        'sidecar/metrics/a.ts': "import { p } from '../logs/pipeline.ts';\nexport const a = p;\n",
        'sidecar/logs/pipeline.ts': 'export const p = 1;\n',
      }),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.out, /base-is-the-bottom: runtime\/base\/log\.ts → runtime\/image\/store\.ts/);
    assert.match(r.out, /sidecars-independent: sidecar\/metrics\/a\.ts → sidecar\/logs\/pipeline\.ts/);
  });

  it('refuses a runtime area importing runtime/containers, and a cycle', async () => {
    const r = await cruise(
      tree({
        'runtime/image/store.ts': "import { m } from '../containers/manager.ts';\nexport const s = m;\n",
        'runtime/containers/manager.ts': 'export const m = 1;\n',
        'sidecar/dns/a.ts': "import { b } from './b.ts';\nexport const a = b;\n",
        'sidecar/dns/b.ts': "import { a } from './a.ts';\nexport const b = a;\n",
      }),
    );
    assert.notEqual(r.code, 0);
    assert.match(
      r.out,
      /runtime-areas-below-containers: runtime\/image\/store\.ts → runtime\/containers\/manager\.ts/,
    );
    assert.match(r.out, /no-circular: sidecar\/dns\/a\.ts/);
  });

  it('finds the real tree clean', async () => {
    const r = await cruise(ROOT);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /no dependency violations found/);
  });
});
