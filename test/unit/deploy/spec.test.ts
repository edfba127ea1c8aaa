import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configHash } from '../../../src/deploy/hash.js';
import { loadSource } from '../../../src/deploy/project-state.js';
import { replicaSpec } from '../../../src/deploy/spec.js';

const FILE = '/srv/shop/compose.yaml';
const load = (content: string, env: Record<string, string> = {}) =>
  loadSource({ files: [{ path: FILE, content }], projectDir: '/srv/shop', env });

/** The refusal `load` throws, as its message. */
const refusal = (content: string): string => {
  try {
    load(content);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected a refusal');
};

describe('replicaSpec', () => {
  const project = load(`name: shop
services:
  web:
    image: web:1
    command: ["httpd", "-f"]
    environment: { A: "1", B: null }
    labels: { team: blue }
    ports: ["8080:80", "9000"]
    volumes: ["data:/data", "./conf:/etc/conf:ro", { type: tmpfs, target: /cache, tmpfs: { size: 1048576 } }]
    user: "1000"
    cap_drop: [ALL]
    mem_limit: 64m
    stop_grace_period: 3s
    restart: on-failure:3
    healthcheck: { test: ["CMD", "true"], interval: 1s, retries: 2 }
    deploy: { replicas: 2 }
  worker:
    image: worker:1
    logging: { driver: none }
volumes:
  data: {}
`);
  const web = project.services.web;
  assert.ok(web);
  const hash = configHash(web);
  const spec = replicaSpec(project, web, 2, hash);
  const req = spec.request as Record<string, unknown> & { labels: Record<string, string> };

  test("Compose's name and labels, plus berth's, over the service's own", () => {
    assert.equal(req.name, 'shop-web-2');
    assert.equal(req.labels['com.docker.compose.project'], 'shop');
    assert.equal(req.labels['com.docker.compose.service'], 'web');
    assert.equal(req.labels['com.docker.compose.container-number'], '2');
    assert.equal(req.labels['com.docker.compose.config-hash'], hash);
    assert.equal(req.labels['com.docker.compose.oneoff'], 'False');
    assert.equal(req.labels['com.docker.compose.project.config_files'], FILE);
    assert.equal(req.labels['com.docker.compose.project.working_dir'], '/srv/shop');
    assert.equal(req.labels['berth.project'], 'shop');
    assert.equal(req.labels['berth.service'], 'web');
    assert.equal(req.labels.team, 'blue');
  });

  test('the published port is one HAProxy frontend; replicas publish only on ephemeral loopback ports', () => {
    assert.equal(req.labels['berth.lb.port'], '8080');
    assert.equal(req.labels['berth.lb.mode'], 'http');
    assert.equal(req.labels.SERVICE_80_NAME, 'shop-web');
    assert.equal(req.labels.SERVICE_9000_IGNORE, 'true');
    assert.deepEqual(req.ports, ['127.0.0.1::80', '9000']);
  });

  test('env, mounts, limits, health, restart in the runtime notation', () => {
    assert.deepEqual(req.env, ['A=1', 'B']);
    assert.deepEqual(req.cmd, ['httpd', '-f']);
    assert.deepEqual(req.volumes, ['shop_data:/data', '/srv/shop/conf:/etc/conf:ro']);
    assert.deepEqual(req.tmpfs, ['/cache:size=1048576']);
    assert.deepEqual(spec.volumes, ['shop_data']);
    assert.equal(req.memory, 64 * 1024 * 1024);
    assert.equal(req.stopTimeout, 3);
    assert.equal(req.restart, 'on-failure:3');
    assert.equal(req.user, '1000');
    assert.deepEqual(req.capDrop, ['ALL']);
    assert.deepEqual(req.healthcheck, { test: ['CMD', 'true'], interval: 1000, retries: 2 });
    assert.deepEqual(spec.networks, [{ name: 'shop_default', aliases: ['web'] }]);
  });

  test('logging driver none turns shipping off', () => {
    const w = project.services.worker;
    assert.ok(w);
    const r = replicaSpec(project, w, 1, configHash(w)).request as { labels: Record<string, string> };
    assert.equal(r.labels['berth.logs.ship'], 'false');
  });

  test('the config hash ignores the replica count and update_config, not the image', () => {
    const a = configHash(web);
    assert.equal(configHash({ ...web, deploy: { ...web.deploy, replicas: 7 } }), a);
    assert.equal(
      configHash({
        ...web,
        deploy: { ...web.deploy, updateConfig: { ...web.deploy.updateConfig, parallelism: 3 } },
      }),
      a,
    );
    assert.notEqual(configHash({ ...web, image: 'web:2' }), a);
  });
});

describe('refusals name the file, line and key', () => {
  test('a published range', () => {
    assert.match(
      refusal('services:\n  web:\n    image: w\n    ports: ["8000-8001:80"]\n'),
      /^\/srv\/shop\/compose\.yaml:4:\d+: services\.web\.ports\[0\]: published range "8000-8001" is not supported/,
    );
  });

  test('two published ports', () => {
    assert.match(
      refusal('services:\n  web:\n    image: w\n    ports:\n      - "80:80"\n      - "443:443"\n'),
      /compose\.yaml:6:\d+: services\.web\.ports\[1\]: a second published port \(443\)/,
    );
  });

  test('mode host with replicas', () => {
    assert.match(
      refusal(
        'services:\n  web:\n    image: w\n    deploy: { replicas: 2 }\n    ports:\n      - { target: 80, published: "8080", mode: host }\n',
      ),
      /compose\.yaml:6:\d+: services\.web\.ports\[0\]: mode host publishes 8080 on the host from every replica/,
    );
  });

  test('a logging driver berth does not have', () => {
    assert.match(
      refusal('services:\n  web:\n    image: w\n    logging:\n      driver: syslog\n'),
      /compose\.yaml:5:\d+: services\.web\.logging\.driver: driver "syslog" is not supported/,
    );
  });

  test("the loader's own refusals come through unchanged (unknown key, missing variable)", () => {
    assert.match(
      refusal('services:\n  web:\n    image: w\n    privileged: true\n'),
      /compose\.yaml:4:5: services\.web\.privileged: unsupported key/,
    );
    assert.match(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's interpolation, not JavaScript's
      refusal('services:\n  web:\n    image: w:${TAG:?set TAG}\n'),
      /compose\.yaml:3:\d+: services\.web\.image: required variable TAG is missing a value: set TAG/,
    );
  });
});
