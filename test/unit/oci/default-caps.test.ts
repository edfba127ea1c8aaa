import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_CAPS, resolveCaps } from '../../../runtime/oci/capabilities.js';

/**
 * Issue 12 item 7: containers could forge source addresses (raw sockets) to
 * get around the DNS server's per-address limits. Like Podman, berth's
 * default set leaves CAP_NET_RAW out; `--cap-add NET_RAW` puts it back.
 */
describe('default capabilities', () => {
  test('CAP_NET_RAW is not granted by default, and comes back with --cap-add NET_RAW', () => {
    assert.ok(!resolveCaps([], []).includes('CAP_NET_RAW'), 'a default container holds CAP_NET_RAW');
    assert.ok(resolveCaps(['CAP_NET_RAW'], []).includes('CAP_NET_RAW'));
    assert.ok(resolveCaps(['ALL'], []).includes('CAP_NET_RAW'));
  });

  test("the rest of Docker's default set is kept", () => {
    assert.deepEqual([...DEFAULT_CAPS].sort(), [
      'CAP_AUDIT_WRITE',
      'CAP_CHOWN',
      'CAP_DAC_OVERRIDE',
      'CAP_FOWNER',
      'CAP_FSETID',
      'CAP_KILL',
      'CAP_MKNOD',
      'CAP_NET_BIND_SERVICE',
      'CAP_SETFCAP',
      'CAP_SETGID',
      'CAP_SETPCAP',
      'CAP_SETUID',
      'CAP_SYS_CHROOT',
    ]);
  });
});
