/**
 * The dashboard's streams against a real agent and real containers
 * (src/api/README.md, "Streams and the dashboard"): /v1/ws/logs (a line
 * printed arrives, stderr marked, project/service selection following a
 * replica started later), /v1/ws/stats (a busy container's CPU), a client
 * that stops reading cut off with 1008, and a page's WebSocket refused on
 * the API socket.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const IMAGE = 'test/busybox:streams';

interface Line {
  container: string;
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** A WebSocket on the agent's socket that keeps every message and how it closed. */
class Client {
  readonly messages: unknown[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly ws: WebSocket;
  readonly open: Promise<void>;

  constructor(socket: string, path: string, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(`ws+unix://${socket}:${path}`, { headers });
    this.ws.on('message', (data) => this.messages.push(JSON.parse(String(data))));
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
    });
    this.open = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
      this.ws.once('error', reject);
    });
  }

  lines(): Line[] {
    return this.messages.flatMap((m) => (Array.isArray(m) ? (m as Line[]) : []));
  }

  waitFor<T>(what: string, check: () => T | undefined, ms = 20_000): Promise<T> {
    return pollUntil(what, async () => check(), ms, 50);
  }

  close(): void {
    this.ws.terminate();
  }
}

describe('WebSocket streams (real agent)', () => {
  let agent: TestAgent;
  let dir: string;
  const clients: Client[] = [];
  const client = (path: string, headers?: Record<string, string>) => {
    const c = new Client(agent.socket, path, headers);
    clients.push(c);
    return c;
  };
  const run = async (args: string[]) => {
    const r = await agent.cli(['run', '-d', ...args]);
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    dir = await tempDir('api-streams');
    agent = await startAgent();
    const r = await agent.cli([
      'load',
      '-i',
      await buildBusyboxImage({ format: 'oci', ref: IMAGE, outDir: dir }),
    ]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    for (const c of clients) c.close();
    await agent?.stop();
    if (dir) await removeDir(dir);
  });

  it('sends a line a container prints, stderr marked, in batches, oldest first', async () => {
    await run([
      '--name',
      'printer',
      IMAGE,
      'sh',
      '-c',
      'echo out-1; echo err-1 >&2; sleep 1; echo out-2; sleep 600',
    ]);
    const c = client('/v1/ws/logs?container=printer&follow=1');
    await c.open;
    const got = await c.waitFor('out-2 on the stream', () => {
      const l = c.lines();
      return l.some((x) => x.line === 'out-2') ? l : undefined;
    });
    assert.deepEqual(
      got.map((l) => [l.container, l.stream, l.line]),
      [
        ['printer', 'stdout', 'out-1'],
        ['printer', 'stderr', 'err-1'],
        ['printer', 'stdout', 'out-2'],
      ],
    );
    for (const l of got) assert.ok(!Number.isNaN(Date.parse(l.time)), l.time);
    assert.ok(c.messages.every(Array.isArray), 'every message is a batch');
    // Without follow: what is there, then close 1000.
    const once = client('/v1/ws/logs?container=printer&tail=1');
    await once.waitFor('the end of the logs', () => once.closed);
    assert.equal(once.closed?.code, 1000);
    assert.deepEqual(
      once.lines().map((l) => l.line),
      ['out-2'],
    );
  });

  it('selects replicas by project and service, and follows one that starts later', async () => {
    const labels = (svc: string) => [
      '--label',
      'com.docker.compose.project=shop',
      '--label',
      `com.docker.compose.service=${svc}`,
    ];
    await run(['--name', 'shop-web-1', ...labels('web'), IMAGE, 'sh', '-c', 'echo web-1 up; sleep 600']);
    await run(['--name', 'shop-db-1', ...labels('db'), IMAGE, 'sh', '-c', 'echo db-1 up; sleep 600']);
    const web = client('/v1/ws/logs?project=shop&service=web&follow=1');
    const shop = client('/v1/ws/logs?project=shop&follow=1');
    await Promise.all([web.open, shop.open]);
    await web.waitFor('web-1', () => web.lines().find((l) => l.line === 'web-1 up'));
    await run(['--name', 'shop-web-2', ...labels('web'), IMAGE, 'sh', '-c', 'echo web-2 up; sleep 600']);
    const l2 = await web.waitFor('the replica started later', () =>
      web.lines().find((l) => l.line === 'web-2 up'),
    );
    assert.equal(l2.container, 'shop-web-2');
    await shop.waitFor(
      'the whole project',
      () =>
        ['web-1 up', 'web-2 up', 'db-1 up'].every((t) => shop.lines().some((l) => l.line === t)) || undefined,
    );
    assert.ok(!web.lines().some((l) => l.container === 'shop-db-1'), 'another service is not selected');
    assert.ok(!shop.lines().some((l) => l.container === 'printer'), 'another project is not selected');
  });

  it('refuses a bad selection before the upgrade', async () => {
    await assert.rejects(client('/v1/ws/logs?container=nope').open, /upgrade refused: 404/);
    await assert.rejects(client('/v1/ws/logs').open, /upgrade refused: 400/);
    await assert.rejects(client('/v1/ws/logs?container=printer&tail=x').open, /upgrade refused: 400/);
    await assert.rejects(client('/v1/ws/stats?interval=1ms').open, /upgrade refused: 400/);
    // A web page (it sends Origin) may not open a WebSocket on the API socket.
    await assert.rejects(
      client('/v1/ws/events', { origin: 'http://evil.example' }).open,
      /upgrade refused: 403/,
    );
  });

  it('sends stats with the CPU a busy container uses', async () => {
    await run(['--name', 'busy', IMAGE, 'sh', '-c', 'while :; do :; done']);
    const c = client('/v1/ws/stats?name=busy&name=printer&interval=500ms');
    await c.open;
    type Msg = {
      time: string;
      interval: number;
      containers: Array<{
        name: string;
        cpu: number;
        memory: { usage?: number; limit: number };
        pids: { current?: number };
      }>;
      missing: string[];
    };
    const msgs = await c.waitFor('three stats messages', () =>
      c.messages.length >= 3 ? (c.messages as Msg[]) : undefined,
    );
    const last = msgs.at(-1) as Msg;
    const busy = last.containers.find((x) => x.name === 'busy');
    const idle = last.containers.find((x) => x.name === 'printer');
    assert.ok(busy && idle, JSON.stringify(last));
    // The machine's cores are shared with other tests: a spinning shell gets what the scheduler gives
    // it, but clearly more than a sleeping one, in every message.
    for (const m of msgs) {
      const b = m.containers.find((x) => x.name === 'busy')?.cpu ?? 0;
      const i = m.containers.find((x) => x.name === 'printer')?.cpu ?? 1;
      assert.ok(b > 0.05 && b > 10 * i, `busy ${b} cores, idle ${i} cores`);
    }
    assert.ok(idle.cpu < 0.05, `a sleeping one uses almost none: ${idle.cpu}`);
    assert.ok(last.interval > 0.4 && last.interval < 1.5, String(last.interval));
    assert.ok((busy.memory.usage ?? 0) > 0 && busy.memory.limit > 0);
    assert.ok((busy.pids.current ?? 0) >= 1);
    assert.deepEqual(last.missing, []);
    const r = await agent.cli(['rm', '-f', 'busy']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('cuts off a log client that does not read with 1008 and the reason', async () => {
    await run([
      '--name',
      'spew',
      IMAGE,
      'sh',
      '-c',
      'yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 100000000; sleep 600',
    ]);
    const pid = agent.process().pid;
    const rss = async () =>
      Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    const before = await rss();
    const c = client('/v1/ws/logs?container=spew&follow=1');
    await c.open;
    // Stops reading: the agent's unsent bytes for it grow past 64 KiB and stay there.
    c.ws.pause();
    let peak = before;
    await pollUntil(
      'the agent to cut the log client off',
      async () => {
        peak = Math.max(peak, await rss());
        return (
          /"route":"\/v1\/ws\/logs"[^\n]*event stream client cut off/.test(agent.process().output()) ||
          undefined
        );
      },
      40_000,
      250,
    );
    // Reading again within the grace period, it gets what was queued, then the close and its reason.
    c.ws.resume();
    const closed = await c.waitFor('the close frame', () => c.closed, 15_000);
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /^client too slow: \d+ bytes unsent for 10 s/);
    assert.ok(
      peak - before < 48 * 1024 * 1024,
      `agent RSS grew by ${Math.round((peak - before) / 1048576)} MiB`,
    );
    // Others are answered meanwhile.
    assert.equal((await agent.cli(['ps'])).code, 0);
  });
});
