/**
 * Rollout progress and followed logs as a user sees them through the CLI
 * (issue 14), against a real agent: `up --wait` rolling a 2-replica service
 * prints one line per change of the rollout (piped: no cursor codes) naming
 * the new replicas and ending with the done line; `rollback SERVICE`
 * follows its rollback the same way; `--quiet` prints nothing; on a
 * terminal the lines are redrawn in place, ending on the done line; `up`
 * following logs prints them beside the logs; `logs -p -f`
 * shows the lines of a replica started after the stream opened.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { HTTP_IMAGE, loadHttpImages } from '../../harness/http-image.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

const COMMAND = resolve(import.meta.dirname, '../../../src/bin/berth');

let agent: TestAgent;
let dir: string;
let file: string;

const compose = `name: progress
services:
  web:
    image: ${HTTP_IMAGE}:\${WEB_TAG:-v1}
    deploy:
      replicas: 2
      update_config: { order: start-first, monitor: 0s }
      rollback_config: { order: start-first, monitor: 0s }
  echo:
    image: ${HTTP_IMAGE}:v1
    command: ["sh", "-c", "echo hello; exec sleep 3600"]
    healthcheck: { disable: true }
`;

const up = (args: string[], tag: string) =>
  agent.cli(['up', '-f', file, ...args], { env: { WEB_TAG: tag }, timeoutMs: 90_000 });

/** The running web replicas' names. */
async function webReplicas(): Promise<string[]> {
  const r = await agent.cli(['ps', '-p', 'progress', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { name: string; service: string; state: string; current: boolean }[])
    .filter((x) => x.service === 'web' && x.state === 'running' && x.current)
    .map((x) => x.name)
    .sort();
}

/** The rollout lines of a verb's stderr (`web  update  old …`), checked to carry no cursor codes. */
function rolloutLines(stderr: string, kind: 'update' | 'rollback'): string[] {
  assert.ok(!stderr.includes('\u001b'), 'piped: no cursor codes');
  const lines = stderr.split('\n').filter((l) => l.startsWith(`web  ${kind}  `));
  // 2 replicas throughout: a line with no replica counted would be a step drawn before the agent counted.
  assert.ok(!lines.some((l) => l.includes('old 0 → new 0')), `counts from the first line:\n${stderr}`);
  return lines;
}

/** The replicas a rollout named as started or waited for. */
const named = (lines: string[]) =>
  [
    ...new Set(lines.flatMap((l) => /(?:starting|waiting for ready|monitoring) (\S+)/.exec(l)?.[1] ?? [])),
  ].sort();

before(async () => {
  dir = await tempDir('deploy-progress-');
  agent = await startAgent();
  await loadHttpImages(agent.cli, dir, ['v1', 'v2']);
  file = join(dir, 'compose.yaml');
  await writeFile(file, compose);
  const r = await up(['-d', '--wait'], 'v1');
  assert.equal(r.code, 0, `up: ${r.stderr}`);
});

after(async () => {
  await agent?.cli(['down', '-p', 'progress']).catch(() => undefined);
  await agent?.stop();
  if (dir) await removeDir(dir);
});

describe('rollout progress and followed logs', { concurrency: false }, () => {
  test('up --wait rolling 2 replicas prints its steps, naming the new replicas, and ends done', async (t) => {
    const r = await up(['--wait'], 'v2');
    assert.equal(r.code, 0, r.stderr);
    const lines = rolloutLines(r.stderr, 'update');
    t.diagnostic(`up --wait | cat:\n${r.stderr}`);
    assert.ok(lines.length >= 3, `several steps:\n${r.stderr}`);
    assert.equal(lines.at(-1), 'web  update  old 0 → new 2  done', r.stderr);
    assert.equal(new Set(lines).size, lines.length, `one line per change:\n${r.stderr}`);
    const after = await webReplicas();
    assert.equal(after.length, 2);
    for (const n of after) assert.ok(named(lines).includes(n), `${n} named in:\n${r.stderr}`);
    assert.ok(
      lines.some((l) => /old 1 → new 1/.test(l)),
      `the counts move:\n${r.stderr}`,
    );
  });

  test('rollback SERVICE follows its rollback to the done line', async (t) => {
    const r = await agent.cli(['rollback', '-p', 'progress', 'web'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    const lines = rolloutLines(r.stderr, 'rollback');
    t.diagnostic(`rollback | cat:\n${r.stderr}`);
    assert.ok(lines.length >= 3, `several steps:\n${r.stderr}`);
    assert.equal(lines.at(-1), 'web  rollback  old 0 → new 2  done', r.stderr);
    for (const n of await webReplicas()) assert.ok(named(lines).includes(n), `${n} named in:\n${r.stderr}`);
  });

  test('--quiet prints nothing through a rollout', async () => {
    const r = await up(['--wait', '--quiet'], 'v2');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '');
  });

  test('on a terminal the block is redrawn in place and its last frame says done', async () => {
    // util-linux's script gives the CLI a pseudo-terminal, as a person's shell would.
    const out = await new Promise<{ code: number | null; text: string }>((res, rej) => {
      const child = spawn('script', ['-qfec', `${COMMAND} up -f ${file} --wait`, '/dev/null'], {
        env: { ...process.env, ...agent.env, WEB_TAG: 'v1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
      });
      child.once('error', rej);
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.once('close', (code) => {
        clearTimeout(timer);
        res({ code, text });
      });
    });
    assert.equal(out.code, 0, out.text);
    const esc = String.fromCharCode(27);
    const cursorUp = new RegExp(`${esc}\\[\\d+A`);
    assert.match(out.text, cursorUp, 'cursor up over the block');
    // The last frame: every line after the last cursor-up, each cleared before it is drawn.
    const frame = (out.text.split(cursorUp).at(-1) ?? '')
      .split(/\r?\n/)
      .map((l) => l.replace(new RegExp(`\\r|${esc}\\[2K`, 'g'), ''))
      .filter((l) => l !== '');
    assert.deepEqual(frame.sort(), ['echo 1/1 up', 'web  update  old 0 → new 2  done'], out.text);
  });

  test('up without -d prints the rollout beside the followed logs, piped one line per change', async () => {
    const child = spawn(COMMAND, ['up', '-f', file], {
      env: { ...process.env, ...agent.env, WEB_TAG: 'v2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.stdout.resume();
    const closed = new Promise<number | null>((r) => child.once('close', r));
    try {
      await pollUntil(
        'the done line while following logs',
        async () => (err.includes('web  update  old 0 → new 2  done\n') ? true : undefined),
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}; stderr:\n${err}`);
      });
      const lines = rolloutLines(err, 'update');
      assert.ok(lines.length >= 3, err);
      assert.equal(new Set(lines).size, lines.length, `one line per change:\n${err}`);
    } finally {
      child.kill('SIGINT'); // Ctrl-C: stops following, the project keeps running
      await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    assert.deepEqual((await webReplicas()).length, 2);
  });

  test('logs -p -f shows a replica started after the stream opened', async () => {
    const child = spawn(COMMAND, ['logs', '-p', 'progress', '-f', 'echo'], {
      env: { ...process.env, ...agent.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const closed = new Promise<number | null>((r) => child.once('close', r));
    try {
      await pollUntil(
        'echo-1 line',
        async () => (/^progress-echo-1 \| hello$/m.test(out) ? true : undefined),
        15_000,
      );
      const s = await agent.cli(['scale', '-p', 'progress', 'echo=2']);
      assert.equal(s.code, 0, s.stderr);
      await pollUntil(
        'the new replica’s line in the followed stream',
        async () => (/^progress-echo-2 \| hello$/m.test(out) ? true : undefined),
        15_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; the stream:\n${out}`);
      });
      assert.equal(out.match(/^progress-echo-1 \| hello$/gm)?.length, 1, `no line twice:\n${out}`);
    } finally {
      child.kill('SIGINT');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // Without -f: what was written, then the end, as before.
    const r = await agent.cli(['logs', '-p', 'progress', 'echo']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^progress-echo-2 \| hello$/m);
  });
});
