import { existsSync, type FSWatcher, constants as fsConstants, readFileSync, watch } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { ExecutorPort, ExitInfo } from '../containers/ports.js';
import type { ExecIO } from '../runtime.js';
import { launchConmon } from './conmon.js';
import { runExec } from './exec-process.js';
import { RuncClient, runtimeError } from './runc.js';
import { normalizeSignal } from './signals.js';
import { type ContainerMeta, readExitFile, readMeta, StateLayout, writeMeta } from './state.js';

export interface ConmonExecutorOptions {
  runtimePath: string;
  runtimeName: 'runc' | 'crun';
  /** Per-agent state: runtime --root, conmon exit/persist dirs, pidfiles, sockets. */
  stateDir: string;
  conmonPath: string;
  logger: Logger;
  /** Bytes; conmon starts a new log file when the current one would exceed it. */
  logSizeMax?: number;
  /** How often `wait` re-checks the exit file when no fs event arrived (ms). */
  pollIntervalMs?: number;
  /** Timeout for conmon to report the pid after `runtime create` (ms). */
  createTimeoutMs?: number;
}

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/**
 * Runs containers as conmon (monitor) + runc/crun (OCI runtime). All state is
 * on disk under `stateDir` (see StateLayout), so a new instance on the same
 * stateDir re-adopts what an earlier agent started.
 */
export class ConmonExecutor implements ExecutorPort {
  private readonly layout: StateLayout;
  private readonly runc: RuncClient;
  private readonly log: Logger;
  private readonly pollMs: number;
  /** Pending waits by container id (see addWaiter). */
  private readonly waiters = new Map<string, Set<Waiter>>();
  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ConmonExecutorOptions) {
    this.layout = new StateLayout(opts.stateDir);
    this.runc = new RuncClient(opts.runtimePath, this.layout.runtimeRoot);
    this.log = opts.logger;
    // fs.watch on the exit dir reports exits at once; the poll only catches a lost monitor or a missed event.
    this.pollMs = opts.pollIntervalMs ?? 30_000;
  }

  async create(id: string, bundleDir: string, opts: { logPath: string }): Promise<{ pid: number }> {
    checkId(id);
    if (!isAbsolute(bundleDir)) {
      throw new InvalidArgumentError(`bundleDir: "${bundleDir}" must be absolute`, { field: 'bundleDir' });
    }
    if (!isAbsolute(opts.logPath)) {
      throw new InvalidArgumentError(`logPath: "${opts.logPath}" must be absolute`, { field: 'logPath' });
    }
    const L = this.layout;
    await Promise.all([
      mkdir(L.runtimeRoot, { recursive: true }),
      mkdir(L.exitDir, { recursive: true }),
      mkdir(L.socketDir, { recursive: true }),
      mkdir(dirname(opts.logPath), { recursive: true }),
    ]);
    // runc keeps <root>/<id>/state.json per container: a stat instead of spawning `runc state`.
    if (await exists(join(L.runtimeRoot, id, 'state.json'))) {
      throw new AlreadyExistsError(`container ${id}: already exists in the OCI runtime`);
    }
    // Leftovers of an earlier container with the same id would be read as this one's exit.
    await Promise.all([
      rm(L.containerDir(id), { recursive: true, force: true }),
      rm(L.exitFile(id), { force: true }),
    ]);
    await mkdir(L.containerDir(id), { recursive: true });
    const meta: ContainerMeta = { bundleDir, logPath: opts.logPath, createdAt: new Date().toISOString() };
    await writeMeta(L, id, meta);

    const args = [
      '--api-version',
      '1',
      '-c',
      id,
      '-u',
      id,
      '-n',
      id,
      '-r',
      this.opts.runtimePath,
      '-b',
      bundleDir,
      '-p',
      L.pidFile(id),
      '-P',
      L.conmonPidFile(id),
      '-l',
      `k8s-file:${opts.logPath}`,
      '--exit-dir',
      L.exitDir,
      '--persist-dir',
      L.containerDir(id),
      '--socket-dir-path',
      L.socketDir,
      '--runtime-arg',
      `--root=${L.runtimeRoot}`,
      '--runtime-arg',
      `--log=${L.runtimeLog(id)}`,
      '--runtime-arg',
      '--log-format=json',
    ];
    // With process.terminal the runtime wants a console socket; conmon provides it and logs the pty.
    if (await wantsTerminal(bundleDir)) args.push('--terminal');
    if (this.opts.logSizeMax !== undefined && this.opts.logSizeMax > 0) {
      args.push('--log-size-max', String(this.opts.logSizeMax));
    }
    let pid: number;
    try {
      pid = await launchConmon(id, {
        conmonPath: this.opts.conmonPath,
        args,
        timeoutMs: this.opts.createTimeoutMs ?? 60_000,
        stderrPath: join(L.containerDir(id), 'conmon.log'),
        cwd: L.containerDir(id),
      });
    } catch (err) {
      await this.delete(id).catch((e: unknown) => {
        this.log.warn({ err: e, id }, 'cleanup after failed create');
      });
      throw err;
    }
    const oomCounterPath = await oomCounterFor(pid);
    if (oomCounterPath !== undefined) {
      meta.oomCounterPath = oomCounterPath;
      await writeMeta(L, id, meta);
    }
    this.log.debug({ id, pid, runtime: this.opts.runtimeName }, 'container created');
    return { pid };
  }

  async start(id: string): Promise<void> {
    checkId(id);
    if (this.opts.runtimeName === 'runc' && (await this.startThroughFifo(id))) return;
    await this.runc.must(id, ['start', id]);
  }

  /**
   * Does what `runc start` does, without a runc process (10-20 ms of every
   * container start). After `runc create`, runc init waits to open
   * <root>/<id>/exec.fifo for writing; once a reader opens it, init writes one
   * byte and execs the container's process. `runc start` is that reader: it
   * reads the byte and removes the fifo, which is what makes `runc state` say
   * running (runc 1.0 through 1.2, libcontainer's exec()). Opened non-blocking,
   * so a dead init never hangs a thread. False (nothing done) when there is no
   * fifo to open: `runc start` then runs and reports whatever is wrong.
   */
  private async startThroughFifo(id: string): Promise<boolean> {
    const fifo = join(this.layout.runtimeRoot, id, 'exec.fifo');
    let fh: FileHandle;
    try {
      if (!(await stat(fifo)).isFIFO()) return false;
      fh = await open(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch {
      return false;
    }
    try {
      const buf = Buffer.alloc(16);
      const deadline = Date.now() + 10_000;
      // 0 bytes: init has not opened its end yet; EAGAIN: it has, and not written yet.
      for (;;) {
        let n = 0;
        try {
          n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (n > 0) break;
        if (Date.now() > deadline) {
          throw new UnavailableError(`container ${id}: runc init did not signal through exec.fifo in 10 s`);
        }
        await sleep(1);
      }
    } finally {
      await fh.close();
    }
    await rm(fifo, { force: true });
    return true;
  }

  async kill(id: string, signal: string): Promise<void> {
    checkId(id);
    const sig = normalizeSignal(signal);
    await this.runc.must(id, ['kill', id, sig]);
  }

  async wait(id: string): Promise<ExitInfo> {
    checkId(id);
    const meta = await readMeta(this.layout, id);
    const first = await readExitFile(this.layout, id, meta);
    if (first) return first;
    if (meta === undefined && (await this.runc.state(id)) === undefined) {
      throw new NotFoundError(`container ${id}: not created by this executor`);
    }
    return new Promise<ExitInfo>((resolve) => {
      let checking = false;
      let again = false;
      let settled = false;
      /** The conmon last seen alive (see poll below). */
      let monitor: { pid: number; start: string } | undefined;
      const exitFile = this.layout.exitFile(id);
      const pidFile = this.layout.conmonPidFile(id);
      const waiter: Waiter = {
        check: () => void check(),
        // The poll's common case (no exit file, the same conmon still running) costs two
        // small synchronous reads; only a change runs the full check.
        poll: () => {
          if (monitor !== undefined && processStart(monitor.pid) === monitor.start && !existsSync(exitFile)) {
            return;
          }
          void check().then(() => {
            if (!settled) monitor = liveMonitor(pidFile);
          });
        },
      };
      const settle = (info: ExitInfo): void => {
        if (settled) return;
        settled = true;
        this.removeWaiter(id, waiter);
        resolve(info);
      };
      const check = async (): Promise<void> => {
        // Coalesce bursts of fs events into one read at a time.
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          do {
            again = false;
            const info = (await readExitFile(this.layout, id, meta)) ?? (await this.lostMonitor(id, meta));
            if (info) return settle(info);
          } while (again && !settled);
        } catch (err) {
          // A runtime hiccup (runc state timing out) must not fail a wait that can last for days.
          this.log.warn({ err, id }, 'checking for the container exit failed; will retry');
        } finally {
          checking = false;
        }
      };
      this.addWaiter(id, waiter);
      // The exit may have landed between the first read and the watch.
      void check();
    });
  }

  /**
   * Every wait shares one fs.watch on the exit dir (events are dispatched by
   * file name, which is the container id) and one poll timer: with hundreds
   * of containers, a watcher and a timer each cost an idle agent more than
   * the work they do.
   */
  private addWaiter(id: string, w: Waiter): void {
    let set = this.waiters.get(id);
    if (set === undefined) {
      set = new Set();
      this.waiters.set(id, set);
    }
    set.add(w);
    if (this.watcher === undefined) {
      try {
        const watcher = watch(this.layout.exitDir, (_event, name) => {
          if (name === null) for (const ws of this.waiters.values()) for (const x of ws) x.check();
          else for (const x of this.waiters.get(name) ?? []) x.check();
        });
        watcher.on('error', (err) => {
          // The poll still catches exits; the next wait tries to watch again.
          this.log.debug({ err }, 'fs.watch on exit dir failed; polling only');
          if (this.watcher === watcher) this.watcher = undefined;
          watcher.close();
        });
        this.watcher = watcher;
      } catch (err) {
        this.log.debug({ err, id }, 'fs.watch on exit dir failed; polling only');
      }
    }
    this.pollTimer ??= setInterval(() => {
      for (const ws of this.waiters.values()) for (const x of ws) x.poll();
    }, this.pollMs);
  }

  private removeWaiter(id: string, w: Waiter): void {
    const set = this.waiters.get(id);
    set?.delete(w);
    if (set?.size === 0) this.waiters.delete(id);
    if (this.waiters.size > 0) return;
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /**
   * When conmon died (killed, OOM, host trouble) nobody will write the exit
   * file. If the container is gone too, report an unknown exit (255) instead of
   * waiting forever.
   */
  private async lostMonitor(id: string, meta: ContainerMeta | undefined): Promise<ExitInfo | undefined> {
    const conmonPid = await readPid(this.layout.conmonPidFile(id));
    if (conmonPid !== undefined && (await isConmon(conmonPid, id))) return undefined;
    // conmon may have written the file just before exiting.
    const late = await readExitFile(this.layout, id, meta);
    if (late) return late;
    const st = await this.runc.state(id);
    if (st !== undefined && st.status !== 'stopped') return undefined;
    this.log.warn({ id }, 'conmon is gone without recording an exit code; reporting 255');
    return { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() };
  }

  async delete(id: string): Promise<void> {
    checkId(id);
    const r = await this.runc.run(['delete', '--force', id]);
    if (r.code !== 0 && !/does not exist/i.test(r.stderr)) throw runtimeError(id, 'delete', r.stderr);
    // conmon writes the exit file after the runtime's delete kills the process;
    // wait for it so it does not reappear after the cleanup below.
    const conmonPid = await readPid(this.layout.conmonPidFile(id));
    if (conmonPid !== undefined) await this.reapConmon(conmonPid, id);
    await Promise.all([
      rm(this.layout.containerDir(id), { recursive: true, force: true }),
      rm(this.layout.exitFile(id), { force: true }),
      rm(join(this.layout.socketDir, id), { recursive: true, force: true }),
    ]);
  }

  private async reapConmon(pid: number, id: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (!(await isConmon(pid, id))) return;
      await sleep(5);
    }
    this.log.warn({ id, pid }, 'conmon did not exit after delete; killing it');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  async exec(
    id: string,
    req: { cmd: string[]; env?: string[]; user?: string; workdir?: string; outputLimit?: number },
    signal?: AbortSignal,
    io?: ExecIO,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    checkId(id);
    const meta = await readMeta(this.layout, id);
    const st = await this.runc.state(id);
    if (st === undefined) throw new NotFoundError(`container ${id}: not known to the OCI runtime`);
    if (st.status !== 'running') {
      throw new FailedPreconditionError(`container ${id}: cannot exec, container is ${st.status}`);
    }
    return runExec({
      runc: this.runc,
      id,
      bundleDir: meta?.bundleDir ?? st.bundle,
      workDir: this.layout.containerDir(id),
      req,
      ...(signal ? { signal } : {}),
      ...(io ? { io } : {}),
    });
  }

  async adopt(
    id: string,
  ): Promise<
    | { status: 'running'; pid: number }
    | { status: 'created'; pid: number }
    | { status: 'exited'; exit: ExitInfo }
    | { status: 'missing' }
  > {
    checkId(id);
    const meta = await readMeta(this.layout, id);
    const st = await this.runc.state(id);
    // 'created': the agent died between create and start; runc init waits for a start that never came.
    if (st?.status === 'created') return { status: 'created', pid: st.pid };
    if (st !== undefined && st.status !== 'stopped') return { status: 'running', pid: st.pid };
    const exit = await readExitFile(this.layout, id, meta);
    if (exit) return { status: 'exited', exit };
    if (st === undefined && meta === undefined) return { status: 'missing' };
    // Stopped but conmon has not written the exit file yet (or is gone): wait briefly.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      await sleep(50);
      const late = await readExitFile(this.layout, id, meta);
      if (late) return { status: 'exited', exit: late };
    }
    const lost = await this.lostMonitor(id, meta);
    if (lost) return { status: 'exited', exit: lost };
    return st === undefined ? { status: 'missing' } : { status: 'running', pid: st.pid };
  }
}

function checkId(id: string): void {
  if (!ID_RE.test(id)) {
    throw new InvalidArgumentError(
      `id: "${id}" must be 1-128 of [a-zA-Z0-9_.-], not starting with . _ or -`,
      {
        field: 'id',
      },
    );
  }
}

/** A pid file's content as a pid, or undefined when it is not one. */
function parsePid(text: string): number | undefined {
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    return parsePid(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** One pending wait: `check` reads the exit state now, `poll` is the cheap periodic look. */
interface Waiter {
  check(): void;
  poll(): void;
}

/**
 * The start time (in clock ticks since boot, field 22 of /proc/<pid>/stat) of a
 * live process: with the pid it names one process for good (pids are reused,
 * start times are not). Undefined when it is gone or a zombie.
 */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** The conmon named by the pid file, right after a full check found it alive. */
function liveMonitor(pidFile: string): { pid: number; start: string } | undefined {
  try {
    const pid = parsePid(readFileSync(pidFile, 'utf8'));
    const start = pid === undefined ? undefined : processStart(pid);
    return pid === undefined || start === undefined ? undefined : { pid, start };
  } catch {
    return undefined;
  }
}

/** True when `pid` is still the conmon of container `id` (guards against pid reuse). */
async function isConmon(pid: number, id: string): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    // A zombie conmon (parent has not reaped it yet) is as good as gone.
    if (processStart(pid) === undefined) return false;
    return cmdline.some((a) => a.endsWith('conmon')) && cmdline.includes(id);
  } catch {
    return false;
  }
}

/** The cgroup file whose oom_kill counter tells whether the kernel OOM-killed inside the container. */
async function oomCounterFor(pid: number): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controllers.split(',').includes('memory')) {
      return join('/sys/fs/cgroup/memory', path, 'memory.oom_control');
    }
    if (controllers === '') unified = path;
  }
  // Pure cgroup v2: memory.events carries oom_kill.
  return unified !== undefined ? join('/sys/fs/cgroup', unified, 'memory.events') : undefined;
}

async function wantsTerminal(bundleDir: string): Promise<boolean> {
  try {
    const config = JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')) as {
      process?: { terminal?: unknown };
    };
    return config.process?.terminal === true;
  } catch {
    // A missing or bad config.json is reported by the runtime itself, with its own words.
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
