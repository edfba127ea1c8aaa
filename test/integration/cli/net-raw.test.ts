/**
 * Issue 12 item 7: containers do not get CAP_NET_RAW by default (as Podman),
 * so they cannot open raw sockets to forge source addresses; `--cap-add
 * NET_RAW` gives it back. busybox ping is the user-visible probe.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';

const IMAGE = 'test/busybox:netraw';
let agent: TestAgent | undefined;

describe('CAP_NET_RAW is not in the default capability set', () => {
  before(async () => {
    agent = await startAgent();
    const tar = await buildBusyboxImage({ format: 'docker', ref: IMAGE, config: { Env: ['PATH=/bin'] } });
    const r = await agent.cli(['load', '-i', tar]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await agent?.stop();
  });

  const ping = ['ping', '-c', '1', '-W', '2', '127.0.0.1'];

  test('a default container cannot open a raw socket: ping is refused', async () => {
    const r = await agent?.cli(['run', '--rm', '--network', 'none', IMAGE, ...ping]);
    assert.ok(r);
    assert.notEqual(r.code, 0, `ping worked without NET_RAW: ${r.stdout}`);
    assert.match(r.stderr + r.stdout, /permission denied|operation not permitted/i);
  });

  test('--cap-add NET_RAW gives it back: ping works', async () => {
    const r = await agent?.cli(['run', '--rm', '--network', 'none', '--cap-add', 'NET_RAW', IMAGE, ...ping]);
    assert.ok(r);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /1 packets received/);
  });
});
