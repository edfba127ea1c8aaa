/**
 * Services declared in files (Consul's service-definition format) for
 * observe mode: parsed as hostile input, kept registered in a real (local)
 * catalog as the directory changes, and hidden from the registrar's view so
 * its stale-entry cleanup leaves them alone.
 */
import assert from 'node:assert/strict';
import { rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../../runtime/base/log.js';
import { loadServiceDir, parseServiceFile } from '../../../runtime/source/observe/services.js';
import { ObserveSource } from '../../../runtime/source/observe/source.js';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import { Registrar } from '../../../sidecar/discovery/registrar.js';
import { ServiceFiles } from '../../../src/agent/services.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { tempDir } from '../../harness/tmp.js';

describe('observe: Consul service definitions', () => {
  it('reads {"service": …} and {"services": […]} in either key spelling', () => {
    const [one] = parseServiceFile(
      JSON.stringify({ service: { name: 'web', port: 8080, tags: ['v1'], meta: { team: 'shop' } } }),
      'web.json',
    );
    assert.deepEqual(one, {
      id: 'web',
      name: 'web',
      tags: ['v1'],
      port: 8080,
      meta: { team: 'shop' },
      checks: [],
      ignored: [],
      file: 'web.json',
    });
    const two = parseServiceFile(
      JSON.stringify({
        services: [
          { ID: 'db-1', Name: 'db', Port: 5432, Address: '10.0.0.5' },
          { name: 'cache', port: 6379, check: { tcp: 'localhost:6379', interval: '10s' } },
        ],
      }),
      'many.json',
    );
    assert.equal(two[0]?.id, 'db-1');
    assert.equal(two[0]?.address, '10.0.0.5');
    assert.deepEqual(two[1]?.checks, [
      { kind: 'tcp', target: 'localhost:6379', interval: '10s', status: 'critical' },
    ]);
    const [w] = parseServiceFile(
      JSON.stringify({
        service: {
          name: 'web',
          port: 80,
          kind: 'typical',
          Checks: [
            {
              CheckID: 'h',
              HTTP: 'http://127.0.0.1:80/health',
              Interval: '5s',
              Timeout: '1s',
              Method: 'HEAD',
              Status: 'passing',
            },
          ],
        },
      }),
      'w.json',
    );
    assert.deepEqual(w?.checks, [
      {
        kind: 'http',
        target: 'http://127.0.0.1/health',
        interval: '5s',
        timeout: '1s',
        method: 'HEAD',
        status: 'passing',
      },
    ]);
    assert.deepEqual(w?.ignored, ['kind']);
  });

  it('refuses what is not a valid definition, naming the file, the service and the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ service: { port: 80 } }, /x\.json: service\.name: required/],
      [{ service: { name: 'web' } }, /service\.port: required/],
      [{ service: { name: 'web', port: 70000 } }, /service\.port/],
      [{ service: { name: 'we b', port: 80 } }, /service\.name/],
      [{ service: { name: 'web', port: 80, id: 'a/b' } }, /service\.id/],
      [{ service: { name: 'web', port: 80, tags: ['ok', 'new\nline'] } }, /service\.tags/],
      [{ service: { name: 'web', port: 80, address: 'x;rm -rf /' } }, /service\.address/],
      [{ service: { name: 'web', port: 80, meta: { 'bad key': 'v' } } }, /service\.meta/],
      [
        { service: { name: 'web', port: 80, script: 'rm -rf /' } },
        /service\.script: not a Consul service key/,
      ],
      [{ services: [{ name: 'a', port: 1 }, { name: 'b' }] }, /services\[1\]\.port/],
      [
        { service: { name: 'web', port: 80, check: { args: ['/bin/check'], interval: '10s' } } },
        /service\.checks\[0\]\.args: not run by berth/,
      ],
      [{ service: { name: 'web', port: 80, check: { ttl: '30s' } } }, /checks\[0\]\.ttl/],
      [
        { service: { name: 'web', port: 80, check: { http: 'http://x/', interval: '10s', header: {} } } },
        /checks\[0\]\.header/,
      ],
      [
        { service: { name: 'web', port: 80, check: { http: 'http://x/' } } },
        /checks\[0\]\.interval: required/,
      ],
      [
        { service: { name: 'web', port: 80, check: { http: 'file:///etc/passwd', interval: '10s' } } },
        /checks\[0\]\.http/,
      ],
      [{ service: { name: 'web', port: 80, check: { tcp: 'nohost', interval: '10s' } } }, /checks\[0\]\.tcp/],
      [
        { service: { name: 'web', port: 80, check: { tcp: 'a:1', http: 'http://a/', interval: '1s' } } },
        /exactly one/,
      ],
      [{ service: {}, services: [] }, /exactly one/],
      [[1, 2], /JSON object/],
    ];
    for (const [doc, re] of cases) assert.throws(() => parseServiceFile(JSON.stringify(doc), 'x.json'), re);
    assert.throws(() => parseServiceFile('{nope', 'x.json'), /x\.json: \(file\): not JSON/);
  });

  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a directory: bad files, HCL, symlinks out of it and duplicate ids are reported; the rest load', async () => {
    const dir = await tempDir('observe-svc-');
    dirs.push(dir);
    await writeFile(join(dir, 'a.json'), JSON.stringify({ service: { name: 'web', port: 80 } }));
    await writeFile(join(dir, 'b.json'), JSON.stringify({ service: { name: 'web', port: 81 } }));
    await writeFile(join(dir, 'c.json'), '{"service": 1}');
    await writeFile(join(dir, 'd.hcl'), 'service { name = "x" }');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    await symlink('/etc/hostname', join(dir, 'e.json'));
    const load = await loadServiceDir(dir);
    assert.deepEqual(
      load.services.map((s) => `${s.id}:${s.port}`),
      ['web:80'],
    );
    assert.equal(load.errors.length, 4, load.errors.join('\n'));
    assert.match(load.errors.join('\n'), /b\.json: service id "web" is defined in an earlier file/);
    assert.match(load.errors.join('\n'), /d\.hcl: HCL/);
    assert.match(load.errors.join('\n'), /e\.json: not a regular file/);
  });

  it('kept registered as the directory changes, and never the registrar’s to remove', async () => {
    const dir = await tempDir('observe-svc-');
    dirs.push(dir);
    await writeFile(
      join(dir, 'web.json'),
      JSON.stringify({ service: { name: 'web', port: 80, tags: ['a'] } }),
    );
    const catalog = new LocalCatalog({ nodeName: 'node-1' });
    const files = new ServiceFiles(dir, { nodeName: 'node-1', hostIp: '192.0.2.10' }, silentLogger());
    await files.prime();
    await files.start(catalog);
    const names = () =>
      catalog
        .view()
        .instances.map((i) => `${i.service}@${i.address}:${i.port}[${i.tags.join(',')}]`)
        .sort();
    try {
      assert.deepEqual(names(), ['web@192.0.2.10:80[a]']);
      assert.deepEqual(await files.wrap(catalog).owned(), [], 'the registrar does not see them as its own');
      await writeFile(
        join(dir, 'web.json'),
        JSON.stringify({ service: { name: 'web', port: 80, tags: ['b'] } }),
      );
      await writeFile(
        join(dir, 'db.json'),
        JSON.stringify({ service: { name: 'db', port: 5432, address: '10.0.0.5' } }),
      );
      await pollUntil(
        'changes applied',
        async () => (names().length === 2 && names()[1]?.endsWith('[b]') ? true : undefined),
        5000,
        20,
      );
      assert.deepEqual(names(), ['db@10.0.0.5:5432[]', 'web@192.0.2.10:80[b]']);
      await unlink(join(dir, 'web.json'));
      await pollUntil('web deregistered', async () => (names().length === 1 ? true : undefined), 5000, 20);
      assert.deepEqual(names(), ['db@10.0.0.5:5432[]']);
    } finally {
      await files.close();
      await catalog.close();
    }
  });
});

describe('observe: service-file checks', () => {
  it('an http check sets the health (critical until passing, back to critical when it fails); a tcp check to a closed port is critical', async () => {
    let status = 200;
    const server = createServer((_req, res) => {
      res.statusCode = status;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const closed = await freePort();
    const dir = await tempDir('observe-svc-checks-');
    await writeFile(
      join(dir, 'web.json'),
      JSON.stringify({
        services: [
          {
            name: 'web',
            port,
            address: '127.0.0.1',
            check: { http: `http://127.0.0.1:${port}/health`, interval: '100ms', timeout: '1s' },
          },
          {
            name: 'gone',
            port: closed,
            address: '127.0.0.1',
            check: { tcp: `127.0.0.1:${closed}`, interval: '100ms', status: 'passing' },
          },
        ],
      }),
    );
    const catalog = new LocalCatalog({ nodeName: 'node-1' });
    const files = new ServiceFiles(dir, { nodeName: 'node-1', hostIp: '127.0.0.1' }, silentLogger());
    const health = (svc: string) => catalog.view().instances.find((i) => i.service === svc)?.health;
    try {
      await files.prime();
      await files.start(catalog);
      await pollUntil('web passing', async () => (health('web') === 'passing' ? true : undefined), 5000, 20);
      await pollUntil(
        'gone critical',
        async () => (health('gone') === 'critical' ? true : undefined),
        5000,
        20,
      );
      status = 500;
      await pollUntil(
        'web critical',
        async () => (health('web') === 'critical' ? true : undefined),
        5000,
        20,
      );
    } finally {
      await files.close();
      await catalog.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('observe: Registrator labels of Docker containers', () => {
  it('a Docker container with SERVICE_NAME and a published port is registered by the unchanged registrar', async () => {
    const root = join(import.meta.dirname, '../../fixtures/observe/docker-cgroupfs-v1');
    const source = new ObserveSource({
      roots: {
        proc: join(root, 'proc'),
        cgroup: join(root, 'sys/fs/cgroup'),
        docker: join(root, 'var/lib/docker'),
        log: join(root, 'var/log'),
      },
      watch: false,
      metadataGraceMs: 0,
    });
    await source.start();
    const catalog = new LocalCatalog({ nodeName: 'node-1' });
    const registrar = new Registrar({
      source,
      catalog,
      host: { nodeName: 'node-1', hostIp: '192.0.2.10' },
      drainMs: 0,
    });
    try {
      await registrar.start();
      const web = catalog.view().instances.filter((i) => i.service === 'web');
      assert.deepEqual(
        web.map((i) => `${i.address}:${i.port}`),
        ['192.0.2.10:8080'],
      );
      assert.equal(web[0]?.containerId, 'a1'.repeat(32));
    } finally {
      await registrar.close();
      await catalog.close();
      await source.close();
    }
  });
});
