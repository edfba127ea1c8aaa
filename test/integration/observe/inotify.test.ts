/**
 * Change detection on the real cgroup file system: with the periodic rescan
 * set to a minute, a container cgroup made and removed under this host's
 * scanned hierarchy (v1 memory on a hybrid host, the unified one on v2) is
 * seen through inotify alone, within a bound. The cgroup is this test's own
 * and removed in the after-hook, also on failure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ObserveSource } from '../../../runtime/source/observe/source.js';
import type { RuntimeEvent } from '../../../runtime/types.js';
import { tempDir } from '../../harness/tmp.js';

describe('observe: inotify on the real cgroup tree', () => {
  const made: string[] = [];
  let source: ObserveSource | undefined;
  after(async () => {
    await source?.close();
    for (const d of made.reverse()) await rmdir(d).catch(() => {});
  });

  it('a cgroup made and removed is announced within 2 s with no rescan due', async () => {
    const empty = await tempDir('observe-inotify-');
    source = new ObserveSource({
      roots: {
        proc: '/proc',
        cgroup: '/sys/fs/cgroup',
        docker: join(empty, 'docker'),
        log: join(empty, 'log'),
      },
      rescanIntervalMs: 60_000,
      metadataGraceMs: 0,
      debounceMs: 20,
    });
    await source.start();
    const parent = join(source.scannedHierarchy, `berthobs-${process.pid}`);
    await mkdir(parent);
    made.push(parent);
    // The parent is new too: its watch comes with the rescan its creation triggers.
    await new Promise((r) => setTimeout(r, 300));
    const ac = new AbortController();
    const events = source.events({ topics: ['container.started', 'container.removed'], signal: ac.signal });
    const id = randomBytes(32).toString('hex');
    const t0 = Date.now();
    const dir = join(parent, id);
    await mkdir(dir);
    made.push(dir);
    const seen: Array<[string, number]> = [];
    const reading = (async () => {
      for await (const e of events) {
        if ((e.event as RuntimeEvent & { container?: { id: string } }).container?.id !== id) continue;
        seen.push([e.topic, Date.now() - t0]);
        if (e.topic === 'container.started') {
          await rmdir(dir);
          made.pop();
        }
        if (e.topic === 'container.removed') break;
      }
    })();
    const timeout = setTimeout(() => ac.abort(), 5000);
    await reading;
    clearTimeout(timeout);
    ac.abort();
    const started = seen.find(([t]) => t === 'container.started');
    const removed = seen.find(([t]) => t === 'container.removed');
    assert.ok(started && started[1] < 2000, `started seen after ${started?.[1]} ms`);
    assert.ok(removed && removed[1] < 4000, `removed seen after ${removed?.[1]} ms`);
    process.stdout.write(`# inotify: started after ${started[1]} ms, removed after ${removed[1]} ms\n`);
  });
});
