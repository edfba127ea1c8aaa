/**
 * The berth image (image/build.ts): built twice to the same digest, loaded
 * into a real agent with `berth load`, run with its own entrypoint (`berth
 * --version` inside prints the version this checkout's berth prints) and
 * with node, runc, crun, conmon and HAProxy as entrypoints (each one starts,
 * so the libraries it loads are in the image). podman, another OCI tool,
 * loads the same oci-archive into a private store and reads its config.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type BuildResult, buildImage } from '../../../image/build.js';
import { runCli, startAgent, type TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const run = promisify(execFile);
const TAG = 'image-test';
// Fixed, because the other engineers' commits move HEAD (and its time) between the two builds.
// dist/ as it is: a source edited since the last build does not stop the test (the CLI refuses it).
const PINNED = { tag: TAG, epoch: 1_796_601_600, revision: 'test', allowStale: true };
let dir = '';
let built: BuildResult | undefined;
let agent: TestAgent | undefined;

function image(): BuildResult {
  assert.ok(built, 'the image was not built');
  return built;
}

describe('the berth OCI image', () => {
  before(async () => {
    dir = await tempDir('berth-image');
    built = await buildImage({ out: join(dir, 'a'), ...PINNED });
    process.stderr.write(
      `# berth image built in ${built.seconds.toFixed(1)} s, ${(built.compressedBytes / 1048576).toFixed(1)} MiB compressed\n`,
    );
    agent = await startAgent();
  });

  after(async () => {
    await agent?.stop();
    if (dir !== '') await removeDir(dir);
  });

  test('is a valid OCI layout: oci-layout, index.json naming the tag, a manifest for this host', async () => {
    const { layout } = image();
    assert.deepEqual(JSON.parse(await readFile(join(layout, 'oci-layout'), 'utf8')), {
      imageLayoutVersion: '1.0.0',
    });
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    assert.equal(index.manifests.length, 1);
    const m = index.manifests[0];
    assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.digest, image().manifestDigest);
    assert.equal(m.annotations['org.opencontainers.image.ref.name'], TAG);
    assert.deepEqual(m.platform, {
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
    });
    const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', m.digest.slice(7)), 'utf8'));
    assert.equal(manifest.layers.length, 2);
    for (const l of manifest.layers) assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const config = JSON.parse(
      await readFile(join(layout, 'blobs/sha256', manifest.config.digest.slice(7)), 'utf8'),
    );
    assert.deepEqual(config.config.Entrypoint, ['/usr/local/bin/berth']);
    assert.deepEqual(config.config.Cmd, ['agent']);
    const pkg = JSON.parse(await readFile('package.json', 'utf8'));
    assert.equal(config.config.Labels['org.opencontainers.image.version'], pkg.version);
  });

  test('a second build of the same checkout has the same digest, byte for byte', async () => {
    const again = await buildImage({ out: join(dir, 'b'), ...PINNED });
    assert.equal(again.manifestDigest, image().manifestDigest);
    assert.deepEqual(await readFile(again.archive), await readFile(image().archive));
  });

  test('berth load takes the oci-archive; berth --version inside prints the version of this checkout', async () => {
    assert.ok(agent);
    const load = await agent.cli(['load', '-i', image().archive], { timeoutMs: 120_000 });
    assert.equal(load.code, 0, load.stderr);
    const here = await runCli(['--version'], {});
    assert.equal(here.code, 0, here.stderr);
    const inside = await agent.cli(['run', '--rm', `berth:${TAG}`, '--version'], { timeoutMs: 60_000 });
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(inside.stdout.trim(), here.stdout.trim());
    assert.match(inside.stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  test('node inside is Node.js 24; runc, conmon, HAProxy, ip and iptables start (their libraries are in the image)', async () => {
    assert.ok(agent);
    const node = await agent.cli(['run', '--rm', '--entrypoint', 'node', `berth:${TAG}`, '--version']);
    assert.equal(node.code, 0, node.stderr);
    assert.match(node.stdout.trim(), /^v24\.\d+\.\d+$/);
    const tools: [string, string[], RegExp][] = [
      ['runc', ['--version'], /^runc version/m],
      ['conmon', ['--version'], /^conmon version/m],
      ['haproxy', ['-v'], /^HAProxy version/m],
      ['ip', ['-V'], /iproute2/],
      ['iptables', ['--version'], /^iptables v/m],
    ];
    if (existsSync('/usr/bin/crun')) tools.push(['crun', ['--version'], /^crun version/m]);
    for (const [name, args, want] of tools) {
      const r = await agent.cli(['run', '--rm', '--entrypoint', name, `berth:${TAG}`, ...args]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, want, name);
    }
  });

  test("berth agent --help runs inside (the image's default command is agent)", async () => {
    assert.ok(agent);
    const help = await agent.cli(['run', '--rm', `berth:${TAG}`, 'agent', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--mode/);
  });

  test('the pruned node_modules hold everything the agent imports; re2 and xattr load and work', async () => {
    assert.ok(agent);
    // The agent's composition root and the CLI pull in every runtime and sidecar module,
    // so an import the pruning dropped fails here; the native addons are then exercised.
    const script = [
      "import { createRequire } from 'node:module';",
      "await import('/opt/berth/dist/src/agent/run.js');",
      "await import('/opt/berth/dist/src/cli/main.js');",
      "const require = createRequire('/opt/berth/package.json');",
      "const RE2 = require('re2');",
      "const { listAttributesSync } = require('@napi-rs/xattr');",
      "console.log(new RE2('^a+$').test('aaa'), Array.isArray(listAttributesSync('/tmp')));",
    ].join('\n');
    const r = await agent.cli([
      'run',
      '--rm',
      '--entrypoint',
      'node',
      `berth:${TAG}`,
      '--input-type=module',
      '-e',
      script,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true true');
  });

  test("the chart's agent flags pass berth agent --check-config inside the image", async () => {
    assert.ok(agent);
    const r = await agent.cli([
      'run',
      '--rm',
      `berth:${TAG}`,
      'agent',
      '--check-config',
      '--mode',
      'observe',
      '--host-root',
      '/',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).mode, 'observe');
  });

  test('the image runs its default command: berth agent --mode observe starts and answers its API inside', async () => {
    assert.ok(agent);
    const a = agent;
    const start = await a.cli([
      'run',
      '-d',
      '--name',
      'berth-in-image',
      `berth:${TAG}`,
      'agent',
      '--mode',
      'observe',
    ]);
    assert.equal(start.code, 0, start.stderr);
    try {
      // `berth version` inside names the agent's version once the inner agent's socket answers.
      const v = await pollUntil(
        'the agent inside the image answers berth version',
        async () => {
          const r = await a.cli(['exec', 'berth-in-image', 'berth', 'version']);
          return r.code === 0 && /^agent berth \d/m.test(r.stdout) ? r.stdout : undefined;
        },
        60_000,
        1000,
      );
      assert.match(v, /^agent berth \d+\.\d+\.\d+ \(node v24\./m);
    } catch (err) {
      const logs = await a.cli(['logs', 'berth-in-image']);
      throw new Error(`${String(err)}\n--- the inner agent's log:\n${logs.stdout}${logs.stderr}`);
    } finally {
      await a.cli(['rm', '-f', 'berth-in-image']);
    }
  });

  test('podman, another OCI tool, loads the same archive into a private store and reads its config', async () => {
    const store = join(dir, 'podman');
    const podman = [
      '--root',
      join(store, 'root'),
      '--runroot',
      join(store, 'run'),
      '--storage-driver',
      'vfs',
    ];
    try {
      const load = await run('podman', [...podman, 'load', '-i', image().archive], { maxBuffer: 1 << 24 });
      assert.match(load.stdout + load.stderr, /Loaded image/);
      const id = /Loaded image(?:\(s\))?: (\S+)/.exec(load.stdout)?.[1];
      assert.ok(id, load.stdout);
      const { stdout } = await run('podman', [...podman, 'image', 'inspect', id]);
      const [inspected] = JSON.parse(stdout);
      assert.deepEqual(inspected.Config.Entrypoint, ['/usr/local/bin/berth']);
      assert.equal(inspected.Architecture, process.arch === 'x64' ? 'amd64' : process.arch);
    } finally {
      // Only this private store's images (system reset would also drop the host's podman networks).
      await run('podman', [...podman, 'rmi', '--all', '--force']).catch(() => undefined);
      await removeDir(store);
    }
  });
});
