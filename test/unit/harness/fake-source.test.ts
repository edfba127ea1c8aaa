import { FakeContainerSource, fakeDescriptor } from '../../harness/fake-source.js';
import { containerSourceConformance } from '../../harness/source-conformance.js';

// The fake must keep the contract it stands in for.
containerSourceConformance('the in-memory fake (test/harness/fake-source.ts)', async () => {
  const source = new FakeContainerSource();
  return {
    source,
    async start(name) {
      return source.start(fakeDescriptor({ name })).id;
    },
    async stop(id) {
      source.stop(id);
    },
    async remove(id) {
      source.remove(id);
    },
    async close() {},
  };
});
