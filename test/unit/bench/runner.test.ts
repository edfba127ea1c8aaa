import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = (args: string[]) =>
  promisify(execFile)('npm', ['run', '-s', 'bench', '--', ...args], { cwd: root }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('npm run bench', () => {
  it('lists the benchmarks with no name', async () => {
    const r = await run([]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\s+events\s+event exchange fan-out/m);
    assert.doesNotMatch(r.stdout, /_stats/, 'helper modules are not benchmarks');
  });

  it('runs one and prints one JSON object on the last line', async () => {
    const r = await run(['events', '2000']);
    assert.equal(r.code, 0, r.stderr);
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    const result = JSON.parse(last) as Record<string, number | string>;
    assert.equal(result.bench, 'events');
    assert.equal(result.events, 2000);
    assert.ok(Number(result.exchange_events_per_s) > 0);
    assert.ok(Number(result.ratio_vs_array) > 0);
  });

  it('names an unknown benchmark', async () => {
    const r = await run(['nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no benchmark named "nope"; known: .*events/);
  });
});
