/**
 * Issue 12 item 8, the log shipper: a line of partial (`P`) records is
 * joined up to the join cap (64 × max_line_bytes, 1 MiB by default) and
 * shipped on as records of the same split line: one `partial_id`, ordinals
 * 1..n without a gap, `partial_last` only on the very last record. Nothing is
 * lost, and the reader never holds more than the cap of one line.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LogPipeline, type LogPipelineOptions } from '../../../sidecar/logs/pipeline.js';
import { FilePositionStore } from '../../../sidecar/logs/positions.js';
import { ForwardClient } from '../../../sidecar/logs/shipper.js';
import { FakeContainerSource, fakeDescriptor } from '../../harness/fake-source.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { ForwardReceiver } from '../../tools/forward-receiver/receiver.js';

const OPTIONS: LogPipelineOptions = {
  tag: 'berth.{{.Name}}',
  host: 'test-host.example',
  labels: [],
  env: [],
  mergeJson: true,
  multilineTimeoutMs: 200,
  multilineMaxLines: 100,
  maxLineBytes: 16 * 1024,
  batchRecords: 500,
  batchBytes: 512 * 1024,
  pollIntervalMs: 20,
  memoryBufferBytes: 4 * 1024 * 1024,
  spoolMaxBytes: 64 * 1024 * 1024,
  retryMinMs: 50,
  retryMaxMs: 500,
  drainTimeoutMs: 5000,
};

const T = (i: number) => `2026-12-07T10:00:00.${String(i).padStart(9, '0')}Z`;

describe('log shipper: a line longer than the join cap', () => {
  let dir = '';
  let rx: ForwardReceiver | undefined;
  let pipeline: LogPipeline | undefined;
  let output: ForwardClient | undefined;
  let positions: FilePositionStore | undefined;
  before(async () => {
    dir = await tempDir('logs-long-line');
    rx = await ForwardReceiver.start();
  });
  after(async () => {
    await pipeline?.stop({ graceful: false });
    await output?.close();
    positions?.abandon();
    await rx?.stop();
    await removeDir(dir);
  });

  test('a 3 MiB line of 8 KiB P records arrives whole, as one split line; the next line after it', async () => {
    assert.ok(rx);
    const path = join(dir, 'long.log');
    const frag = 8192;
    const n = 384;
    let text = '';
    const recs: string[] = [];
    for (let i = 0; i < n; i++) {
      // Multi-byte characters too: the cap counts bytes.
      const piece = `${'é'.repeat(100)}${String.fromCharCode(0x61 + (i % 26)).repeat(frag - 200 - 5)}${String(i).padStart(5, '0')}`;
      text += piece;
      recs.push(`${T(i)} stdout ${i === n - 1 ? 'F' : 'P'} ${piece}`);
    }
    recs.push(`${T(n)} stdout F after`);
    await appendFile(path, `${recs.join('\n')}\n`);
    const source = new FakeContainerSource([
      fakeDescriptor({
        id: 'd'.repeat(64),
        name: 'long',
        image: 'busybox:1.36',
        imageTag: '1.36',
        logPath: path,
      }),
    ]);
    positions = await FilePositionStore.open(join(dir, 'positions.json'), { flushMs: 50 });
    output = new ForwardClient({
      servers: [{ host: '127.0.0.1', port: rx.port }],
      requireAck: true,
      ackTimeoutMs: 5000,
      connectTimeoutMs: 1000,
      compress: false,
      backoffMinMs: 100,
      backoffMaxMs: 1000,
    });
    pipeline = new LogPipeline({ source, output, positions, spoolDir: join(dir, 'spool'), options: OPTIONS });
    await pipeline.start();
    const deadline = Date.now() + 20_000;
    while (!rx.records().some((e) => e.record.log === 'after')) {
      assert.ok(Date.now() < deadline, 'the line after the long one arrived');
      await new Promise((r) => setTimeout(r, 50));
    }
    const got = rx.records().filter((e) => e.record.container_name === 'long');
    const after = got.pop();
    assert.equal(after?.record.log, 'after');
    assert.equal(after?.record.partial, undefined, 'the next line is whole');
    const ids = new Set(got.map((e) => e.record.partial_id));
    assert.equal(ids.size, 1, `one partial_id for the whole line, got ${ids.size}`);
    assert.deepEqual(
      got.map((e) => e.record.partial_ordinal),
      got.map((_, i) => i + 1),
      'ordinals 1..n without a gap',
    );
    assert.deepEqual(
      got.map((e) => e.record.partial_last),
      got.map((_, i) => i === got.length - 1),
      'partial_last only on the last record',
    );
    assert.ok(got.every((e) => e.record.partial === true));
    assert.equal(got.map((e) => e.record.log).join(''), text, 'nothing lost, nothing added');
    assert.ok(
      got.every((e) => Buffer.byteLength(String(e.record.log)) <= OPTIONS.maxLineBytes),
      'each record at most max_line_bytes',
    );
  });
});
