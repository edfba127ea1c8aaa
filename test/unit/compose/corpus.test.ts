import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadProject } from '../../../src/compose/loader.js';
import type { ComposeService } from '../../../src/compose/types.js';
import { networkFromComposeGo, serviceFromComposeGo, volumeFromComposeGo } from './from-compose-go.js';
import { berthOptions, readCase, runComposeGo } from './oracle.js';

const VALID = join(import.meta.dirname, '..', '..', 'fixtures', 'compose', 'valid');

/** berth keeps envFiles' absolute paths and drops nothing else; compare everything. */
function comparable(s: ComposeService): ComposeService {
  return JSON.parse(JSON.stringify(s)) as ComposeService;
}

describe('valid corpus: berth and compose-go agree on every supported key', () => {
  for (const name of readdirSync(VALID).sort()) {
    test(name, () => {
      const dir = join(VALID, name);
      const spec = readCase(dir);
      const oracle = runComposeGo(dir, spec);
      assert.ok(oracle.ok, `compose-go refused ${name}: ${oracle.ok ? '' : oracle.error}`);
      const want = oracle.project;
      const got = loadProject(berthOptions(dir, spec));
      assert.equal(got.name, want.name, 'project name');
      const wantServices = (want.services ?? {}) as Record<string, Record<string, unknown>>;
      assert.deepEqual(
        Object.keys(got.services).sort(),
        Object.keys(wantServices).sort(),
        'enabled services',
      );
      for (const [svc, s] of Object.entries(wantServices)) {
        const g = got.services[svc];
        assert.ok(g !== undefined);
        assert.deepEqual(comparable(g), comparable(serviceFromComposeGo(svc, s)), `services.${svc}`);
      }
      const nets = Object.fromEntries(
        Object.entries((want.networks ?? {}) as Record<string, Record<string, unknown>>).map(([k, v]) => [
          k,
          networkFromComposeGo(v),
        ]),
      );
      assert.deepEqual(got.networks, nets, 'networks');
      const vols = Object.fromEntries(
        Object.entries((want.volumes ?? {}) as Record<string, Record<string, unknown>>).map(([k, v]) => [
          k,
          volumeFromComposeGo(v),
        ]),
      );
      assert.deepEqual(got.volumes, vols, 'volumes');
    });
  }
});
