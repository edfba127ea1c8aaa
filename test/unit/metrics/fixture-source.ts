import { fileURLToPath } from 'node:url';
import type { ContainerDescriptor } from '../../../runtime/types.js';
import type { Roots } from '../../../sidecar/metrics/types.js';
import { fakeDescriptor } from '../../harness/fake-source.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/metrics/', import.meta.url));

export function fixtureRoots(version: 'v1' | 'v2'): Roots {
  const base = `${FIXTURES}${version}`;
  return { proc: `${base}/proc`, sys: `${base}/sys`, cgroup: `${base}/sys/fs/cgroup` };
}

export const WEB_ID = '4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2';
export const WORKER_ID = '87eba76e7f3164534045ba922e7770fb58bbd14ad732bbf5ba6f11cc56989e6e';
/** Listed by the source but with no cgroup on disk: a container that exited mid-scrape. */
export const GONE_ID = '283bb9deef02e6843abfb538efa1eca70801bd8a701c3f98191e123496339247';

export function descriptor(
  d: Partial<ContainerDescriptor> & { id: string; name: string },
): ContainerDescriptor {
  return fakeDescriptor({
    networkMode: 'bridge',
    cgroupPath: `/berth/${d.id}`,
    createdAt: '2026-11-27T10:00:00Z',
    ...d,
  });
}

export function fixtureContainers(): ContainerDescriptor[] {
  return [
    descriptor({
      id: WEB_ID,
      name: 'shop-web-1',
      image: 'registry.local:5000/shop/web:1.4.2',
      imageName: 'registry.local:5000/shop/web',
      imageTag: '1.4.2',
      pid: 4242,
      startedAt: '2026-11-27T10:00:05.250Z',
      labels: {
        'com.docker.compose.service': 'web',
        'com.docker.compose.project': 'shop',
        'build.git-sha': '9f1c2ab',
      },
    }),
    descriptor({
      id: WORKER_ID,
      name: 'shop-worker-1',
      image: 'busybox:latest',
      pid: 5151,
      startedAt: '2026-11-27T10:01:00Z',
      labels: { 'com.docker.compose.service': 'worker' },
    }),
    descriptor({ id: GONE_ID, name: 'shop-migrate-1', pid: 999999, startedAt: '2026-11-27T10:02:00Z' }),
  ];
}

/** Fixed scrape time so container_last_seen is stable in golden files. */
export const FIXED_NOW = 1795780800;
