/**
 * berth's own runtime keeps the ContainerSource contract (test/harness/source-conformance.ts):
 * real containers under runc and conmon, the runtime in this process.
 */
import { startRuntimeInProcess } from '../../harness/runtime.js';
import { containerSourceConformance } from '../../harness/source-conformance.js';

containerSourceConformance("berth's runtime (ContainerManager over runc and conmon)", async () => {
  const rt = await startRuntimeInProcess();
  return {
    source: rt.manager,
    start: (name) => rt.startSleeper(name),
    async stop(id) {
      await rt.manager.stop(id, { timeoutMs: 1000 });
    },
    async remove(id) {
      await rt.manager.remove(id, { force: true });
    },
    close: () => rt.close(),
  };
});
