import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isObserved, ownerOf, SOURCES } from '../../../web/src/source.js';

// What the dashboard says of a container's source (web/src/source.ts): pure code, run here under
// Node; test/integration/web/observed.test.ts shows docker and cgroup ones in Chromium. The tool
// named is the one the API's refusal names (src/api/routes/containers.ts OWNER_TOOL).
describe('web: container sources', () => {
  it('names who manages each source and what to use instead of berth', () => {
    assert.deepEqual(SOURCES, ['berth', 'docker', 'cri', 'cgroup']);
    assert.deepEqual(ownerOf('docker'), { label: 'docker', manager: 'docker', tool: 'docker' });
    assert.deepEqual(ownerOf('cri'), { label: 'kubelet', manager: 'the kubelet', tool: 'kubectl or crictl' });
    assert.equal(ownerOf('cgroup').tool, 'the engine that started it');
    // A source a newer agent may add is shown by its own name.
    assert.deepEqual(ownerOf('podman'), { label: 'podman', manager: 'podman', tool: 'podman' });
  });

  it('only berth’s own containers are not observed', () => {
    assert.equal(isObserved({ source: 'berth' }), false);
    for (const source of ['docker', 'cri', 'cgroup']) assert.equal(isObserved({ source }), true);
  });
});
