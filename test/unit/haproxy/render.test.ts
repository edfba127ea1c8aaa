import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isInvalidArgument } from '../../../runtime/base/errors.js';
import type { ServiceInstance } from '../../../sidecar/discovery/types.js';
import { desiredFromView } from '../../../sidecar/haproxy/model.js';
import { renderDefault, templateData } from '../../../sidecar/haproxy/render.js';
import { planSlots } from '../../../sidecar/haproxy/slots.js';
import { compileTemplate } from '../../../sidecar/haproxy/template.js';

const settings = {
  bindAddress: '127.0.0.1',
  timeoutConnectMs: 5000,
  timeoutClientMs: 60000,
  timeoutServerMs: 60000,
  checkIntervalMs: 2000,
  hardStopAfterMs: 60000,
};

function state(meta: Record<string, string>) {
  const inst: ServiceInstance = {
    id: 'h:web1:80',
    service: 'web',
    tags: [],
    meta,
    address: '10.0.0.5',
    port: 80,
    node: 'h',
    health: 'passing',
    containerId: 'abc',
  };
  return planSlots(new Map(), desiredFromView({ index: 1, instances: [inst], stale: false }, '127.0.0.1'), {
    now: 0,
    slotsPerBackend: 2,
    emptyServiceRetentionMs: 0,
  }).next;
}

describe('haproxy render', () => {
  test('default generator: frontend, backend, one live server and free slots', () => {
    const text = renderDefault(
      templateData(state({ 'berth-lb-port': '8080', 'berth-lb-check': '/healthz' }), settings),
    );
    const lines = text.split('\n').map((l) => l.trim());
    for (const want of [
      "frontend 'fe_web'",
      "bind '127.0.0.1:8080'",
      "default_backend 'be_web'",
      "backend 'be_web'",
      'balance roundrobin',
      "option httpchk GET '/healthz'",
      "server s1 '10.0.0.5:80' check inter 2000ms",
      "server s2 '0.0.0.0:0' check inter 2000ms disabled",
      'hard-stop-after 60000ms',
    ]) {
      assert.ok(lines.includes(want), `missing "${want}" in:\n${text}`);
    }
  });

  test('tcp mode without a check has no http options', () => {
    const text = renderDefault(
      templateData(state({ 'berth-lb-port': '5432', 'berth-lb-mode': 'tcp' }), settings),
    );
    assert.match(text, /mode tcp/);
    assert.doesNotMatch(text, /httpchk|forwardfor|retry-on/);
    assert.match(text, /server s1 '10\.0\.0\.5:80'\n/);
  });

  test('a Handlebars template receives the documented data', () => {
    const render = compileTemplate(
      [
        '{{#each services}}listen {{name}}',
        '  bind {{bind}}:{{port}}',
        '{{#each servers}}  server {{name}} {{address}}:{{port}}{{#unless enabled}} disabled{{/unless}} # {{#if instanceId}}{{instanceId}}{{else}}free{{/if}}',
        '{{/each}}{{/each}}',
      ].join('\n'),
    );
    const text = render(templateData(state({ 'berth-lb-port': '8080' }), settings));
    assert.equal(
      text,
      [
        'listen web',
        '  bind 127.0.0.1:8080',
        '  server s1 10.0.0.5:80 # h:web1:80',
        '  server s2 0.0.0.0:0 disabled # free',
        '',
      ].join('\n'),
    );
  });

  test('template syntax errors fail at load, misspelt fields at render (strict mode)', () => {
    assert.throws(
      () => compileTemplate('{{#each services}}\n{{name}\n', 't.hbs'),
      (err: unknown) =>
        isInvalidArgument(err) &&
        /haproxy template t\.hbs: Parse error on line 2/.test((err as Error).message),
    );
    const render = compileTemplate('{{#each services}}{{nmae}}{{/each}}', 't.hbs');
    assert.throws(
      () => render(templateData(state({ 'berth-lb-port': '8080' }), settings)),
      (err: unknown) => isInvalidArgument(err) && /"nmae" not defined/.test((err as Error).message),
    );
  });
});

describe('haproxy fast path', () => {
  test('only changed server lines of the same slots take the Runtime-API-first path', async () => {
    const { serverLinesOnly } = await import('../../../sidecar/haproxy/manager.js');
    const a =
      'backend be_web\n  balance roundrobin\n  server s1 0.0.0.0:0 disabled\n  server s2 0.0.0.0:0 disabled\n';
    assert.equal(
      serverLinesOnly(a, a.replace('server s1 0.0.0.0:0 disabled', 'server s1 10.0.0.1:80')),
      true,
    );
    assert.equal(serverLinesOnly(a, a.replace('balance roundrobin', 'balance leastconn')), false);
    assert.equal(
      serverLinesOnly(a, a.replace('server s1 0.0.0.0:0 disabled', 'server s9 10.0.0.1:80')),
      false,
    );
    assert.equal(serverLinesOnly(a, `${a}  server s3 0.0.0.0:0 disabled\n`), false);
  });
});

describe('haproxy shipped template', () => {
  test('default.cfg.hbs renders exactly what the default generator writes', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(
      new URL('../../../sidecar/haproxy/default.cfg.hbs', import.meta.url),
      'utf8',
    );
    const render = compileTemplate(source, 'default.cfg.hbs');
    const metas: Record<string, string>[] = [
      { 'berth-lb-port': '8080', 'berth-lb-check': '/healthz' },
      { 'berth-lb-port': '5432', 'berth-lb-mode': 'tcp', 'berth-lb-balance': 'source' },
      { 'berth-lb-port': '80', 'berth-lb-mode': 'tcp', 'berth-lb-check': 'tcp' },
    ];
    for (const meta of metas) {
      const data = templateData(state(meta), settings);
      assert.equal(render(data), renderDefault(data));
    }
  });
});
