/** The exposition parser the cAdvisor parity test reads both exporters with. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition } from '../../harness/exposition.js';

test('samples, escaped label values, timestamps and types are read as written', () => {
  const { samples, types } = parseExposition(
    [
      '# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.',
      '# TYPE container_cpu_usage_seconds_total counter',
      'container_cpu_usage_seconds_total{cpu="total",id="/berth/abc"} 1.5e+00 1796651636627',
      'machine_cpu_cores 2',
      'x{a="q\\"uote",b="back\\\\slash",c="new\\nline",d=""} -1',
      '',
      'y{a="1",} NaN',
    ].join('\n'),
  );
  assert.equal(types.get('container_cpu_usage_seconds_total'), 'counter');
  assert.deepEqual(samples[0], {
    name: 'container_cpu_usage_seconds_total',
    labels: { cpu: 'total', id: '/berth/abc' },
    value: 1.5,
    timestampMs: 1796651636627,
  });
  assert.deepEqual(samples[1], { name: 'machine_cpu_cores', labels: {}, value: 2 });
  assert.deepEqual(samples[2]?.labels, { a: 'q"uote', b: 'back\\slash', c: 'new\nline', d: '' });
  assert.equal(samples[2]?.value, -1);
  assert.ok(Number.isNaN(samples[3]?.value));
  assert.throws(() => parseExposition('z{a=1} 1'), /bad labels/);
});
