import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { errorCode } from '../../../runtime/base/errors.js';
import { ComposeError } from '../../../src/compose/errors.js';
import { loadProject } from '../../../src/compose/loader.js';
import { MAX_COMPOSE_FILE_BYTES } from '../../../src/compose/read-text.js';
import { SERVICE_KEYS } from '../../../src/compose/schema.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { runComposeGo } from './oracle.js';

let dir = '';
before(async () => {
  dir = await tempDir('compose-loader-');
});
after(async () => {
  await removeDir(dir);
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

function refusal(fn: () => unknown): ComposeError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ComposeError, String(e));
    return e;
  }
  assert.fail('not refused');
}

describe('errors', () => {
  test('an InvalidArgument naming the file as the user gave it, line, column and key path', async () => {
    await write('rel/compose.yaml', 'services:\n  web:\n    image: busybox\n    ports: ["80:x"]\n');
    const rel = relative(process.cwd(), join(dir, 'rel', 'compose.yaml'));
    const e = refusal(() => loadProject({ files: [rel], env: {} }));
    assert.equal(e.message, `${rel}:4:13: services.web.ports[0]: "80:x" is not a port`);
    assert.equal(errorCode(e), 'InvalidArgument');
    assert.equal(e.field, 'services.web.ports[0]');
    assert.deepEqual(e.pos, { file: rel, line: 4, col: 13 });
  });

  test('a refusal in an override file names that file', async () => {
    const base = await write('multi/compose.yaml', 'services:\n  web:\n    image: busybox\n');
    const over = await write('multi/override.yaml', 'services:\n  web:\n    deploy:\n      replicas: many\n');
    const e = refusal(() => loadProject({ files: [base, over], env: {} }));
    assert.equal(e.message, `${over}:4:17: services.web.deploy.replicas: "many" is not an integer`);
  });

  test('container_name with replicas from different files points at container_name', async () => {
    const base = await write(
      'cn/compose.yaml',
      'services:\n  web:\n    image: busybox\n    container_name: web\n',
    );
    const over = await write('cn/override.yaml', 'services:\n  web:\n    deploy: {replicas: 2}\n');
    const e = refusal(() => loadProject({ files: [base, over], env: {} }));
    assert.match(
      e.message,
      new RegExp(`^${base}:4:5: services\\.web\\.container_name: .*cannot have 2 replicas`),
    );
  });

  test('a required env_file that is missing is refused naming it; an optional one is skipped', async () => {
    const f = await write(
      'envf/compose.yaml',
      'services:\n  web:\n    image: busybox\n    env_file: [missing.env]\n',
    );
    const e = refusal(() => loadProject({ files: [f], env: {} }));
    assert.match(e.message, /compose\.yaml:4:5: services\.web\.env_file: cannot read .*missing\.env/);
    const g = await write(
      'envf/optional.yaml',
      'services:\n  web:\n    image: busybox\n    env_file: [{path: missing.env, required: false}]\n',
    );
    assert.deepEqual(loadProject({ files: [g], env: {} }).services.web?.environment, {});
  });

  test('a device, a FIFO or an oversized file as a Compose, .env or env_file is refused, not read', async () => {
    // Read as root by the agent: /dev/zero would never end, a FIFO would wait for a writer.
    const fifo = join(dir, 'hostile', 'fifo.yaml');
    await mkdir(join(dir, 'hostile'), { recursive: true });
    execFileSync('mkfifo', [fifo]);
    const big = await write(
      'hostile/big.yaml',
      `services:\n  web:\n    image: busybox\n#${'x'.repeat(MAX_COMPOSE_FILE_BYTES)}\n`,
    );
    for (const [file, reason] of [
      ['/dev/zero', /cannot read \/dev\/zero: not a regular file/],
      [fifo, /fifo\.yaml: not a regular file/],
      [big, /big\.yaml: \d+ bytes is over the limit of 4194304/],
    ] as const) {
      assert.match(refusal(() => loadProject({ files: [file], env: {} })).message, reason);
    }
    const ok = await write(
      'hostile/compose.yaml',
      'services:\n  web:\n    image: busybox\n    env_file: [/dev/zero]\n',
    );
    assert.match(
      refusal(() => loadProject({ files: [ok], env: {} })).message,
      /services\.web\.env_file: cannot read \/dev\/zero: not a regular file/,
    );
    assert.match(
      refusal(() => loadProject({ files: [ok], env: {}, envFiles: [fifo] })).message,
      /cannot read env file .*fifo\.yaml: not a regular file/,
    );
  });
});

describe('project name', () => {
  test('-p and COMPOSE_PROJECT_NAME must already be normalized, as compose-go requires', async () => {
    await write('pn/compose.yaml', 'services:\n  web:\n    image: busybox\n');
    const files = [join(dir, 'pn', 'compose.yaml')];
    for (const [opts, env] of [
      [{ projectName: 'Bad Name' }, {}],
      [{}, { COMPOSE_PROJECT_NAME: 'UPPER' }],
      [{ projectName: '-lead' }, {}],
    ] as const) {
      const e = refusal(() => loadProject({ files, env, ...opts }));
      assert.match(e.message, /invalid (the project name|COMPOSE_PROJECT_NAME)/);
      const oracle = runComposeGo(join(dir, 'pn'), {
        files: ['compose.yaml'],
        env,
        ...('projectName' in opts ? { projectName: opts.projectName } : {}),
      });
      assert.equal(oracle.ok, false, `compose-go accepted ${JSON.stringify(opts)} ${JSON.stringify(env)}`);
    }
  });

  test('the directory name is normalized; one with nothing usable is refused', async () => {
    const f = await write('__--/compose.yaml', 'services:\n  web:\n    image: busybox\n');
    const e = refusal(() => loadProject({ files: [f], env: {} }));
    assert.match(e.message, /no usable project name/);
  });
});

describe('schema', () => {
  test('src/compose/README.md lists every supported service key', async () => {
    const readme = await readFile(
      join(import.meta.dirname, '..', '..', '..', 'src', 'compose', 'README.md'),
      'utf8',
    );
    for (const key of Object.keys(SERVICE_KEYS))
      assert.ok(readme.includes(`\`${key}\``), `README misses ${key}`);
  });

  test('x- extensions are allowed at the top level and in a service, never elsewhere', async () => {
    const ok = await write('ext/ok.yaml', 'x-a: 1\nservices:\n  web:\n    image: busybox\n    x-b: 2\n');
    assert.equal(loadProject({ files: [ok], env: {} }).services.web?.image, 'busybox');
    const bad = await write(
      'ext/bad.yaml',
      'services:\n  web:\n    image: busybox\n    deploy:\n      x-c: 3\n',
    );
    assert.match(
      refusal(() => loadProject({ files: [bad], env: {} })).message,
      /deploy\.x-c: unsupported key "x-c"/,
    );
  });
});

describe('model', () => {
  test('deploy defaults as Compose (Docker service update defaults) when nothing is said', async () => {
    const f = await write('dep/compose.yaml', 'services:\n  web:\n    image: busybox\n');
    const d = loadProject({ files: [f], env: {} }).services.web?.deploy;
    const defaults = {
      parallelism: 1,
      delayMs: 0,
      failureAction: 'pause',
      monitorMs: 5000,
      maxFailureRatio: 0,
      order: 'stop-first',
    };
    assert.deepEqual(d, {
      replicas: 1,
      resources: { limits: {} },
      updateConfig: defaults,
      rollbackConfig: defaults,
    });
  });

  test('profiles: disabled services are kept apart, never in services', async () => {
    const f = await write(
      'prof/compose.yaml',
      'services:\n  a: {image: busybox}\n  b: {image: busybox, profiles: [x]}\n',
    );
    const p = loadProject({ files: [f], env: {} });
    assert.deepEqual(Object.keys(p.services), ['a']);
    assert.deepEqual(Object.keys(p.disabledServices), ['b']);
  });

  test('a hostile alias bomb stops instead of expanding without end', async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++)
      lines.push(
        `${'a'.repeat(i + 1)}: &${'a'.repeat(i + 1)} [${Array(9)
          .fill(`*${'a'.repeat(i)}`)
          .join(',')}]`,
      );
    const f = await write('bomb/compose.yaml', `${lines.join('\n')}\nservices: {}\n`);
    assert.throws(
      () => loadProject({ files: [f], env: {} }),
      /compose\.yaml:\d+:\d+: YAML expands to more than/,
    );
  });
});
