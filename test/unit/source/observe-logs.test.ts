/**
 * Observed containers' logs: Docker's json-file and the kubelet's CRI files
 * from the fixture trees, through the real log pipeline (tailer, joiner,
 * formatter, Forward client) to a real Forward receiver on loopback. What a
 * user relies on: every line arrives with the fields Docker's fluentd driver
 * sends (container_name with Docker's `/`, partial_message and string
 * partial_* for Docker containers), partial
 * lines joined, nothing lost or repeated across a rotation and a restart.
 */
import assert from 'node:assert/strict';
import { appendFile, cp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseJsonFileEntry } from '../../../runtime/exec/json-file-format.js';
import { ObserveSource } from '../../../runtime/source/observe/source.js';
import { LogPipeline, type LogPipelineOptions } from '../../../sidecar/logs/pipeline.js';
import { FilePositionStore } from '../../../sidecar/logs/positions.js';
import { dockerFieldsFor, formatLine, recordContainerName } from '../../../sidecar/logs/record.js';
import { ForwardClient } from '../../../sidecar/logs/shipper.js';
import { FileTailer } from '../../../sidecar/logs/tailer.js';
import { pollUntil } from '../../harness/proc.js';
import { tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';

const FIX = join(import.meta.dirname, '../../fixtures/observe');
const A = 'a1'.repeat(32);
const K1 = 'd4'.repeat(32);

const OPTIONS: LogPipelineOptions = {
  tag: 'docker.{{.Name}}',
  host: 'node-1',
  labels: [],
  env: [],
  mergeJson: true,
  multilineTimeoutMs: 200,
  multilineMaxLines: 100,
  maxLineBytes: 16 * 1024,
  batchRecords: 500,
  batchBytes: 512 * 1024,
  pollIntervalMs: 20,
  memoryBufferBytes: 1024 * 1024,
  spoolMaxBytes: 16 * 1024 * 1024,
  retryMinMs: 50,
  retryMaxMs: 500,
  drainTimeoutMs: 3000,
};

const jline = (stream: string, time: string, log: string) => `${JSON.stringify({ log, stream, time })}\n`;

describe('observe: Docker json-file entries', () => {
  it('parse into the CRI entries the tailer joins; what is not Docker’s format is malformed', () => {
    const e = parseJsonFileEntry(
      Buffer.from('{"log":"hi\\n","stream":"stderr","time":"2026-12-01T10:00:01.2Z"}'),
    );
    assert.deepEqual(e && { ...e }, {
      time: '2026-12-01T10:00:01.200000000Z',
      sec: undefined,
      nsec: undefined,
      stream: 'stderr',
      partial: false,
      text: 'hi',
      bytes: 2,
    });
    assert.equal(
      parseJsonFileEntry(Buffer.from('{"log":"piece","stream":"stdout","time":"2026-12-01T10:00:01Z"}'))
        ?.partial,
      true,
    );
    for (const bad of [
      'not json',
      '{"log":1,"stream":"stdout","time":"2026-12-01T10:00:01Z"}',
      '{"log":"x\\n","stream":"stdin","time":"2026-12-01T10:00:01Z"}',
      '{"log":"x\\n","stream":"stdout","time":"yesterday"}',
      '["log"]',
    ]) {
      assert.equal(parseJsonFileEntry(Buffer.from(bad)), undefined, bad);
    }
  });

  it('Docker’s forms for Docker containers only, unless told otherwise', () => {
    assert.equal(dockerFieldsFor({ source: 'docker' }, 'auto'), true);
    assert.equal(dockerFieldsFor({ source: 'berth' }, 'auto'), false);
    assert.equal(dockerFieldsFor({ source: 'cri' }, 'auto'), false);
    assert.equal(dockerFieldsFor({ source: 'berth' }, 'always'), true);
    assert.equal(dockerFieldsFor({ source: 'docker' }, 'never'), false);
    assert.equal(recordContainerName('web', true), '/web');
    assert.equal(recordContainerName('web', false), 'web');
  });

  it('a split line is flagged as Docker’s fluentd driver flags it (strings), or as berth does', () => {
    const c = { id: A, name: '/web', image: 'nginx', imageName: 'nginx', imageTag: '', labels: {}, env: {} };
    const line = { time: '2026-12-01T10:00:01.000000000Z', stream: 'stdout' as const, text: 'x'.repeat(600) };
    const opts = { host: 'h', labels: [], env: [], mergeJson: false, maxLineBytes: 256 };
    const docker = formatLine(line, c, 't', { ...opts, dockerPartial: true }, 'k').map((r) => r.fields);
    assert.equal(docker.length, 3);
    assert.deepEqual(
      docker.map((f) => [f.partial_message, f.partial_ordinal, f.partial_last, 'partial' in f]),
      [
        ['true', '1', 'false', false],
        ['true', '2', 'false', false],
        ['true', '3', 'true', false],
      ],
    );
    assert.match(String(docker[0]?.partial_id), /^[0-9a-f]{32}$/);
    const berth = formatLine(line, c, 't', opts, 'k').map((r) => r.fields);
    assert.deepEqual(
      berth.map((f) => [f.partial, f.partial_ordinal, f.partial_last, 'partial_message' in f]),
      [
        [true, 1, false, false],
        [true, 2, false, false],
        [true, 3, true, false],
      ],
    );
  });

  it('a json-file rotated as Docker rotates it (rename to .1, new file) is read to its end, then the new one', async () => {
    const dir = await tempDir('observe-rot-');
    try {
      const p = join(dir, `${A}-json.log`);
      await writeFile(
        p,
        jline('stdout', '2026-12-01T10:00:00Z', 'one\n') + jline('stdout', '2026-12-01T10:00:01Z', 'two\n'),
      );
      const t = new FileTailer(p, { format: 'json-file' });
      const first = await t.poll();
      assert.deepEqual(
        first.lines.map((l) => l.line.text),
        ['one', 'two'],
      );
      await appendFile(p, jline('stdout', '2026-12-01T10:00:02Z', 'three\n'));
      await rename(p, `${p}.1`);
      await writeFile(p, jline('stdout', '2026-12-01T10:00:03Z', 'four\n'));
      const texts: string[] = [];
      let rotated = false;
      for (let i = 0; i < 5; i++) {
        const r = await t.poll();
        rotated ||= r.rotated;
        texts.push(...r.lines.map((l) => l.line.text));
      }
      assert.ok(rotated);
      assert.deepEqual(texts, ['three', 'four']);
      // A restart resumes at the stored position: nothing again, then only what is new.
      const pos = t.position();
      await t.closeAll();
      const again = new FileTailer(p, { format: 'json-file', ...(pos ? { position: pos } : {}) });
      await appendFile(p, jline('stderr', '2026-12-01T10:00:04Z', 'five\n'));
      assert.deepEqual(
        (await again.poll()).lines.map((l) => `${l.line.stream}:${l.line.text}`),
        ['stderr:five'],
      );
      await again.closeAll();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('observe: logs of observed containers to a Forward receiver', () => {
  let rx: ForwardReceiver;
  const dirs: string[] = [];
  before(async () => {
    rx = await ForwardReceiver.start();
  });
  after(async () => {
    await rx.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** Ships a copy of fixture `tree` (or, again, the host `tree` names when it is an absolute path). */
  async function ship(tree: string, write?: (root: string) => Promise<void>) {
    let root = tree;
    if (!tree.startsWith('/')) {
      root = await tempDir('observe-ship-');
      dirs.push(root);
      await cp(join(FIX, tree), root, { recursive: true, verbatimSymlinks: true });
    }
    await write?.(root);
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
    const positions = await FilePositionStore.open(join(root, 'positions.json'));
    const output = new ForwardClient({
      servers: [{ host: rx.host, port: rx.port }],
      requireAck: true,
      ackTimeoutMs: 2000,
      connectTimeoutMs: 1000,
      compress: false,
      backoffMinMs: 100,
      backoffMaxMs: 1000,
    });
    const pipeline = new LogPipeline({
      source,
      output,
      positions,
      spoolDir: join(root, 'spool'),
      options: OPTIONS,
    });
    await pipeline.start();
    return {
      root,
      async stop() {
        await pipeline.stop();
        await output.close();
        await source.close();
      },
    };
  }

  it('Docker containers’ json-file lines arrive as Docker’s fluentd driver sends them, a 40 KiB line joined', async () => {
    const long = 'x'.repeat(40 * 1024);
    const s = await ship('docker-systemd-v2', async (root) => {
      // Docker splits a line over 16 KiB into entries without the newline, the last one with it.
      const p = join(root, `var/lib/docker/containers/${A}/${A}-json.log`);
      await appendFile(
        p,
        jline('stdout', '2026-12-01T10:00:03Z', long.slice(0, 16384)) +
          jline('stdout', '2026-12-01T10:00:03.000001Z', long.slice(16384, 32768)) +
          jline('stdout', '2026-12-01T10:00:03.000002Z', `${long.slice(32768)}\n`),
      );
    });
    try {
      const mine = () => rx.records().filter((e) => e.record.container_id === A);
      await pollUntil('json-file records', async () => (mine().length >= 4 ? true : undefined), 10_000, 20);
      const recs = mine();
      const first = recs[0]?.record;
      assert.equal(first?.container_name, '/web');
      assert.equal(first?.source, 'stdout');
      assert.equal(first?.log, 'hello from web');
      assert.equal(first?.image, 'nginx');
      assert.equal(recs[0]?.tag, 'docker.web');
      // The joined 40 KiB line, split again at maxLineBytes into Docker's partial records.
      const parts = recs.slice(1).map((e) => e.record);
      assert.equal(parts.map((r) => r.log).join(''), long);
      assert.ok(parts.every((r) => r.partial_message === 'true' && r.container_name === '/web'));
      assert.equal(parts.at(-1)?.partial_last, 'true');
      assert.deepEqual(
        parts.map((r) => r.partial_ordinal),
        ['1', '2', '3'],
      );
    } finally {
      await s.stop();
    }
  });

  it('a kubelet rotation (0.log renamed away, the runtime reopens a new 0.log) loses and repeats nothing', async () => {
    const s = await ship('kubelet-cgroupfs-hybrid');
    const file = join(
      s.root,
      'var/log/pods/batch_report-28461_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/report/0.log',
    );
    const K2 = 'f6'.repeat(32);
    const cri = (i: number) => `2026-12-01T10:00:01.${String(i).padStart(9, '0')}Z stdout F n ${i}\n`;
    try {
      const mine = () =>
        rx.records().filter((e) => e.record.container_id === K2 && String(e.record.log).startsWith('n '));
      let text = '';
      for (let i = 0; i < 200; i++) text += cri(i);
      await appendFile(file, text);
      await pollUntil('first 200', async () => (mine().length >= 200 ? true : undefined), 10_000, 20);
      // kubelet's container log manager: rename to 0.log.<timestamp>, then the runtime reopens 0.log.
      await appendFile(file, cri(200) + cri(201));
      await rename(file, `${file}.20261201-100002`);
      text = '';
      for (let i = 202; i < 400; i++) text += cri(i);
      await writeFile(file, text);
      await pollUntil('all 400', async () => (mine().length >= 400 ? true : undefined), 10_000, 20);
      const got = mine().map((e) => Number(String(e.record.log).slice(2)));
      assert.deepEqual(
        got,
        Array.from({ length: 400 }, (_, i) => i),
      );
    } finally {
      await s.stop();
    }
  });

  it('an agent restart resumes at the stored positions: nothing shipped twice, nothing written meanwhile lost', async () => {
    const from = rx.records().length;
    const mine = () =>
      rx
        .records()
        .slice(from)
        .filter((e) => e.record.container_id === A);
    const first = await ship('docker-systemd-v2');
    await pollUntil('the first line', async () => (mine().length >= 1 ? true : undefined), 10_000, 20);
    await first.stop();
    const p = join(first.root, `var/lib/docker/containers/${A}/${A}-json.log`);
    await appendFile(p, jline('stdout', '2026-12-01T10:00:05Z', 'while down\n'));
    const again = await ship(first.root);
    try {
      await appendFile(p, jline('stderr', '2026-12-01T10:00:06Z', 'after restart\n'));
      await pollUntil('3 lines', async () => (mine().length >= 3 ? true : undefined), 10_000, 20);
      await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive by now
      assert.deepEqual(
        mine().map((e) => e.record.log),
        ['hello from web', 'while down', 'after restart'],
      );
    } finally {
      await again.stop();
    }
  });

  it('kubelet containers’ CRI lines arrive with P pieces joined and no slash in the name', async () => {
    // Only what this test's pipeline ships (another test's tree has a container of the same id).
    const from = rx.records().length;
    const s = await ship('kubelet-systemd-v2');
    try {
      const mine = () =>
        rx
          .records()
          .slice(from)
          .filter((e) => e.record.container_id === K1);
      await pollUntil('CRI records', async () => (mine().length >= 3 ? true : undefined), 10_000, 20);
      const recs = mine().map((e) => e.record);
      assert.deepEqual(
        recs.map((r) => `${r.source}:${r.log}`),
        ['stdout:hello from k8s', 'stdout:part one, part two', 'stderr:oops'],
      );
      assert.match(String(recs[0]?.container_name), /^k8s_nginx_web-7d9f8c-x2x4z_shop_/);
    } finally {
      await s.stop();
    }
  });
});
