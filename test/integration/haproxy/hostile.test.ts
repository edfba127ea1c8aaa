/**
 * Issue 12, items 1 and 2, against the real HAProxy: label and catalog
 * values are strangers' input. A check label that asks HAProxy to expand an
 * environment variable must not send the agent's secrets to a backend, and a
 * catalog address carrying a Runtime API command must not run it; the bad
 * instance is left out and counted, the good ones keep serving.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { LocalCatalog } from '../../../sidecar/discovery/local.js';
import { resolveHaproxyOptions } from '../../../sidecar/haproxy/config.js';
import { HaproxyManager } from '../../../sidecar/haproxy/manager.js';
import { freePort } from '../../harness/ports.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { type Backend, httpGet, lbInstance, startBackend } from './helpers.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text HAProxy expands from its environment
const TOKEN_REF = '${CONSUL_HTTP_TOKEN}';

describe('haproxy: hostile labels and catalog entries', { timeout: 60_000 }, () => {
  let dir: string | undefined;
  let catalog: LocalCatalog | undefined;
  let manager: HaproxyManager | undefined;
  const backends: Backend[] = [];
  const token = `secret-${randomBytes(8).toString('hex')}`;
  const savedToken = process.env.CONSUL_HTTP_TOKEN;
  let webPort = 0;
  let tokPort = 0;

  before(async () => {
    // The agent runs with a Consul token in its environment, as `--consul` users' agents do.
    process.env.CONSUL_HTTP_TOKEN = token;
    dir = await tempDir('haproxy-hostile');
    webPort = await freePort();
    tokPort = await freePort();
    for (let i = 0; i < 2; i++) backends.push(await startBackend(`web${i + 1}`, `127.0.0.${i + 2}`));
    catalog = new LocalCatalog({ nodeName: 'test' });
    const [b1] = backends;
    if (b1 === undefined) throw new Error('no backend');
    await catalog.register(lbInstance(b1, webPort));
    manager = new HaproxyManager({
      catalog,
      options: resolveHaproxyOptions([
        {
          stateDir: dir,
          exporterListen: '',
          bindAddress: '127.0.0.1',
          quietPeriod: '10ms',
          checkInterval: '100ms',
        },
      ]),
    });
    await manager.start();
  });

  after(async () => {
    if (savedToken === undefined) delete process.env.CONSUL_HTTP_TOKEN;
    else process.env.CONSUL_HTTP_TOKEN = savedToken;
    await manager?.close();
    await catalog?.close();
    for (const b of backends) await b.close();
    if (dir !== undefined) await removeDir(dir);
  });

  test(`berth.lb.check=/"${TOKEN_REF}" does not send the agent's token to a backend`, async () => {
    const [, b2] = backends;
    if (b2 === undefined || catalog === undefined || manager === undefined || dir === undefined) {
      throw new Error('setup failed');
    }
    await catalog.register(
      lbInstance(b2, tokPort, {
        id: 'test:tok:80',
        service: 'tok',
        meta: { 'berth-lb-check': `/"${TOKEN_REF}"` },
      }),
    );
    await manager.settled();
    // Health checks run every 100 ms when HAProxy accepted the check: ten of them reached the backend,
    // or the label was refused (counted) and HAProxy never checks it.
    await pollUntil(
      'ten checks at the backend, or the check label refused',
      async () => (b2.paths.length >= 10 || (manager?.metrics.labelProblems ?? 0) >= 1 ? true : undefined),
      5000,
      20,
    );
    const leaked = b2.paths.filter((p) => p.includes(token));
    assert.deepEqual(leaked, [], `the backend received the token in ${leaked.length} request(s)`);
    const live = await readFile(`${dir}/haproxy.cfg`, 'utf8');
    assert.doesNotMatch(live, /\$\{|"/, 'a label put an expansion or a double quote into haproxy.cfg');
    assert.ok(
      manager.metrics.labelProblems >= 1,
      `the bad check label is not counted: ${JSON.stringify(manager.metrics.snapshot())}`,
    );
    assert.equal((await httpGet(`http://127.0.0.1:${webPort}/`)).status, 200, 'web stopped serving');
  });

  test('a catalog address carrying a Runtime API command is dropped and reported; the rest keeps serving', async () => {
    const [b1] = backends;
    if (b1 === undefined || catalog === undefined || manager === undefined) throw new Error('setup failed');
    // A second instance of web (the fast path: Runtime API first) whose address ends one command and starts another.
    await catalog.register(
      lbInstance(b1, webPort, { id: 'test:evil:80', address: '127.0.0.9; disable frontend fe_web' }),
    );
    await manager.settled();
    for (let i = 0; i < 5; i++) {
      const r = await httpGet(`http://127.0.0.1:${webPort}/`);
      assert.equal(r.status, 200, `request ${i} after the hostile entry got ${r.status}`);
    }
    assert.equal(
      manager.metrics.instanceProblems,
      1,
      `the hostile instance is not counted: ${JSON.stringify(manager.metrics.snapshot())}`,
    );
    const servers = [...(manager.slots().get('web')?.slots ?? [])].filter((s) => s.instanceId !== undefined);
    assert.deepEqual(
      servers.map((s) => s.address),
      [b1.address],
      'only the good instance holds a slot',
    );
  });
});
