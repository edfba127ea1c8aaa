/**
 * Issue 12 item 16 (health part): an http health check's body is read only up
 * to what the health log keeps; a container that answers with an endless body
 * must neither grow the agent's memory nor stop its check from reporting.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';

const IMAGE = 'test/busybox-health:1';
let agent: TestAgent | undefined;

/** A JSON request to the agent's API on its unix socket. */
function api(
  a: TestAgent,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: a.socket,
        method,
        path,
        headers: data === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: text === '' ? undefined : JSON.parse(text) }),
        );
      },
    );
    req.once('error', reject);
    req.end(data);
  });
}

/** Resident memory of a process in bytes: now (VmRSS) or its peak (VmHWM). */
async function rss(pid: number, which: 'VmRSS' | 'VmHWM'): Promise<number> {
  const m = new RegExp(`${which}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

describe('http health probes read a bounded body', () => {
  before(async () => {
    agent = await startAgent();
    const tar = await buildBusyboxImage({ format: 'docker', ref: IMAGE, config: { Env: ['PATH=/bin'] } });
    const r = await agent.cli(['load', '-i', tar]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await agent?.stop();
  });

  test('a container whose health endpoint never stops sending stays healthy and the agent stays small', async (t) => {
    const a = agent as TestAgent;
    // busybox httpd runs the CGI script; `yes` writes until the reader goes away.
    const script = [
      'mkdir -p /www/cgi-bin',
      // Header lines end in CRLF (undici refuses bare LF); busybox adds the status line.
      'printf \'#!/bin/sh\\nprintf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n"\\nexec yes health\\n\' > /www/cgi-bin/big',
      'chmod 755 /www/cgi-bin/big',
      'exec httpd -f -p 8080 -h /www',
    ].join(' && ');
    const created = await api(a, 'POST', '/v1/containers', {
      image: IMAGE,
      name: 'endless-health',
      cmd: ['sh', '-c', script],
      healthcheck: {
        test: { http: 'http://localhost:8080/cgi-bin/big' },
        interval: '1s',
        timeout: '3s',
        retries: 1,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const pid = a.process().pid;
    // Resets the peak (VmHWM) to the current RSS, so what loading the image took does not count.
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    const before = await rss(pid, 'VmRSS');
    const started = await api(a, 'POST', '/v1/containers/endless-health/start');
    assert.equal(started.status, 200, JSON.stringify(started.json));
    // Three probes at least: each one used to buffer whatever arrived within its timeout.
    const log = await pollUntil(
      'three health probes recorded',
      async () => {
        const r = await api(a, 'GET', '/v1/containers/endless-health');
        const d = r.json as { health?: string; healthLog?: Array<{ ok: boolean; output: string }> };
        return (d.healthLog?.length ?? 0) >= 3 ? d : undefined;
      },
      30_000,
      250,
    );
    const grown = (await rss(pid, 'VmHWM')) - before;
    t.diagnostic(
      `agent peak RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB over ${log.healthLog?.length} probes`,
    );
    const last = log.healthLog?.at(-1);
    assert.equal(
      log.health,
      'healthy',
      `peak RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB; health log: ${JSON.stringify(log.healthLog?.map((e) => e.output.slice(0, 80)))}`,
    );
    assert.match(last?.output ?? '', /^HTTP 200 health\nhealth\n/);
    assert.ok((last?.output.length ?? 0) <= 4096, `kept ${last?.output.length} bytes of output`);
    assert.ok(
      grown < 48 << 20,
      `the agent's peak RSS grew by ${(grown / 2 ** 20).toFixed(0)} MiB during the probes`,
    );
    // Its probes would run on during the next test.
    assert.equal((await api(a, 'DELETE', '/v1/containers/endless-health?force=1')).status, 204);
  });
});
