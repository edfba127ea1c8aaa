import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildWeb } from '../../../web/build.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

// Issue 15: the dashboard's bundle is at most 300 KB gzipped and needs nothing at run time
// but the agent: no other origin, and nothing the dashboard's CSP (script-src 'self') forbids.

const BUDGET_GZIP = 300 * 1024;

describe('dashboard bundle', () => {
  let dir = '';
  let built: Awaited<ReturnType<typeof buildWeb>>;
  before(async () => {
    dir = await tempDir('web-bundle');
    built = await buildWeb({ outDir: join(dir, 'web'), quiet: true });
  });
  after(() => removeDir(dir));

  it('builds index.html, app.js and app.css within 300 KB gzipped', () => {
    assert.ok(built.built);
    const s = built.sizes;
    assert.ok(s['index.html'] && s['app.js'] && s['app.css'], `built ${Object.keys(s).join(', ')}`);
    const total = Object.values(s).reduce((a, f) => a + f.gzip, 0);
    // The figure the README quotes (web/README.md "Build").
    console.log(
      `# bundle: ${(total / 1024).toFixed(1)} KiB gzipped (app.js ${(s['app.js'].raw / 1024).toFixed(1)} KiB raw)`,
    );
    assert.ok(total <= BUDGET_GZIP, `bundle is ${total} bytes gzipped, over ${BUDGET_GZIP}`);
  });

  it('loads nothing from another origin and uses no eval (the dashboard CSP allows neither)', async () => {
    const html = await readFile(join(built.outDir, 'index.html'), 'utf8');
    const js = await readFile(join(built.outDir, 'app.js'), 'utf8');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
    assert.doesNotMatch(html, /<script>|<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(js, /\beval\(|new Function\(/);
    assert.doesNotMatch(js, /import\(["']https?:/);
  });
});
