import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { type CgroupInfo, detectCgroups, oomCounterFile } from '../cgroups/detect.js';
import { HostProc } from '../cgroups/proc.js';
import { type HostRoots, hostRoots } from '../cgroups/roots.js';
import type { ExecIO } from '../runtime.js';
import { conmonArgs, launchConmon } from './conmon.js';
import { runExec } from './exec-process.js';
import { ExitWatcher } from './exit-watch.js';
import { type LogControl, openLogControl } from './log-control.js';
import { MonitorProbe, readPid } from './monitor.js';
import { RuncClient, runtimeError, startThroughFifo } from './runc.js';
import { normalizeSignal } from './signals.js';
import { type ContainerMeta, readExitFile, readMeta, StateLayout, writeMeta } from './state.js';
import type { AdoptResult, ExecutorPort, ExitInfo } from './types.js';

export interface ConmonExecutorOptions {
  runtimePath: string;
  runtimeName: 'runc' | 'crun';
  /** Per-agent state: runtime --root, conmon exit/persist dirs, pidfiles, sockets. */
  stateDir: string;
  conmonPath: string;
  logger: Logger;
  /**
   * Bytes; conmon itself replaces the log file by a new one when it would
   * exceed this, keeping no old file. The agent leaves it unset and rotates
   * through `openLogControl` (log-rotator.ts) instead.
   */
  logSizeMax?: number;
  /** How often `wait` re-checks the exit file when no fs event arrived (ms). */
  pollIntervalMs?: number;
  /** Timeout for conmon to report the pid after `runtime create` (ms). */
  createTimeoutMs?: number;
  /** The host's cgroup layout (where a container's OOM counter is); detected at the first create when absent. */
  cgroups?: CgroupInfo;
  /** procfs and cgroupfs roots (monitor liveness, a container's cgroups); default the host's. */
  roots?: Partial<HostRoots>;
}

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/**
 * Runs containers as conmon (monitor) + runc/crun (OCI runtime). All state is
 * on disk under `stateDir` (see StateLayout), so a new instance on the same
 * stateDir re-adopts what an earlier agent started. The jobs sit beside it:
 * conmon.ts (the monitor's command line and launch), runc.ts (runtime
 * commands, the exec.fifo start), exit-watch.ts (waits), monitor.ts (is the
 * monitor alive), state.ts (the on-disk layout), exec-process.ts (exec).
 */
export class ConmonExecutor implements ExecutorPort {
  private readonly layout: StateLayout;
  private readonly runc: RuncClient;
  private readonly log: Logger;
  private readonly roots: HostRoots;
  private readonly proc: HostProc;
  private readonly monitors: MonitorProbe;
  private readonly exits: ExitWatcher;
  private cgroups: CgroupInfo | undefined;

  constructor(private readonly opts: ConmonExecutorOptions) {
    this.layout = new StateLayout(opts.stateDir);
    this.runc = new RuncClient(opts.runtimePath, this.layout.runtimeRoot);
    this.log = opts.logger;
    this.roots = hostRoots(opts.roots);
    this.proc = new HostProc(this.roots.proc);
    this.monitors = new MonitorProbe(this.proc);
    this.cgroups = opts.cgroups;
    // fs.watch on the exit dir reports exits at once; the poll only catches a lost monitor or a missed event.
    this.exits = new ExitWatcher(this.layout.exitDir, opts.pollIntervalMs ?? 30_000, this.monitors, this.log);
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

    const args = conmonArgs(id, {
      layout: L,
      runtimePath: this.opts.runtimePath,
      bundleDir,
      logPath: opts.logPath,
      terminal: await wantsTerminal(bundleDir),
      logSizeMax: this.opts.logSizeMax,
    });
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
    const oomCounterPath = await this.oomCounterFor(pid);
    if (oomCounterPath !== undefined) {
      meta.oomCounterPath = oomCounterPath;
      await writeMeta(L, id, meta);
    }
    this.log.debug({ id, pid, runtime: this.opts.runtimeName }, 'container created');
    return { pid };
  }

  async start(id: string): Promise<void> {
    checkId(id);
    if (this.opts.runtimeName === 'runc' && (await startThroughFifo(this.layout.runtimeRoot, id))) return;
    await this.runc.must(id, ['start', id]);
  }

  /** meta.json of `id`; one of a newer format is logged and left unread (the OCI runtime is asked instead). */
  private meta(id: string): Promise<ContainerMeta | undefined> {
    return readMeta(this.layout, id, (err) =>
      this.log.warn({ err, id }, 'exec: meta.json of a newer berth not read; asking the OCI runtime'),
    );
  }

  /**
   * The writing end of the container's conmon control FIFO (`<bundle>/ctl`,
   * log-control.ts), or undefined when its conmon is gone or the bundle has
   * none. Works for containers an earlier agent started (live restore): the
   * bundle dir is in meta.json.
   */
  async openLogControl(id: string): Promise<LogControl | undefined> {
    checkId(id);
    const bundleDir = (await this.meta(id))?.bundleDir ?? (await this.runc.state(id))?.bundle;
    return bundleDir === undefined ? undefined : openLogControl(bundleDir);
  }

  async kill(id: string, signal: string): Promise<void> {
    checkId(id);
    const sig = normalizeSignal(signal);
    await this.runc.must(id, ['kill', id, sig]);
  }

  async wait(id: string): Promise<ExitInfo> {
    checkId(id);
    const meta = await this.meta(id);
    const first = await readExitFile(this.layout, id, meta);
    if (first) return first;
    if (meta === undefined && (await this.runc.state(id)) === undefined) {
      throw new NotFoundError(`container ${id}: not created by this executor`);
    }
    return this.exits.wait(id, {
      exitFile: this.layout.exitFile(id),
      pidFile: this.layout.conmonPidFile(id),
      probe: async () => (await readExitFile(this.layout, id, meta)) ?? (await this.lostMonitor(id, meta)),
    });
  }

  /**
   * When conmon died (killed, OOM, host trouble) nobody will write the exit
   * file. If the container is gone too, report an unknown exit (255) instead of
   * waiting forever.
   */
  private async lostMonitor(id: string, meta: ContainerMeta | undefined): Promise<ExitInfo | undefined> {
    const conmonPid = await readPid(this.layout.conmonPidFile(id));
    if (conmonPid !== undefined && (await this.monitors.isConmon(conmonPid, id))) return undefined;
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
      if (!(await this.monitors.isConmon(pid, id))) return;
      await sleep(5);
    }
    this.log.warn({ id, pid }, 'conmon did not exit after delete; killing it');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ESRCH: it exited between the last look and the kill, which is what we wanted
    }
  }

  async exec(
    id: string,
    req: { cmd: string[]; env?: string[]; user?: string; workdir?: string; outputLimit?: number },
    signal?: AbortSignal,
    io?: ExecIO,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    checkId(id);
    const meta = await this.meta(id);
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

  async adopt(id: string): Promise<AdoptResult> {
    checkId(id);
    const meta = await this.meta(id);
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

  /** The cgroup file whose oom_kill counter tells whether the kernel OOM-killed inside the container. */
  private async oomCounterFor(pid: number): Promise<string | undefined> {
    const cgroups = await this.proc.cgroups(pid);
    if (cgroups === undefined) return undefined;
    if (this.cgroups === undefined) {
      try {
        this.cgroups = detectCgroups(this.roots);
      } catch (err) {
        // Without a layout there is no counter to name; conmon's own `oom` file still reports OOM kills.
        this.log.warn({ err }, 'cgroup layout unknown; OOM kills are read from conmon only');
        return undefined;
      }
    }
    return oomCounterFile(this.cgroups, cgroups);
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
    // ENOENT: not there, which is the answer
    () => false,
  );
}
