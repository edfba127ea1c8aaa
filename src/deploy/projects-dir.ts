import { existsSync } from 'node:fs';
import { basename, dirname, extname, relative, sep } from 'node:path';
import { watch } from 'chokidar';
import { messageOf } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import { DEFAULT_COMPOSE_FILES } from '../compose/find.js';
import { readComposeText } from '../compose/read-text.js';
import { parseYamlTree } from '../compose/yaml-tree.js';
import type { Projects } from './projects.js';

/**
 * `--projects-dir DIR`: a directory of Compose projects the agent keeps up,
 * watched with chokidar. A project is a `*.yaml`/`*.yml` file directly in
 * DIR (named by its `name:`, else the file's name without the extension) or
 * a subdirectory holding a default Compose file (compose.yaml, …; named by
 * its `name:`, else the subdirectory). A file added or changed is applied
 * (`up`), removed is taken down. Interpolation sees only the project
 * directory's `.env` (not the agent's environment). An invalid or refused
 * file changes nothing that runs: the reason goes to the events
 * (`project.rejected`), the log and the project's last error.
 */
export class ProjectsDir {
  private watcher: ReturnType<typeof watch> | undefined;
  /** File → the project it applied, so its removal takes the right one down. */
  private readonly applied = new Map<string, string>();
  private readonly queue = new Map<string, Promise<void>>();

  constructor(
    private readonly d: { dir: string; projects: Projects; logger: Logger; stabilityMs?: number },
  ) {}

  async start(): Promise<void> {
    // Projects this directory brought up whose file went away while the agent was down.
    for (const st of await this.d.projects.list()) {
      if (st.origin !== 'dir') continue;
      const file = st.files[0];
      if (file !== undefined && existsSync(file)) this.applied.set(file, st.name);
      else await this.down(st.name, file ?? '(gone)');
    }
    const w = watch(this.d.dir, {
      depth: 1,
      ignoreInitial: false,
      awaitWriteFinish: { stabilityThreshold: this.d.stabilityMs ?? 200, pollInterval: 50 },
    });
    this.watcher = w;
    w.on('add', (p) => this.enqueue(p, () => this.apply(p)));
    w.on('change', (p) => this.enqueue(p, () => this.apply(p)));
    w.on('unlink', (p) => this.enqueue(p, () => this.removed(p)));
    w.on('error', (err) => this.d.logger.warn({ err: messageOf(err) }, 'projects dir: watch error'));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    await Promise.allSettled([...this.queue.values()]);
  }

  /** Whether `path` is a project file of this directory (see the class comment). */
  isProjectFile(path: string): boolean {
    const rel = relative(this.d.dir, path).split(sep);
    if (rel.length === 1) return /^[^.].*\.ya?ml$/.test(rel[0] ?? '');
    return rel.length === 2 && DEFAULT_COMPOSE_FILES.includes(rel[1] ?? '');
  }

  /** One change at a time per file, in order. */
  private enqueue(path: string, fn: () => Promise<void>): void {
    if (!this.isProjectFile(path)) return;
    const prev = this.queue.get(path) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => {
      this.d.logger.warn({ file: path, err: messageOf(err) }, 'projects dir: change not applied');
    });
    this.queue.set(path, next);
    void next.then(() => {
      if (this.queue.get(path) === next) this.queue.delete(path);
    });
  }

  private async apply(path: string): Promise<void> {
    // Bounded and regular files only: whatever lands in the directory is read as root.
    const content = readComposeText(path);
    const nested = relative(this.d.dir, path).includes(sep);
    const fallback = nested ? basename(dirname(path)) : basename(path, extname(path));
    const name = hasName(content, path) ? undefined : projectNameOf(fallback);
    try {
      const st = await this.d.projects.up(
        { files: [{ path, content }], projectDir: dirname(path), env: {} },
        { ...(name !== undefined ? { name } : {}), origin: 'dir' },
      );
      const before = this.applied.get(path);
      this.applied.set(path, st.name);
      if (before !== undefined && before !== st.name) await this.down(before, path);
      this.d.logger.info({ file: path, project: st.name }, 'projects dir: applied');
    } catch (err) {
      // Projects.up has published project.rejected and noted the reason; nothing running changed.
      this.d.logger.warn({ file: path, err: messageOf(err) }, 'projects dir: file refused; nothing changed');
    }
  }

  private async removed(path: string): Promise<void> {
    const name = this.applied.get(path);
    if (name === undefined) return;
    this.applied.delete(path);
    await this.down(name, path);
  }

  private async down(name: string, file: string): Promise<void> {
    try {
      await this.d.projects.down(name);
      this.d.logger.info({ file, project: name }, 'projects dir: file removed; project down');
    } catch (err) {
      this.d.logger.warn({ file, project: name, err: messageOf(err) }, 'projects dir: down failed');
    }
  }
}

/** Whether the file sets a top-level `name:` (a file that does not parse is the loader's to refuse). */
function hasName(content: string, file: string): boolean {
  try {
    return parseYamlTree(content, file).entries.has('name');
  } catch {
    return false;
  }
}

/** A file or directory name as a project name, normalized as Compose normalizes directory names. */
export function projectNameOf(s: string): string {
  const n = s
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[_-]+/, '');
  return n === '' ? 'default' : n;
}
