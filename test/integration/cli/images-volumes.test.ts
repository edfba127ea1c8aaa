/**
 * Images through the CLI (load, import, pull from a real registry, images,
 * rmi), and the container config users set most: volumes, user, workdir,
 * hostname, network modes, /etc/hosts, events.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage, pushImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';
import { type RegistryHandle, startRegistry } from '../../harness/registry.js';
import { makeBusyboxRootfs } from '../../harness/rootfs.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const execFileAsync = promisify(execFile);
const IMAGE = 'test/busybox:vol';
let agent: TestAgent;
let plain: RegistryHandle;
let secure: RegistryHandle;
let dir: string;

async function ok(args: string[], env?: Record<string, string>): Promise<string> {
  const r = await agent.cli(args, env ? { env } : {});
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

describe('images, volumes and container settings through a real agent', () => {
  before(async () => {
    dir = await tempDir('berth-cli-images-');
    plain = await startRegistry();
    secure = await startRegistry({ tls: true, basicAuth: { user: 'alice', password: 's3cret' } });
    agent = await startAgent({ args: ['--insecure-registries', plain.host] });
    await ok(['load', '-i', await buildBusyboxImage({ format: 'oci', ref: IMAGE })]);
  });
  after(async () => {
    await agent?.stop();
    await plain?.stop();
    await secure?.stop();
    if (dir) await removeDir(dir);
  });

  test('import makes a one-layer image from a rootfs tarball', async () => {
    const rootfs = join(dir, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    await writeFile(join(rootfs, 'marker'), 'imported\n');
    const tar = join(dir, 'rootfs.tar.gz');
    await execFileAsync('tar', ['-C', rootfs, '-czf', tar, '.']);
    await ok(['import', tar, 'test/imported:1']);
    assert.equal(await ok(['run', '--rm', 'test/imported:1', 'cat', '/marker']), 'imported\n');
    assert.match(await ok(['images']), /test\/imported\s+1/);
  });

  test('pull from a plain-HTTP registry listed as insecure, then run it', async () => {
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: 'team/app:2',
      extraFiles: { 'app.txt': 'v2\n' },
      layers: 'two',
    });
    await pushImage(tar, plain, 'team/app', '2');
    const out = await ok(['pull', `${plain.host}/team/app:2`]);
    assert.match(out, /sha256:[0-9a-f]{64}/);
    assert.equal(await ok(['run', '--rm', `${plain.host}/team/app:2`, 'cat', '/app.txt']), 'v2\n');
  });

  test('pull over TLS with a custom CA and basic auth; wrong password is refused', async () => {
    const tar = await buildBusyboxImage({ format: 'oci', ref: 'private/app:1' });
    await pushImage(tar, secure, 'private/app', '1');
    const ref = `${secure.host}/private/app:1`;
    const bad = await agent.cli(['pull', '--ca', secure.caCertPath ?? '', '--username', 'alice', ref], {
      env: { BERTH_REGISTRY_PASSWORD: 'wrong' },
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /401|unauthori[sz]ed|denied|credentials/i);
    await ok(['pull', '--ca', secure.caCertPath ?? '', '--username', 'alice', ref], {
      BERTH_REGISTRY_PASSWORD: 's3cret',
    });
    assert.match(await ok(['images']), /private\/app/);
    const noCa = await agent.cli(['pull', '--username', 'alice', ref], {
      env: { BERTH_REGISTRY_PASSWORD: 's3cret' },
    });
    assert.notEqual(noCa.code, 0, 'a registry with an unknown CA must be refused');
  });

  test('login checks credentials and keeps them (root-only, with the CA) for later pulls; logout forgets', async () => {
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: 'private/other:1',
      config: { Env: ['OTHER=1'] },
    });
    await pushImage(tar, secure, 'private/other', '1');
    const ref = `${secure.host}/private/other:1`;
    const ca = secure.caCertPath ?? '';
    const login = (password: string) =>
      agent.cli(['login', secure.host, '-u', 'alice', '--password-stdin', '--ca', ca], {
        input: `${password}\n`,
      });
    const wrong = await login('not-it');
    assert.equal(wrong.code, 125);
    assert.match(wrong.stderr, /401|unauthori[sz]ed|denied|credentials/i);
    assert.ok(!existsSync(join(agent.stateRoot, 'auth.json')), 'a refused login keeps nothing');
    const noPassword = await agent.cli(['login', secure.host, '-u', 'alice']);
    assert.match(
      noPassword.stderr,
      /password: give it on stdin with --password-stdin, or in BERTH_REGISTRY_PASSWORD/,
    );

    const good = await login('s3cret');
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stdout, 'Login Succeeded\n');
    assert.equal((await stat(join(agent.stateRoot, 'auth.json'))).mode & 0o777, 0o600);
    await ok(['pull', ref]);
    assert.match(await ok(['images']), /private\/other/);

    assert.equal(await ok(['logout', secure.host]), `Removed login credentials for ${secure.host}\n`);
    await ok(['rmi', ref]);
    const forgotten = await agent.cli(['pull', ref]);
    assert.notEqual(forgotten.code, 0, 'without the login (and its CA) the pull is refused');
    assert.match(
      (await agent.cli(['logout', secure.host])).stderr,
      new RegExp(`not logged in to ${secure.host}`),
    );
  });

  test('rmi refuses an image in use, removes it once free', async () => {
    await ok(['run', '-d', '--name', 'user-of-import', 'test/imported:1', 'sleep', '60']);
    const refused = await agent.cli(['rmi', 'test/imported:1']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /in use|used by/i);
    await ok(['rm', '-f', 'user-of-import']);
    await ok(['rmi', 'test/imported:1']);
    assert.doesNotMatch(await ok(['images']), /test\/imported/);
  });

  test('bind mounts honour :ro; named volumes persist across containers', async () => {
    const host = join(dir, 'bind');
    await mkdir(host, { recursive: true });
    await writeFile(join(host, 'in.txt'), 'from host\n');
    assert.equal(
      await ok(['run', '--rm', '-v', `${host}:/data:ro`, IMAGE, 'cat', '/data/in.txt']),
      'from host\n',
    );
    const ro = await agent.cli(['run', '--rm', '-v', `${host}:/data:ro`, IMAGE, 'touch', '/data/x']);
    assert.notEqual(ro.code, 0);
    await ok(['run', '--rm', '-v', `${host}:/data`, IMAGE, 'sh', '-c', 'echo written > /data/out.txt']);
    assert.equal(await readFile(join(host, 'out.txt'), 'utf8'), 'written\n');
    await ok(['run', '--rm', '-v', 'cache:/cache', IMAGE, 'sh', '-c', 'echo kept > /cache/f']);
    assert.equal(await ok(['run', '--rm', '-v', 'cache:/cache', IMAGE, 'cat', '/cache/f']), 'kept\n');
  });

  test('volume ls/create/inspect/rm/prune; an anonymous volume goes with its container', async () => {
    type Vol = { name: string; anonymous: boolean; usedBy: string[]; mountpoint: string };
    const volumes = async () => JSON.parse(await ok(['volume', 'ls', '--format', 'json'])) as Vol[];
    assert.equal(await ok(['volume', 'create', 'keep']), 'keep\n');
    assert.equal(await ok(['volume', 'create', 'keep']), 'keep\n', 'create is idempotent');
    await ok(['volume', 'create', 'spare']);
    await ok(['run', '-d', '--name', 'vol-user', '-v', 'keep:/k', '-v', '/scratch', IMAGE, 'sleep', '60']);
    const listed = await volumes();
    const keep = listed.find((v) => v.name === 'keep');
    assert.deepEqual(keep?.usedBy, ['vol-user']);
    const anon = listed.find((v) => v.anonymous);
    assert.ok(anon, `an anonymous volume for -v /scratch in ${JSON.stringify(listed)}`);
    assert.deepEqual(anon.usedBy, ['vol-user']);
    const [shown] = JSON.parse(await ok(['volume', 'inspect', 'keep'])) as Vol[];
    assert.equal(shown?.mountpoint, join(agent.stateRoot, 'volumes', 'keep', '_data'));

    const inUse = await agent.cli(['volume', 'rm', 'keep']);
    assert.equal(inUse.code, 125);
    assert.match(inUse.stderr, /volume keep is in use by container vol-user/);
    // prune takes only what nobody mounts.
    assert.match(await ok(['volume', 'prune']), /Deleted: spare\n/);
    const pruned = (await volumes()).map((v) => v.name);
    assert.ok(
      !pruned.includes('spare') && pruned.includes('keep') && pruned.includes(anon.name),
      pruned.join(),
    );

    await ok(['rm', '-f', 'vol-user']);
    const left = await volumes();
    assert.ok(!left.some((v) => v.name === anon.name), 'the anonymous volume went with its container');
    assert.ok(
      left.some((v) => v.name === 'keep'),
      'a named one stays',
    );
    // run --rm -v /path: nothing left behind either.
    await ok(['run', '--rm', '-v', '/tmpdata', IMAGE, 'true']);
    await pollUntil(
      "the --rm container's anonymous volume to go",
      async () => ((await volumes()).some((v) => v.anonymous) ? undefined : true),
      10_000,
    );
    assert.equal(await ok(['volume', 'rm', 'keep']), 'keep\n');
    const missing = await agent.cli(['volume', 'rm', 'keep']);
    assert.match(missing.stderr, /no such volume: keep/);
  });

  test('user, workdir and hostname', async () => {
    assert.equal(await ok(['run', '--rm', '-u', 'nobody', IMAGE, 'id', '-u']), '65534\n');
    assert.equal(
      await ok(['run', '--rm', '-u', '1234:5678', IMAGE, 'sh', '-c', 'echo $(id -u):$(id -g)']),
      '1234:5678\n',
    );
    assert.equal(await ok(['run', '--rm', '-w', '/tmp', IMAGE, 'pwd']), '/tmp\n');
    assert.equal(await ok(['run', '--rm', '--hostname', 'box1', IMAGE, 'hostname']), 'box1\n');
    const hosts = await ok(['run', '--rm', '--hostname', 'box2', IMAGE, 'cat', '/etc/hosts']);
    assert.match(hosts, /box2/);
    assert.match(hosts, /127\.0\.0\.1\s+localhost/);
  });

  test('network modes: none has only lo, host sees the host, bridge gets an address in the subnet', async () => {
    const none = await ok(['run', '--rm', '--network', 'none', IMAGE, 'ip', '-o', 'link']);
    assert.deepEqual(
      none
        .trim()
        .split('\n')
        .map((l) => l.split(':')[1]?.trim()),
      ['lo'],
    );
    const hostIfs = await ok(['run', '--rm', '--network', 'host', IMAGE, 'ip', '-o', 'link']);
    assert.match(hostIfs, new RegExp(agent.bridge));
    const addr = await ok(['run', '--rm', IMAGE, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    const prefix = agent.subnet.split('.').slice(0, 3).join('.');
    assert.match(addr, new RegExp(`inet ${prefix.replace(/\./g, '\\.')}\\.\\d+/24`));
    const resolv = await ok(['run', '--rm', IMAGE, 'cat', '/etc/resolv.conf']);
    assert.match(resolv, new RegExp(`nameserver ${prefix.replace(/\./g, '\\.')}\\.1`));
  });

  test('two live containers never share an address, and reach each other by name through the embedded DNS', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'peer-a',
      IMAGE,
      'sh',
      '-c',
      'echo hello-from-a > /i.html; httpd -f -p 8000 -h /',
    ]);
    await ok(['run', '-d', '--name', 'peer-b', IMAGE, 'sleep', '60']);
    const [a] = JSON.parse(await ok(['inspect', 'peer-a'])) as Array<{ addresses: Record<string, string> }>;
    const [b] = JSON.parse(await ok(['inspect', 'peer-b'])) as Array<{ addresses: Record<string, string> }>;
    assert.notEqual(Object.values(a?.addresses ?? {})[0], Object.values(b?.addresses ?? {})[0]);
    const got = await ok(['exec', 'peer-b', 'wget', '-q', '-O', '-', 'http://peer-a.consul:8000/i.html']);
    assert.equal(got, 'hello-from-a\n');
    await ok(['rm', '-f', 'peer-a', 'peer-b']);
  });

  // Last: image prune -a takes every image no container uses.
  test('tag names an image twice; container prune and image prune -a take only what nothing uses', async () => {
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: 'prune/me:1',
      config: { Env: ['PRUNE=1'] },
    });
    await ok(['load', '-i', tar]);
    await ok(['tag', 'prune/me:1', 'prune/alias:2']);
    assert.match(await ok(['images']), /prune\/alias\s+2\s+(\w{12})[\s\S]*prune\/me\s+1\s+\1/);
    await ok(['run', '-d', '--name', 'keeper', IMAGE, 'sleep', '60']);
    await ok(['run', '--name', 'pruned-box', 'prune/alias:2', 'true']);

    // The exited container still holds its image.
    assert.doesNotMatch(await ok(['image', 'prune', '-a']), /prune\//);
    assert.match(await ok(['images']), /prune\/me/);
    assert.equal(await ok(['container', 'prune']), 'pruned-box\nRemoved 1 container\n');
    assert.match(await ok(['ps', '-a']), /keeper/);
    const pruned = await ok(['image', 'prune', '-a']);
    assert.match(pruned, /Untagged: prune\/me:1\n/);
    assert.match(pruned, /Untagged: prune\/alias:2\n/);
    assert.match(pruned, /Deleted: sha256:[0-9a-f]{64}\n[\s\S]*Removed \d+ images?\n$/);
    const left = await ok(['images']);
    assert.doesNotMatch(left, /prune\//);
    assert.match(left, /test\/busybox\s+vol/, 'the image a running container uses stays');
    const bad = await agent.cli(['tag', 'no/such:1', 'x:1']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /no\/such:1/);
    await ok(['rm', '-f', 'keeper']);
  });
});
