import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { cacheDir, readVersions } from '../../harness/tools.js';
import { readCase } from './oracle.js';

const VALID = join(import.meta.dirname, '..', '..', 'fixtures', 'compose', 'valid');

/** The Go module cache the setup's go used; the go on PATH first, then the toolchain setup fetched. */
function goModCache(): string {
  const versions = readVersions();
  for (const go of ['go', join(cacheDir(), 'go', `go${versions.GO_TOOLCHAIN_VERSION}`, 'bin', 'go')]) {
    try {
      return execFileSync(go, ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
    } catch {}
  }
  throw new Error('no go found: run `bash .ci/setup.sh test`');
}

/** compose-go's own copy of the Compose JSON schema, read where Go keeps the module (never copied here). */
function composeSpecSchema(): object {
  const version = readVersions().COMPOSE_GO_VERSION;
  const path = join(
    goModCache(),
    'github.com',
    'compose-spec',
    'compose-go',
    `v2@v${version}`,
    'schema',
    'compose-spec.json',
  );
  assert.ok(existsSync(path), `${path} is missing: run \`bash .ci/setup.sh test\` (it builds compose-go)`);
  return JSON.parse(readFileSync(path, 'utf8')) as object;
}

describe('valid corpus against compose-go schema/compose-spec.json', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(composeSpecSchema());
  for (const name of readdirSync(VALID).sort()) {
    test(name, () => {
      const dir = join(VALID, name);
      for (const f of readCase(dir).files) {
        const doc: unknown = parse(readFileSync(join(dir, f), 'utf8'), { merge: true });
        assert.ok(validate(doc), `${name}/${f}: ${ajv.errorsText(validate.errors)}`);
      }
    });
  }
});

test('test/tools/compose-go/go.mod requires the version versions.env names', () => {
  const mod = readFileSync(join(import.meta.dirname, '..', '..', 'tools', 'compose-go', 'go.mod'), 'utf8');
  assert.match(
    mod,
    new RegExp(`github.com/compose-spec/compose-go/v2 v${readVersions().COMPOSE_GO_VERSION}\\n`),
  );
});
