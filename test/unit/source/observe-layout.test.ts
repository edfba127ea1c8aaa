import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLinkName, parsePodDir } from '../../../runtime/source/observe/cri.js';
import { parseCgroupPath } from '../../../runtime/source/observe/layout.js';

const ID = '3f'.repeat(32);
const UID = '6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a6b';
const SLICE_UID = UID.replaceAll('-', '_');

describe('observe: cgroup path layouts', () => {
  const cases: Array<[string, ReturnType<typeof parseCgroupPath>]> = [
    [`/docker/${ID}`, { id: ID, engine: 'docker', driver: 'cgroupfs' }],
    [`/system.slice/docker-${ID}.scope`, { id: ID, engine: 'docker', driver: 'systemd' }],
    [`/system.slice/crio-${ID}.scope`, { id: ID, engine: 'crio', driver: 'systemd' }],
    [`/machine.slice/libpod-${ID}.scope`, { id: ID, engine: 'podman', driver: 'systemd' }],
    [`/default/${ID}`, { id: ID, engine: 'unknown', driver: 'cgroupfs' }],
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${SLICE_UID}.slice/cri-containerd-${ID}.scope`,
      { id: ID, engine: 'containerd', driver: 'systemd', podUid: UID, qos: 'burstable' },
    ],
    [
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${SLICE_UID}.slice/cri-containerd-${ID}.scope`,
      { id: ID, engine: 'containerd', driver: 'systemd', podUid: UID, qos: 'besteffort' },
    ],
    [
      `/kubepods.slice/kubepods-pod${SLICE_UID}.slice/cri-containerd-${ID}.scope`,
      { id: ID, engine: 'containerd', driver: 'systemd', podUid: UID, qos: 'guaranteed' },
    ],
    [
      `/kubepods/burstable/pod${UID}/${ID}`,
      { id: ID, engine: 'unknown', driver: 'cgroupfs', podUid: UID, qos: 'burstable' },
    ],
    [
      `/kubepods/pod${UID}/${ID}`,
      { id: ID, engine: 'unknown', driver: 'cgroupfs', podUid: UID, qos: 'guaranteed' },
    ],
    // static pods: a 32-hex hash for a uid
    [
      `/kubepods/besteffort/pod${'ab'.repeat(16)}/${ID}`,
      { id: ID, engine: 'unknown', driver: 'cgroupfs', podUid: 'ab'.repeat(16), qos: 'besteffort' },
    ],
  ];
  for (const [path, want] of cases) {
    it(path.replace(ID, '<id>'), () => assert.deepEqual(parseCgroupPath(path), want));
  }

  it('names that only look like containers are not containers', () => {
    for (const p of [
      '/docker',
      `/docker/${ID.slice(1)}`,
      `/docker/${ID.toUpperCase()}`,
      `/system.slice/docker-${ID}.service`,
      `/system.slice/evil-${ID}.scope`,
      `/system.slice/docker-${ID}.scope/x`,
      '/kubepods/burstable/podxyz',
    ]) {
      assert.equal(parseCgroupPath(p), undefined, p);
    }
  });

  it('a kubepods path in the wrong shape gives the container but no pod', () => {
    const m = parseCgroupPath(`/kubepods/gold/pod${UID}/${ID}`);
    assert.equal(m?.id, ID);
    assert.equal(m?.podUid, undefined);
  });
});

describe('observe: kubelet log names', () => {
  it('parses /var/log/containers and /var/log/pods names, and refuses what Kubernetes never names', () => {
    assert.deepEqual(parseLinkName(`web-1.a_shop_nginx-proxy-${ID}.log`), {
      pod: 'web-1.a',
      namespace: 'shop',
      container: 'nginx-proxy',
      id: ID,
    });
    assert.deepEqual(parsePodDir(`shop_web-1_${UID}`), { namespace: 'shop', pod: 'web-1', uid: UID });
    for (const bad of [
      `Web_shop_x-${ID}.log`,
      `a_b_c-${ID}.txt`,
      `a_b_c_d-${ID}.log`,
      `..%2f_b_c-${ID}.log`,
    ]) {
      assert.equal(parseLinkName(bad), undefined, bad);
    }
    assert.equal(parsePodDir(`shop_web_not-a-uid`), undefined);
  });
});
