/**
 * What the dashboard's browser tests share: a real agent whose dashboard
 * listens on a free loopback port and serves a bundle built for this file
 * (its own temp dir, so files running at once never race on dist/web), the
 * busybox test image loaded, and a headless Chromium logged in through a
 * one-time URL from `berth dashboard-url`, as an operator would.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildWeb } from '../../../web/build.js';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { type PageProblems, startBrowser, type TestBrowser } from '../../harness/browser.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { freePort } from '../../harness/ports.js';
import { removeDir, tempDir } from '../../harness/tmp.js';

export const IMAGE = 'berth-test/web-busybox:1';

export interface WebFixture {
  agent: TestAgent;
  browser: TestBrowser;
  /** http://127.0.0.1:PORT */
  base: string;
  /** `berth ARGS` that must succeed; returns stdout. */
  ok(args: string[]): Promise<string>;
  /** A new logged-in page at `hash` (e.g. '#/containers'), its problems recorded. */
  open(
    hash: string,
    viewport?: { width: number; height: number },
    /** A script run in the page before its own (addInitScript), e.g. a PerformanceObserver. */
    init?: string,
  ): Promise<{ page: Page; problems: PageProblems }>;
  /** Stops the browser and the agent, removes the build. */
  close(): Promise<void>;
}

/** `args`: more `berth agent` flags (e.g. `--mode both` and the roots it observes). */
export async function startWebFixture(opts: { args?: string[] } = {}): Promise<WebFixture> {
  const dir = await tempDir('web-test');
  const { outDir } = await buildWeb({ outDir: join(dir, 'web'), quiet: true });
  const port = await freePort();
  const agent = await startAgent({
    args: ['--dashboard', `127.0.0.1:${port}`, ...(opts.args ?? [])],
    config: { dashboard: { webDir: outDir } },
  });
  let browser: TestBrowser | undefined;
  const fixture: WebFixture = {
    agent,
    get browser() {
      return browser as TestBrowser;
    },
    base: `http://127.0.0.1:${port}`,
    async ok(args) {
      const r = await agent.cli(args);
      assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    async open(hash, viewport, init) {
      const url = (await fixture.ok(['dashboard-url'])).trim();
      assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/login\\?token=`));
      const opened = await (browser as TestBrowser).newPage(viewport);
      if (init) await opened.page.addInitScript(init);
      // The login answers 302 to / with the session cookie; the view is a hash route of /.
      await opened.page.goto(url);
      if (hash) await opened.page.goto(`${fixture.base}/${hash}`);
      return opened;
    },
    async close() {
      await browser?.close();
      await agent.stop();
      await removeDir(dir);
    },
  };
  try {
    const tar = await buildBusyboxImage({ format: 'oci', ref: IMAGE, config: { Cmd: ['sh'] } });
    await fixture.ok(['load', '-i', tar]);
    await removeDir(join(tar, '..'));
    browser = await startBrowser();
  } catch (err) {
    await fixture.close();
    throw err;
  }
  return fixture;
}
