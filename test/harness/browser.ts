/**
 * Debian's Chromium driven by playwright-core, for the dashboard's tests
 * (test/integration/web). One headless Chromium per call, on a fresh profile
 * (its own --user-data-dir under /tmp, removed by close()), with the flags
 * that keep it off the network and quiet: no sandbox (tests run as root),
 * no GPU, no QUIC, no first-run, background networking, component updates
 * or sync. Pages record their console errors, uncaught exceptions and failed
 * requests so a test can assert the page loaded cleanly; screenshots go to
 * test-artifacts/web/ (git-ignored), kept after the run.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { removeDir, tempDir } from './tmp.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Where screenshots go (git-ignored; the suite's artifacts). */
export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts/web');

export interface PageProblems {
  /** console.error messages, uncaught exceptions and failed requests, in order. */
  readonly errors: string[];
}

export interface TestBrowser {
  readonly context: BrowserContext;
  /** A new tab of `width`×`height` (default 1280×800) whose problems are recorded. */
  newPage(viewport?: { width: number; height: number }): Promise<{ page: Page; problems: PageProblems }>;
  /** The pids of this Chromium's processes (browser, renderers, GPU and utility ones), found by its profile dir. */
  pids(): Promise<number[]>;
  /** Closes Chromium and removes its profile. */
  close(): Promise<void>;
}

export async function startBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: bash .ci/setup.sh test installs Debian's chromium`);
  }
  const profile = await tempDir('chromium-profile');
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
      timeout: 30_000,
    });
  } catch (err) {
    await removeDir(profile);
    throw err;
  }
  // Should the test process die before close(), playwright kills the Chromium it launched (its exit hooks).
  // The persistent context opens a first blank tab; tests open their own.
  for (const p of context.pages()) await p.close();
  return {
    context,
    async newPage(viewport = { width: 1280, height: 800 }) {
      const page = await context.newPage();
      await page.setViewportSize(viewport);
      const errors: string[] = [];
      page.on('console', (m) => {
        // "Failed to load resource" is the response listener's, with its URL.
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
          errors.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`exception: ${e.message}`));
      page.on('response', (r) => {
        // Chromium's console line for a 4xx/5xx does not name the URL: record it here with it.
        if (r.status() >= 400) errors.push(`http ${r.status()}: ${r.request().method()} ${r.url()}`);
      });
      page.on('requestfailed', (r) => {
        // A WebSocket or fetch the page closes itself on navigation is aborted, not failed.
        const why = r.failure()?.errorText ?? '';
        if (!why.includes('ERR_ABORTED')) errors.push(`request failed: ${r.method()} ${r.url()}: ${why}`);
      });
      return { page, problems: { errors } };
    },
    async pids() {
      // The browser process names the profile (--user-data-dir); its zygote, renderers and GPU and
      // utility processes are its descendants (renderers fork from the zygote and do not name it).
      const parent = new Map<number, number>();
      const roots = new Set<number>();
      for (const entry of await readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(entry)) continue;
        const pid = Number(entry);
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        // Field 4 (ppid) follows the command in parentheses, which may itself hold spaces.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (Number.isFinite(ppid)) parent.set(pid, ppid);
        const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
        if (cmd.includes(`--user-data-dir=${profile}`)) roots.add(pid);
      }
      const ours = (pid: number): boolean => {
        for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 16; hops++) {
          if (roots.has(p)) return true;
          p = parent.get(p);
        }
        return false;
      };
      return [...parent.keys()].filter(ours);
    },
    async close() {
      await context.close().catch(() => undefined);
      await removeDir(profile);
    },
  };
}

/** Saves a full-page screenshot as test-artifacts/web/NAME.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, '_')}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/**
 * Evaluates a JavaScript expression in the page and returns its value. A
 * string, not a function: the test files compile without the DOM's types
 * (tsconfig has Node's only), and the expression is the page's business.
 */
export function inPage<T = unknown>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}
