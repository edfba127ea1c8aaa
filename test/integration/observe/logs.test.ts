/**
 * `berth logs` of observed containers (observe mode) as a user sees it from
 * the CLI: a Docker-style container's json-file log read after its rotated
 * files (`-json.log.2`, `.1`, then the current one), `--tail` across files,
 * `--since`, `--timestamps`, `-f` following an appended line, stderr on
 * stderr as for berth's own containers; and a clear refusal, naming the
 * container and why, for one whose log berth cannot read (journald, a bare
 * cgroup, a log file that is a symlink out of Docker's root). The API route
 * and the dashboard's /v1/ws/logs answer the same.
 *
 * Agent A (run mode) runs two containers as an engine would; agent B
 * (`--mode observe`, not skipping /berth) observes them: one laid out as
 * Docker lays one out (config.v2.json and json-file logs under a Docker
 * root written here), the other a bare cgroup. Two exited Docker-style
 * records have no cgroup at all (journald; a log symlink to /etc/hostname).
 * B runs one container of its own for the comparison.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import type { TestAgent } from '../../harness/agent.js';
import { pollUntil } from '../../harness/proc.js';
import { tempDir } from '../../harness/tmp.js';
import { agentWithImage, IMAGE, ok } from '../logs-e2e/e2e.js';

const entry = (log: string, stream: 'stdout' | 'stderr', time: string) =>
  `${JSON.stringify({ log, stream, time })}\n`;
const T = (s: string) => `2026-12-07T10:00:${s}Z`;

describe('observe mode: berth logs reads the observed containers’ log files', () => {
  let a: TestAgent | undefined;
  let b: TestAgent | undefined;
  let dir = '';
  const dk = `lg-dk-${process.pid}`;
  const bare = `lg-bare-${process.pid}`;
  const own = `lg-own-${process.pid}`;
  const jd = `lg-jd-${process.pid}`;
  const ln = `lg-ln-${process.pid}`;
  const jdId = 'a1'.repeat(32);
  const lnId = 'b2'.repeat(32);
  let dkId = '';
  let bareId = '';
  let current = '';

  const idOf = async (agent: TestAgent, name: string) => {
    const [d] = JSON.parse(await ok(agent, ['inspect', name])) as Array<{ id: string; pid?: number }>;
    assert.match(d?.id ?? '', /^[0-9a-f]{64}$/);
    return d as { id: string; pid?: number };
  };
  /** Docker's records of one container under the fake Docker root. */
  const record = async (id: string, name: string, running: { pid: number } | undefined, driver: string) => {
    const rec = join(dir, 'docker/containers', id);
    await mkdir(rec, { recursive: true });
    const started = new Date(Date.now() - 60_000).toISOString();
    await writeFile(
      join(rec, 'config.v2.json'),
      JSON.stringify({
        ID: id,
        Name: `/${name}`,
        Created: started,
        State: running
          ? { Running: true, Pid: running.pid, StartedAt: started }
          : { Running: false, StartedAt: started, FinishedAt: new Date().toISOString(), ExitCode: 0 },
        Config: { Image: IMAGE, Labels: {}, Env: ['PATH=/bin'] },
        Image: `sha256:${'ab'.repeat(32)}`,
      }),
    );
    await writeFile(
      join(rec, 'hostconfig.json'),
      JSON.stringify({ LogConfig: { Type: driver, Config: {} } }),
    );
    return rec;
  };

  before(async () => {
    a = await agentWithImage();
    await ok(a, ['run', '-d', '--name', dk, IMAGE, 'sleep', '300']);
    await ok(a, ['run', '-d', '--name', bare, IMAGE, 'sleep', '300']);
    const dkDesc = await idOf(a, dk);
    dkId = dkDesc.id;
    bareId = (await idOf(a, bare)).id;
    dir = await tempDir('observe-logs-');
    const rec = await record(dkId, dk, { pid: dkDesc.pid ?? 0 }, 'json-file');
    current = join(rec, `${dkId}-json.log`);
    // Docker's rotation: `.2` is the oldest, `.1` the newer, then the file at the path.
    await writeFile(`${current}.2`, entry('l1\n', 'stdout', T('01.5')));
    await writeFile(
      `${current}.1`,
      entry('l2\n', 'stdout', T('02')) +
        'not json at all\n' +
        entry('e1\n', 'stderr', T('03')) +
        entry('par', 'stdout', T('04')) +
        entry('tial\n', 'stdout', T('04.5')) +
        entry('e2\n', 'stderr', T('05')),
    );
    await writeFile(current, entry('l3\n', 'stdout', T('06')));
    await record(jdId, jd, undefined, 'journald');
    const lnRec = await record(lnId, ln, undefined, 'json-file');
    await symlink('/etc/hostname', join(lnRec, `${lnId}-json.log`));
    await mkdir(join(dir, 'var/log'), { recursive: true });
    b = await agentWithImage([
      '--mode',
      'observe',
      '--host-log-root',
      join(dir, 'var/log'),
      '--docker-root',
      join(dir, 'docker'),
      '--observe-skip-cgroups',
      '/nothing',
      '--observe-rescan-interval',
      '1s',
      '--haproxy',
      'off',
    ]);
    await ok(b, [
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      own,
      IMAGE,
      'sh',
      '-c',
      'echo out; echo err >&2; sleep 300',
    ]);
    await pollUntil(
      'the observed containers in B’s ps',
      async () => {
        const ids = (
          JSON.parse(await ok(b as TestAgent, ['ps', '-a', '--format', 'json'])) as ContainerDescriptor[]
        ).map((c) => c.id);
        return [dkId, bareId, jdId, lnId].every((id) => ids.includes(id)) ? true : undefined;
      },
      20_000,
      200,
    );
  });

  after(async () => {
    await b?.stop();
    await a?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints the rotated files’ lines before the current file’s, stderr on stderr, a malformed line skipped', async () => {
    const r = await (b as TestAgent).cli(['logs', dk]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'l1\nl2\npartial\nl3\n');
    assert.equal(r.stderr, 'e1\ne2\n');
    // By id too, as for berth's own.
    const byId = await (b as TestAgent).cli(['logs', dkId.slice(0, 12)]);
    assert.equal(byId.stdout, r.stdout);
    // berth's own container: its stderr goes to stderr the same way.
    await pollUntil(
      'own container output',
      async () => ((await (b as TestAgent).cli(['logs', own])).stderr === 'err\n' ? true : undefined),
      10_000,
      100,
    );
    const mine = await (b as TestAgent).cli(['logs', own]);
    assert.deepEqual([mine.code, mine.stdout, mine.stderr], [0, 'out\n', 'err\n']);
  });

  it('--tail N counts from the end across the files; --since and --timestamps as for own containers', async () => {
    const t2 = await (b as TestAgent).cli(['logs', '--tail', '2', dk]);
    assert.equal(t2.code, 0, t2.stderr);
    // e2 is the last line of `.1`, l3 the only one of the current file.
    assert.equal(t2.stdout, 'l3\n');
    assert.equal(t2.stderr, 'e2\n');
    const t5 = await (b as TestAgent).cli(['logs', '-n', '5', dk]);
    assert.equal(t5.stdout, 'l2\npartial\nl3\n');
    assert.equal(t5.stderr, 'e1\ne2\n');
    const since = await (b as TestAgent).cli(['logs', '--since', T('04'), dk]);
    assert.equal(since.stdout, 'partial\nl3\n');
    assert.equal(since.stderr, 'e2\n');
    const ts = await (b as TestAgent).cli(['logs', '-t', '--tail', '1', dk]);
    assert.equal(ts.stdout, `${T('06.000000000')} l3\n`);
  });

  it('the route and the dashboard stream answer the same: 412 naming why, lines of the files', async () => {
    const bb = b as TestAgent;
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ socketPath: bb.socket, path }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const refused = await get(`/v1/containers/${jd}/logs`);
    assert.equal(refused.status, 412, refused.body);
    assert.match(refused.body, /log driver journald: not a file berth can read/);
    const tail = await get(`/v1/containers/${dk}/logs?tail=2`);
    assert.equal(tail.status, 200);
    assert.deepEqual(
      tail.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { stream: string; line: string })
        .map((l) => [l.stream, l.line]),
      [
        ['stderr', 'e2'],
        ['stdout', 'l3'],
      ],
    );
    // The dashboard's stream (no follow: what is there, then close 1000).
    const ws = new WebSocket(`ws+unix://${bb.socket}:/v1/ws/logs?container=${dk}&tail=2`);
    const messages: unknown[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    const closed = await new Promise<number>((resolve, reject) => {
      ws.once('close', (code) => resolve(code));
      ws.once('error', reject);
    });
    assert.equal(closed, 1000);
    const lines = messages.flatMap((m) => (Array.isArray(m) ? (m as Array<Record<string, string>>) : []));
    assert.deepEqual(
      lines.map((l) => [l.container, l.stream, l.line]),
      [
        [dk, 'stderr', 'e2'],
        [dk, 'stdout', 'l3'],
      ],
    );
  });

  it('-f follows a line appended while it runs', async () => {
    const bb = b as TestAgent;
    const child = spawn(
      join(import.meta.dirname, '../../../src/bin/berth'),
      ['logs', '-f', '--tail', '1', dk],
      {
        env: { ...process.env, ...bb.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    try {
      await pollUntil('the tail line', async () => (out === 'l3\n' ? true : undefined), 10_000, 50);
      await appendFile(current, entry('l4 appended\n', 'stdout', new Date().toISOString()));
      await appendFile(current, entry('e3 appended\n', 'stderr', new Date().toISOString()));
      await pollUntil(
        'the appended lines',
        async () => (out === 'l3\nl4 appended\n' && err === 'e3 appended\n' ? true : undefined),
        10_000,
        50,
      );
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    assert.equal(out, 'l3\nl4 appended\n', err);
  });

  it('refuses a container without a readable log, naming it and why (not "no such container")', async () => {
    const bb = b as TestAgent;
    const journald = await bb.cli(['logs', jd]);
    assert.equal(journald.code, 125, journald.stdout);
    assert.match(
      journald.stderr,
      new RegExp(
        `cannot read the logs of ${jd} \\(${jdId.slice(0, 12)}\\): log driver journald: not a file berth can read`,
      ),
    );
    const cgroup = await bb.cli(['logs', bareId.slice(0, 12)]);
    assert.equal(cgroup.code, 125, cgroup.stdout);
    assert.match(cgroup.stderr, /cannot read the logs of .+: no log file \(source cgroup/);
    // A json-file log that is a symlink out of Docker's root is not followed.
    const link = await bb.cli(['logs', ln]);
    assert.equal(link.code, 125, link.stdout);
    assert.match(
      link.stderr,
      new RegExp(`cannot read the logs of ${ln} \\(${lnId.slice(0, 12)}\\): .*resolves outside`),
    );
    assert.equal(link.stdout, '');
    for (const r of [journald, cgroup, link]) assert.doesNotMatch(r.stderr, /not found|no such container/);
    // A name nobody knows is still not found.
    const missing = await bb.cli(['logs', `nothing-${process.pid}`]);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /no such container/);
  });
});
