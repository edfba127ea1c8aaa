import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../../runtime/base/atomic-file.js';
import { Backoff } from '../../runtime/base/backoff.js';
import { FailedPreconditionError, UnavailableError } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import { HAPROXY_ENV, type HaproxyOptions } from './config.js';
import { cliCommand, parseShowProc } from './runtime-api.js';

const OUTPUT_LIMIT = 64 * 1024;

/**
 * The HAProxy berth drives. Managed: berth starts it in master-worker mode
 * (`-W`, master CLI on `masterSocket`), with its own global file holding the
 * admin stats socket with `expose-fd listeners` (so a new worker takes the
 * listening sockets over from the old one instead of re-binding, and no
 * connection is refused during a reload), and restarts it with backoff when
 * it dies, with the live config. External: berth only talks to the master
 * CLI of a HAProxy someone else runs.
 */
export class HaproxySupervisor {
  private child: ChildProcess | undefined;
  /** Master PID of a HAProxy a previous agent started and left running (adopted, watched by polling). */
  private adopted: number | undefined;
  private adoptTimer: NodeJS.Timeout | undefined;
  private out = '';
  private stopping = false;
  private readonly backoff: Backoff;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;

  constructor(
    private readonly opts: HaproxyOptions,
    private readonly hooks: {
      logger: Logger;
      /** Called after HAProxy (re)started and serves; the manager resyncs its view of the slots. */
      onRestarted?: () => void;
      onRestartCounted?: () => void;
    },
  ) {
    // No jitter: one HAProxy per host, nothing to spread. A 0 ms minimum is Node's 1 ms timer, then doubling.
    this.backoff = new Backoff({
      initialMs: Math.max(1, opts.restartBackoffMinMs),
      maxMs: opts.restartBackoffMaxMs,
      jitter: 0,
    });
  }

  /** PID of the master berth started (managed mode). */
  get pid(): number | undefined {
    return this.child?.pid ?? this.adopted;
  }

  /** Last output of the managed HAProxy (for error messages). */
  output(): string {
    return this.out;
  }

  /** Writes berth's global file (managed mode), atomically: HAProxy reads it at every (re)start. */
  async prepare(): Promise<void> {
    await mkdir(this.opts.stateDir, { recursive: true });
    if (this.opts.globalPath === undefined || this.opts.statsSocket === undefined) return;
    await writeFileAtomic(
      this.opts.globalPath,
      [
        '# Written by berth: the Runtime API socket berth drives HAProxy through.',
        'global',
        `  stats socket ${this.opts.statsSocket} mode 600 level admin expose-fd listeners`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  }

  /** Files `haproxy -c` loads before a candidate config. */
  preludeFiles(): string[] {
    return this.opts.globalPath === undefined ? [] : [this.opts.globalPath];
  }

  /** Managed: start HAProxy and wait until a worker serves. External: check that the master CLI answers. */
  async start(): Promise<void> {
    if (this.opts.mode === 'external') {
      const proc = parseShowProc(await this.master('show proc'));
      if (proc.workers.length === 0) {
        throw new FailedPreconditionError(`haproxy at ${this.opts.masterSocket} has no worker`);
      }
      return;
    }
    this.stopping = false;
    if (await this.adopt()) return;
    try {
      await this.spawnAndWait();
    } catch (err) {
      // A config that cannot start at all is the caller's error, not something to retry forever.
      this.stopping = true;
      throw err;
    }
  }

  /**
   * A HAProxy a previous agent started on these paths and left running (agent
   * restart or upgrade with `keepHaproxy`): take it over instead of starting a
   * second one on the same ports. It is recognised by the pid file, a live
   * process whose command line names our master socket, and the master CLI
   * reporting that pid; it is then reloaded with the live config and watched
   * by polling (it is not our child).
   */
  private async adopt(): Promise<boolean> {
    let pid: number;
    try {
      pid = Number((await readFile(this.opts.pidFile, 'utf8')).trim());
      if (!Number.isInteger(pid) || pid <= 1) return false;
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      if (!cmdline.some((a) => a.startsWith(this.opts.masterSocket))) return false;
      if (parseShowProc(await this.master('show proc', 1000)).masterPid !== pid) return false;
    } catch {
      return false;
    }
    this.adopted = pid;
    this.hooks.logger.info({ pid }, 'adopting the running haproxy');
    await this.reload();
    this.watchAdopted();
    return true;
  }

  private watchAdopted(): void {
    this.adoptTimer = setInterval(() => {
      const pid = this.adopted;
      if (pid === undefined || this.stopping) return;
      if (alive(pid)) return;
      clearInterval(this.adoptTimer);
      this.adopted = undefined;
      this.onUnexpectedExit(null, null);
    }, 500);
    this.adoptTimer.unref();
  }

  /** Stops supervising but leaves HAProxy running (agent restart or upgrade); the next start adopts it. */
  detach(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.adoptTimer);
    this.child?.stdout?.destroy();
    this.child?.stderr?.destroy();
    this.child?.unref();
    this.child = undefined;
    this.adopted = undefined;
  }

  private async spawnAndWait(): Promise<void> {
    const o = this.opts;
    const args = ['-W', '-S', `${o.masterSocket},mode,600`];
    for (const f of this.preludeFiles()) args.push('-f', f);
    args.push('-f', o.configPath, '-p', o.pidFile);
    // Its own session (setsid): a Ctrl-C on a foreground agent signals the
    // agent's process group, and HAProxy, like the containers, outlives the
    // agent (the next start adopts it). A minimal environment: see HAPROXY_ENV.
    const child = spawn(o.binary, args, {
      cwd: o.stateDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...HAPROXY_ENV },
      detached: true,
    });
    this.child = child;
    const append = (b: Buffer): void => {
      this.out += b.toString('utf8');
      if (this.out.length > OUTPUT_LIMIT) this.out = this.out.slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      if (this.child === child) this.child = undefined;
      if (!this.stopping) this.onUnexpectedExit(code, signal);
    });
    const spawnErr = await new Promise<Error | undefined>((resolve) => {
      child.once('error', (err) => resolve(err));
      child.once('spawn', () => resolve(undefined));
    });
    if (spawnErr !== undefined) {
      throw new FailedPreconditionError(`cannot start haproxy (${o.binary}): ${spawnErr.message}`, {
        cause: spawnErr,
      });
    }
    const deadline = Date.now() + o.reloadTimeoutMs;
    for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
      if (exited) break;
      if (await this.serving()) {
        this.hooks.logger.info({ pid: child.pid }, 'haproxy started');
        return;
      }
      await sleep(25);
    }
    if (!exited) child.kill('SIGKILL');
    throw new UnavailableError(
      `haproxy did not start within ${o.reloadTimeoutMs} ms:\n${this.out.slice(-2000)}`,
    );
  }

  /** True once the master lists a worker and the worker's Runtime API answers. */
  private async serving(): Promise<boolean> {
    try {
      const proc = parseShowProc(await this.master('show proc', 1000));
      if (proc.workers.length === 0) return false;
      if (this.opts.statsSocket !== undefined) {
        if (!existsSync(this.opts.statsSocket)) return false;
        const info = await cliCommand(this.opts.statsSocket, 'show info', 1000);
        return info.includes('Pid:');
      }
      return true;
    } catch {
      return false;
    }
  }

  private onUnexpectedExit(code: number | null, signal: string | null): void {
    // Never restart during shutdown (close, detach or stop has begun).
    if (this.stopping) return;
    this.hooks.onRestartCounted?.();
    const delay = this.backoff.next();
    this.hooks.logger.warn(
      { code, signal, delayMs: delay },
      'haproxy exited; restarting it with the live config',
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.restarting = this.spawnAndWait().then(
        () => {
          this.hooks.onRestarted?.();
          // A HAProxy that stays up for a while earns a fresh backoff.
          setTimeout(() => {
            if (this.child !== undefined) this.backoff.reset();
          }, 10_000).unref();
        },
        (err: unknown) => {
          this.hooks.logger.error({ err }, 'haproxy restart failed');
        },
      );
    }, delay);
    this.restartTimer.unref();
  }

  /** One master CLI command. */
  master(cmd: string, timeoutMs = 5000): Promise<string> {
    return cliCommand(this.opts.masterSocket, cmd, timeoutMs);
  }

  /**
   * Seamless reload through the master CLI: the master re-executes itself
   * with the live config, the new worker takes the listeners over, old
   * workers finish their sessions. Resolves when a new worker serves; throws
   * FailedPreconditionError with HAProxy's output when it refused the config
   * (the old worker keeps serving).
   */
  async reload(): Promise<void> {
    if (this.restarting !== undefined) await this.restarting;
    const before = parseShowProc(await this.master('show proc'));
    // HAProxy 2.6 answers nothing to `reload`: the master re-execs and drops the connection.
    await this.master('reload', this.opts.reloadTimeoutMs).catch(() => '');
    const deadline = Date.now() + this.opts.reloadTimeoutMs;
    for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
      let now: ReturnType<typeof parseShowProc> | undefined;
      try {
        now = parseShowProc(await this.master('show proc', 1000));
      } catch {
        now = undefined; // the master is between exec and listening again
      }
      if (now !== undefined) {
        if (now.failedReloads > before.failedReloads) {
          throw new FailedPreconditionError(
            `haproxy refused the reload; the previous worker keeps serving:\n${this.out.slice(-2000)}`,
          );
        }
        const fresh = now.workers.filter((p) => !before.workers.includes(p));
        if (fresh.length > 0 && (await this.serving())) return;
      }
      await sleep(10);
    }
    throw new UnavailableError(`haproxy reload did not complete within ${this.opts.reloadTimeoutMs} ms`);
  }

  /** Managed: stop HAProxy (SIGUSR1 soft stop lets sessions finish, SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.adoptTimer);
    // A failed restart was logged where it failed; stopping goes on either way.
    if (this.restarting !== undefined) await this.restarting.catch(() => undefined);
    const adopted = this.adopted;
    if (adopted !== undefined) {
      this.adopted = undefined;
      signal(adopted, 'SIGUSR1');
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; i < 10_000 && alive(adopted) && Date.now() < deadline; i++) await sleep(20);
      if (alive(adopted)) signal(adopted, 'SIGKILL');
      return;
    }
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGUSR1');
    const ac = new AbortController();
    // Aborted once the child exited first: the race is already decided.
    const timer = sleep(timeoutMs, 'timeout' as const, { signal: ac.signal }).catch(() => 'aborted' as const);
    const first = await Promise.race([exited.then(() => 'exited' as const), timer]);
    ac.abort();
    if (first === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
    this.child = undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
