// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Compose templates, not JavaScript ones
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { loadProject } from '../../../src/compose/loader.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { runComposeGo } from './oracle.js';

/**
 * Interpolation edge cases, each run through compose-go and through berth in
 * one generated Compose file (one label per template), so every expectation
 * is compose-go's own answer.
 */
const ENV = { SET: 'val', EMPTY: '', SPACED: 'a b', DOLLAR: '$x', BRACE: '}{', N: '5', A_B: 'ab' };

const TEMPLATES = [
  'plain',
  '$SET',
  '${SET}',
  '$SET$SET',
  '${SET}${SET}',
  'pre-$SET-post',
  '$A_B-c',
  '$A_Bc',
  '${UNSET}',
  'x${UNSET}y',
  '${UNSET:-def}',
  '${UNSET-def}',
  '${EMPTY:-def}',
  '${EMPTY-def}',
  '${SET:-def}',
  '${UNSET:-}',
  '${UNSET-}',
  '${SET:+rep}',
  '${SET+rep}',
  '${EMPTY:+rep}',
  '${EMPTY+rep}',
  '${UNSET:+rep}',
  '${UNSET+rep}',
  '${SET:+}',
  '${SET:?need it}',
  '${EMPTY?fine when empty}',
  '${UNSET:-${SET}}',
  '${UNSET:-${UNSET2:-deep}}',
  '${UNSET:-a${SET}b}',
  '${SET:+[${SET}]}',
  '${UNSET:-a:b}',
  '${UNSET:-a-b}',
  '${UNSET:-with space}',
  '${UNSET:-$SET}',
  '${UNSET:-$$}',
  '$$',
  '$$SET',
  '$${SET}',
  '$$$SET',
  '$$$$',
  '5$',
  '$ 5',
  '$1',
  '$-',
  '${DOLLAR}',
  '${BRACE}',
  '${SPACED}',
  '${N}0',
  '${set}',
  'a}b',
  '{$SET}',
  '${UNSET:-x}}',
  'multi\nline $SET',
];

let dir = '';
before(async () => {
  dir = await tempDir('compose-interp-');
  const labels = Object.fromEntries(TEMPLATES.map((t, i) => [`l${i}`, t]));
  await writeFile(join(dir, 'compose.yaml'), stringify({ services: { web: { image: 'busybox', labels } } }));
});
after(async () => {
  await removeDir(dir);
});

describe('interpolation: berth answers as compose-go does', () => {
  test('every template', () => {
    const oracle = runComposeGo(dir, { files: ['compose.yaml'], env: ENV });
    assert.ok(oracle.ok, oracle.ok ? '' : oracle.error);
    const want =
      (oracle.project.services as Record<string, { labels: Record<string, string> }>).web?.labels ?? {};
    const got = loadProject({ files: [join(dir, 'compose.yaml')], env: ENV }).services.web?.labels ?? {};
    TEMPLATES.forEach((t, i) => {
      assert.equal(got[`l${i}`], want[`l${i}`], `template ${JSON.stringify(t)}`);
    });
  });

  for (const [template, reason] of [
    ['${UNSET:?need it}', 'required variable UNSET is missing a value: need it'],
    ['${EMPTY:?no empties}', 'required variable EMPTY is missing a value: no empties'],
    ['${UNSET?}', 'required variable UNSET is missing a value'],
    ['${UNSET:?${SET} needed}', 'required variable UNSET is missing a value: val needed'],
    ['${}', 'invalid interpolation format'],
    ['${1X}', 'invalid interpolation format'],
    ['${SET:x}', 'invalid interpolation format'],
    ['${SET', 'invalid interpolation format'],
  ] as const) {
    test(`refused like compose-go: ${template}`, async () => {
      const file = join(dir, 'bad.yaml');
      await writeFile(file, stringify({ services: { web: { image: 'busybox', labels: { l: template } } } }));
      const oracle = runComposeGo(dir, { files: ['bad.yaml'], env: ENV });
      assert.equal(oracle.ok, false, `compose-go accepted ${template}`);
      assert.throws(
        () => loadProject({ files: [file], env: ENV }),
        (e: unknown) => {
          assert.match(String((e as Error).message), /bad\.yaml:\d+:\d+: services\.web\.labels\.l: /);
          assert.ok((e as Error).message.includes(reason), (e as Error).message);
          return true;
        },
      );
    });
  }
});
