/**
 * Observe mode's source keeps the ContainerSource contract
 * (test/harness/source-conformance.ts), driven through a host tree laid out
 * as Docker's systemd driver on cgroup v2 lays it out: a container "starts"
 * when Docker's record says so and its scope cgroup appears, "stops" when the
 * cgroup goes and the record says exited, and is "removed" with its record.
 * The changes reach the source through inotify on the real file system (and
 * its periodic rescan), as on a host. The same suite runs over `--mode
 * both`'s merged source.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MergedSource } from '../../../runtime/source/merged.js';
import { ObserveSource } from '../../../runtime/source/observe/source.js';
import { FakeContainerSource } from '../../harness/fake-source.js';
import { pollUntil } from '../../harness/proc.js';
import { containerSourceConformance, type SourceUnderTest } from '../../harness/source-conformance.js';
import { tempDir } from '../../harness/tmp.js';

const FIX = join(import.meta.dirname, '../../fixtures/observe/docker-systemd-v2');

function record(id: string, name: string, running: boolean): string {
  return JSON.stringify({
    ID: id,
    Name: `/${name}`,
    Created: new Date().toISOString(),
    State: {
      Running: running,
      Pid: running ? 4242 : 0,
      ExitCode: running ? 0 : 137,
      StartedAt: '2026-12-01T10:00:01Z',
      FinishedAt: running ? '0001-01-01T00:00:00Z' : new Date().toISOString(),
    },
    Config: { Image: 'busybox:latest', Labels: {}, Env: [] },
  });
}

async function setup(merged: boolean): Promise<SourceUnderTest> {
  const dir = await tempDir('observe-conf-');
  await cp(FIX, dir, { recursive: true, verbatimSymlinks: true });
  const cgroup = join(dir, 'sys/fs/cgroup');
  const docker = join(dir, 'var/lib/docker');
  const source = new ObserveSource({
    roots: { proc: join(dir, 'proc'), cgroup, docker, log: join(dir, 'var/log') },
    rescanIntervalMs: 2000,
    debounceMs: 20,
  });
  await source.start();
  const scope = (id: string) => join(cgroup, 'system.slice', `docker-${id}.scope`);
  const stateOf = async (id: string) =>
    (await source.list({ all: true })).find((c) => c.id === id)?.state ?? 'gone';
  const until = (id: string, want: string) =>
    pollUntil(
      `${id.slice(0, 12)} ${want}`,
      async () => ((await stateOf(id)) === want ? true : undefined),
      10_000,
      10,
    );
  return {
    // --mode both: berth's runtime (here the in-memory fake) and the observed containers as one.
    source: merged ? new MergedSource([new FakeContainerSource(), source]) : source,
    async start(name) {
      const id = randomBytes(32).toString('hex');
      await mkdir(join(docker, 'containers', id), { recursive: true });
      await writeFile(join(docker, 'containers', id, 'config.v2.json'), record(id, name, true));
      await mkdir(scope(id), { recursive: true });
      await writeFile(join(scope(id), 'cgroup.procs'), '4242\n');
      await until(id, 'running');
      return id;
    },
    async stop(id) {
      const name = (await source.get(id)).name;
      await rm(scope(id), { recursive: true, force: true });
      await writeFile(join(docker, 'containers', id, 'config.v2.json'), record(id, name, false));
      await until(id, 'exited');
    },
    async remove(id) {
      await rm(scope(id), { recursive: true, force: true });
      await rm(join(docker, 'containers', id), { recursive: true, force: true });
      await until(id, 'gone');
    },
    async close() {
      await source.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

containerSourceConformance('observe mode (Docker layout, systemd driver, cgroup v2)', () => setup(false));
containerSourceConformance('--mode both (the runtime and observe mode merged)', () => setup(true));
