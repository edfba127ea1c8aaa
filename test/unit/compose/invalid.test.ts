import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ComposeError } from '../../../src/compose/errors.js';
import { loadProject } from '../../../src/compose/loader.js';
import { runComposeGo } from './oracle.js';

const INVALID = join(import.meta.dirname, '..', '..', 'fixtures', 'compose', 'invalid');

/**
 * Each invalid file states in its first lines what berth answers
 * (`# expect: line:col: key.path: reason`) and whether compose-go refuses it
 * too (`# compose-go: refuses`) or accepts it (a refusal of berth's own,
 * with the reason).
 */
function header(text: string, key: string): string {
  const m = new RegExp(`^# ${key}: (.*)$`, 'm').exec(text);
  assert.ok(m?.[1] !== undefined, `missing "# ${key}:" line`);
  return m[1];
}

describe('invalid corpus: refused with file:line:col, the key path and the reason', () => {
  for (const name of readdirSync(INVALID).sort()) {
    test(name, () => {
      const file = join(INVALID, name);
      const text = readFileSync(file, 'utf8');
      const expect = header(text, 'expect');
      const composeGo = header(text, 'compose-go');
      assert.throws(
        () => loadProject({ files: [file], env: {} }),
        (e: unknown) => {
          assert.ok(e instanceof ComposeError, String(e));
          assert.ok(e.message.startsWith(`${file}:${expect}`), `got: ${e.message}\nwant: ${file}:${expect}…`);
          assert.equal(`${e.pos?.line}:${e.pos?.col}`, expect.split(': ')[0]);
          return true;
        },
      );
      const oracle = runComposeGo(INVALID, { files: [name], env: {} });
      if (composeGo === 'refuses') assert.equal(oracle.ok, false, 'compose-go accepted it');
      else {
        assert.match(composeGo, /^accepts \(.+\)$/);
        assert.equal(oracle.ok, true, `compose-go refused it: ${oracle.ok ? '' : oracle.error}`);
      }
    });
  }
});
