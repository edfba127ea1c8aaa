import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LogBatcher, type LogMessage } from '../../../src/api/log-batcher.js';

const line = (container: string, time: string, text = 'x'): LogMessage => ({
  container,
  time,
  stream: 'stdout',
  line: text,
});

describe('log batcher', () => {
  it('flushes at maxLines at once and the rest after maxDelayMs, sorted by time, one container in order', async () => {
    const batches: LogMessage[][] = [];
    const b = new LogBatcher(
      async (batch) => {
        batches.push(batch);
      },
      { maxLines: 3, maxBytes: 1 << 20, maxDelayMs: 30 },
    );
    await b.push(line('b', '2026-12-07T10:00:00.300Z'));
    await b.push(line('a', '2026-12-07T10:00:00.100Z', 'a1'));
    assert.equal(batches.length, 0);
    await b.push(line('a', '2026-12-07T10:00:00.100Z', 'a2'));
    assert.deepEqual(
      batches[0]?.map((l) => `${l.container}${l.line}`),
      ['aa1', 'aa2', 'bx'],
      'sorted by time, equal times keep their order',
    );
    await b.push(line('c', '2026-12-07T10:00:01Z'));
    await sleep(60);
    assert.equal(batches.length, 2, 'the timer flushed the remainder');
    assert.equal(batches[1]?.[0]?.container, 'c');
  });

  it('flushes at maxBytes, and producers wait while a batch is being sent', async () => {
    let release: () => void = () => undefined;
    const sent: number[] = [];
    const b = new LogBatcher(
      async (batch) => {
        sent.push(batch.length);
        await new Promise<void>((r) => {
          release = r;
        });
      },
      { maxLines: 1000, maxBytes: 1000, maxDelayMs: 1000 },
    );
    const big = 'y'.repeat(600);
    await b.push(line('a', '2026-12-07T10:00:00Z', big));
    const second = b.push(line('a', '2026-12-07T10:00:01Z', big));
    await sleep(10);
    assert.deepEqual(sent, [2], 'two 600-byte lines passed 1000 bytes');
    let third = false;
    const p = b.push(line('a', '2026-12-07T10:00:02Z')).then(() => {
      third = true;
    });
    await sleep(10);
    assert.equal(third, false, 'held while the client has not read');
    release();
    await second;
    await p;
    assert.equal(third, true);
    b.close();
  });

  it('takes nothing after close', async () => {
    const batches: LogMessage[][] = [];
    const b = new LogBatcher(async (batch) => {
      batches.push(batch);
    });
    await b.push(line('a', '2026-12-07T10:00:00Z'));
    b.close();
    await b.push(line('a', '2026-12-07T10:00:01Z'));
    await b.flush();
    await sleep(70);
    assert.equal(batches.length, 0);
  });
});
