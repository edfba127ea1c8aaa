/**
 * `berth logs` of observed containers, the pure parts: which files
 * (observedLogFiles: Docker's `-json.log.N` oldest first, the kubelet's
 * `<n>.log.<stamp>`, compressed ones left out, refusals naming the
 * container and why), the reader over them (K8sLogReader with json-file,
 * several older files, malformed and over-long records skipped and
 * counted), and openUnder (a path out of its root or not a regular file
 * refused).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { K8sLogReader, MAX_RECORD_BYTES } from '../../../runtime/exec/logfile.js';
import type { LogLine, LogQuery } from '../../../runtime/runtime.js';
import { observedLogFiles } from '../../../runtime/source/observe/logs.js';
import { openUnder } from '../../../runtime/source/observe/safe-read.js';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import { fakeDescriptor } from '../../harness/fake-source.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-observe-logread-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (log: string, stream: 'stdout' | 'stderr', sec: number) =>
  `${JSON.stringify({ log, stream, time: `2026-12-07T10:00:${String(sec).padStart(2, '0')}.5Z` })}\n`;

async function collect(path: string, q: LogQuery, older: string[], onMalformed?: () => void) {
  const out: LogLine[] = [];
  const opts = { format: 'json-file' as const, older, ...(onMalformed ? { onMalformed } : {}) };
  for await (const l of new K8sLogReader().read(path, q, opts)) out.push(l);
  return out;
}

function desc(over: Partial<ContainerDescriptor>): ContainerDescriptor {
  return fakeDescriptor(over);
}

describe('observedLogFiles', () => {
  test("Docker: the rotated files oldest first (numerically), other ids' and .gz left out", async () => {
    const id = 'c'.repeat(64);
    const docker = join(dir, 'docker');
    const cdir = join(docker, 'containers', id);
    await mkdir(cdir, { recursive: true });
    const path = join(cdir, `${id}-json.log`);
    for (const n of ['', '.1', '.2', '.10', '.3.gz', '.x']) await writeFile(`${path}${n}`, '');
    await writeFile(join(cdir, `${'d'.repeat(64)}-json.log.4`), '');
    const f = await observedLogFiles(
      desc({ id, name: 'web', source: 'docker', logPath: path, logFormat: 'json-file' }),
      { docker, log: join(dir, 'log') },
    );
    assert.deepEqual(f, {
      path,
      older: [`${path}.10`, `${path}.2`, `${path}.1`],
      format: 'json-file',
      root: docker,
    });
  });

  test('Docker with another log driver: refused naming the container and the driver', async () => {
    const id = 'e'.repeat(64);
    const docker = join(dir, 'docker');
    await mkdir(join(docker, 'containers', id), { recursive: true });
    await writeFile(
      join(docker, 'containers', id, 'hostconfig.json'),
      JSON.stringify({ LogConfig: { Type: 'journald' } }),
    );
    await assert.rejects(
      observedLogFiles(desc({ id, name: 'jd', source: 'docker' }), { docker, log: join(dir, 'log') }),
      (err: Error & { code?: string }) =>
        err.code === 'FailedPrecondition' &&
        err.message ===
          `cannot read the logs of jd (${'e'.repeat(12)}): log driver journald: not a file berth can read (only json-file is; use docker logs)`,
    );
  });

  test("CRI: the kubelet's rotated files by their stamp, compressed ones left out", async () => {
    const log = join(dir, 'log');
    const cdir = join(log, 'pods', 'ns_pod_0123456789abcdef0123456789abcdef', 'app');
    await mkdir(cdir, { recursive: true });
    const path = join(cdir, '2.log');
    for (const n of ['', '.20261207-101500', '.20261206-090000', '.20261205-080000.gz', '.tmp'])
      await writeFile(`${path}${n}`, '');
    await writeFile(join(cdir, '1.log.20261201-000000'), '');
    const f = await observedLogFiles(desc({ source: 'cri', logPath: path, logFormat: 'k8s-file' }), {
      docker: join(dir, 'docker'),
      log,
    });
    assert.deepEqual(f.older, [`${path}.20261206-090000`, `${path}.20261207-101500`]);
    assert.equal(f.format, 'k8s-file');
    assert.equal(f.root, log);
  });

  test('a bare cgroup, and a CRI container without a link: refused, naming why', async () => {
    const roots = { docker: join(dir, 'docker'), log: join(dir, 'log') };
    await assert.rejects(
      observedLogFiles(desc({ name: 'abc', source: 'cgroup' }), roots),
      /cannot read the logs of abc \(.+\): no log file \(source cgroup/,
    );
    await assert.rejects(observedLogFiles(desc({ source: 'cri' }), roots), /no log file \(the kubelet/);
    await assert.rejects(
      observedLogFiles(desc({ source: 'cri', logPath: '/etc/passwd' }), roots),
      /is outside/,
    );
  });
});

describe('K8sLogReader over json-file with several older files', () => {
  test('oldest first, stderr kept apart, malformed lines skipped and counted, --tail across files', async () => {
    const path = join(dir, 'r-json.log');
    await writeFile(`${path}.2`, entry('a\n', 'stdout', 1));
    await writeFile(
      `${path}.1`,
      `${entry('b\n', 'stderr', 2)}{"log":1}\nnot json\n${entry('c\n', 'stdout', 3)}`,
    );
    await writeFile(path, entry('d\n', 'stdout', 4));
    let bad = 0;
    const all = await collect(path, {}, [`${path}.2`, `${path}.1`], () => bad++);
    assert.deepEqual(
      all.map((l) => [l.stream, l.line]),
      [
        ['stdout', 'a'],
        ['stderr', 'b'],
        ['stdout', 'c'],
        ['stdout', 'd'],
      ],
    );
    assert.equal(bad, 2);
    assert.equal(all[0]?.time, '2026-12-07T10:00:01.500000000Z');
    const tail = await collect(path, { tail: 3 }, [`${path}.2`, `${path}.1`]);
    assert.deepEqual(
      tail.map((l) => l.line),
      ['b', 'c', 'd'],
    );
  });

  test('a record longer than MAX_RECORD_BYTES is skipped (counted), the next one read; --tail too', async () => {
    const path = join(dir, 'big-json.log');
    const huge = `{"log":"${'x'.repeat(MAX_RECORD_BYTES + 100)}`;
    await writeFile(path, `${entry('before\n', 'stdout', 1)}${huge}\n${entry('after\n', 'stdout', 2)}`);
    let bad = 0;
    const all = await collect(path, {}, [], () => bad++);
    assert.deepEqual(
      all.map((l) => l.line),
      ['before', 'after'],
    );
    assert.equal(bad, 1);
    const tail = await collect(path, { tail: 1 }, []);
    assert.deepEqual(
      tail.map((l) => l.line),
      ['after'],
    );
    // Nothing but one endless record: no lines, no unbounded buffer.
    await writeFile(path, huge);
    assert.deepEqual(await collect(path, { tail: 5 }, []), []);
  });
});

describe('openUnder', () => {
  test('absent: undefined; a symlink out of the root or a FIFO: refused; a file inside: opened', async () => {
    const root = join(dir, 'root');
    await mkdir(root, { recursive: true });
    assert.equal(await openUnder(root, join(root, 'none')), undefined);
    await symlink('/etc/hostname', join(root, 'out'));
    await assert.rejects(openUnder(root, join(root, 'out')), /resolves outside/);
    execFileSync('mkfifo', [join(root, 'fifo')]);
    await assert.rejects(openUnder(root, join(root, 'fifo')), /not a regular file/);
    await writeFile(join(root, 'ok'), 'x');
    const fh = await openUnder(root, join(root, 'ok'));
    assert.ok(fh);
    await fh.close();
  });
});
