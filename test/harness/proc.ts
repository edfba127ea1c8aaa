import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

/** A component started by a test; the test owns it and stops it in an `after` hook. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Combined stdout and stderr so far (the last 1 MiB), for assertion messages. */
  output(): string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** `signal` (default SIGTERM), SIGKILL after `timeoutMs` (default 5000), resolves once it has exited. Idempotent. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export interface StartProcessOptions {
  /** Label in errors and output, e.g. 'consul'. */
  name: string;
  cmd: string;
  args: string[];
  /** Added to (not replacing) the runner's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Polled every 100 ms until true; a throw counts as not ready yet. Without it the process is ready once spawned. */
  ready?: () => Promise<boolean>;
  /** Default 15000. */
  readyTimeoutMs?: number;
  /** Start it in its own session and process group (pgid = pid), so a test can signal the group as a terminal's Ctrl-C does. */
  detached?: boolean;
}

const OUTPUT_LIMIT = 1 << 20;

/**
 * Every process the harness started and that has not exited yet. The exit hook
 * SIGKILLs them synchronously by PID, so a test that crashes or forgets its
 * after-hook does not leave a Consul or HAProxy running on the machine.
 */
const live = new Map<number, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Also SIGKILL `pid` when the test process exits: for processes a component
 * started on purpose to outlive it (the agent's HAProxy), which the test's
 * after-hook removes but a crashed test would leave behind.
 */
export function killOnExit(pid: number, name: string): void {
  installExitHook();
  live.set(pid, name);
}

/** Starts `cmd` and waits until `ready()` says so; on failure the process is stopped and the error carries its output. */
export async function startProcess(opts: StartProcessOptions): Promise<ManagedProcess> {
  installExitHook();
  const child = spawn(opts.cmd, opts.args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached === true,
  });
  let out = '';
  const append = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > OUTPUT_LIMIT) out = out.slice(out.length - OUTPUT_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  const pid = await spawned(child, opts);
  live.set(pid, opts.name);
  let exitInfo: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(pid);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  // A test that forgets stop() must not hang the runner: nothing here keeps the
  // event loop alive, and the exit hook kills what is left.
  child.unref();
  unrefStream(child.stdout);
  unrefStream(child.stderr);

  let stopping: Promise<void> | undefined;
  const proc: ManagedProcess = {
    name: opts.name,
    pid,
    output: () => out,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000): Promise<void> {
      // Hold the event loop while stopping, so a graceful stop is not cut short by the runner exiting.
      child.ref();
      stopping ??= stopByPid(pid, exited, () => exitInfo !== undefined, signal, timeoutMs);
      return stopping;
    },
  };

  if (opts.ready !== undefined) {
    const timeoutMs = opts.readyTimeoutMs ?? 15_000;
    try {
      await waitReady(opts.ready, () => exitInfo, timeoutMs, opts.name);
    } catch (err) {
      await proc.stop('SIGKILL', 2000);
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`${msg}\n--- ${opts.name} output (tail) ---\n${out.slice(-4000)}`);
    }
  }
  return proc;
}

function spawned(child: ChildProcess, opts: StartProcessOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${opts.name}: cannot start ${opts.cmd}: ${err.message}`)));
    child.once('spawn', () => {
      if (child.pid === undefined) reject(new Error(`${opts.name}: ${opts.cmd} has no pid`));
      else resolve(child.pid);
    });
  });
}

async function waitReady(
  ready: () => Promise<boolean>,
  exitInfo: () => ProcessExit | undefined,
  timeoutMs: number,
  name: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
    const ex = exitInfo();
    if (ex !== undefined)
      throw new Error(`${name} exited before it was ready (code ${ex.code}, signal ${ex.signal})`);
    try {
      if (await ready()) return;
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  throw new Error(`${name} not ready after ${timeoutMs} ms${lastErr ? ` (last error: ${lastErr})` : ''}`);
}

async function stopByPid(
  pid: number,
  exited: Promise<ProcessExit>,
  hasExited: () => boolean,
  signal: NodeJS.Signals,
  timeoutMs: number,
): Promise<void> {
  if (hasExited()) return;
  sendSignal(pid, signal);
  if (await exitsWithin(exited, timeoutMs)) return;
  sendSignal(pid, 'SIGKILL');
  // SIGKILL cannot be ignored; the bound only guards against a zombie never reaped.
  await exitsWithin(exited, 5000);
}

/** True when `exited` settles within `ms`; the timer is cancelled either way so it does not hold the event loop. */
async function exitsWithin(exited: Promise<ProcessExit>, ms: number): Promise<boolean> {
  const ac = new AbortController();
  const timer = sleep(ms, 'timeout' as const, { signal: ac.signal }).catch(() => 'aborted' as const);
  const r = await Promise.race([exited, timer]);
  ac.abort();
  return r !== 'timeout';
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function unrefStream(s: Readable | null): void {
  const maybe = s as (Readable & { unref?: () => void }) | null;
  maybe?.unref?.();
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, bounded by `timeoutMs`. */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (let i = 0; i < 1_000_000; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() + intervalMs > deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}`,
  );
}
