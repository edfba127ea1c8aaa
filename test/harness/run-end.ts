/**
 * test/run.sh's end of a run (argument: the run dir, BERTH_TEST_RUN_DIR):
 * stops the run's shared Consul, then removes the host state the run's agents
 * shared (berth's iptables chains and the /berth cgroup parent) once nothing
 * uses it. Agents' own stop() leaves that to here while files run in parallel
 * (host-shared.ts).
 */
import { stopSharedConsul } from './consul.js';
import { dropSharedChainsIfUnusedNow, removeEmptyBerthCgroupsNow } from './host-shared.js';

const runDir = process.argv[2] ?? '';
if (runDir === '') {
  console.error('usage: run-end.ts RUN_DIR');
  process.exit(2);
}
await stopSharedConsul(runDir);
// Only root's runs start agents; a non-root unit run has nothing of this to undo.
if (process.getuid?.() === 0) {
  await removeEmptyBerthCgroupsNow();
  await dropSharedChainsIfUnusedNow();
}
