import { createConnection } from 'node:net';
import { UnavailableError } from '../../runtime/base/errors.js';

/**
 * Sends one line to a HAProxy CLI socket (stats socket or master CLI) and
 * returns the whole answer. Non-interactive: the client half-closes after
 * the command (HAProxy 2.6's master CLI answers only then) and HAProxy
 * closes when done. Bounded by `timeoutMs`.
 */
export function cliCommand(path: string, line: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new UnavailableError(`haproxy socket ${path}: no answer to "${line}" within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.end(`${line}\n`));
    sock.on('data', (d: string) => {
      out += d;
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new UnavailableError(`haproxy socket ${path}: ${err.message}`, { cause: err }));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

const FAILURE =
  /(No such (backend|server)|Unknown command|Require '|Invalid |not allowed|cannot |can't |Permission denied|failed)/i;

/**
 * The Runtime API of the current worker: directly over the admin stats
 * socket when there is one, else through the master CLI (`@1` = the newest
 * worker), which is all an external HAProxy may offer.
 */
export class RuntimeApi {
  constructor(
    private readonly opts: { statsSocket: string | undefined; masterSocket: string; timeoutMs?: number },
  ) {}

  /** One command; the answer as text. */
  command(cmd: string): Promise<string> {
    const t = this.opts.timeoutMs ?? 5000;
    if (this.opts.statsSocket !== undefined) return cliCommand(this.opts.statsSocket, cmd, t);
    return cliCommand(this.opts.masterSocket, `@1 ${cmd}`, t);
  }

  /**
   * Several state-changing commands. Over the stats socket they go in one
   * connection (`;`-separated, HAProxy runs them in order). Throws with the
   * first complaint, so the caller can fall back to a reload.
   */
  async apply(cmds: readonly string[]): Promise<void> {
    if (cmds.length === 0) return;
    const answers: string[] = [];
    if (this.opts.statsSocket !== undefined) {
      // Keep each request line well under HAProxy's CLI buffer (bufsize, 16 KiB).
      for (const batch of batches(cmds, 8000)) answers.push(await this.command(batch.join('; ')));
    } else {
      for (const c of cmds) answers.push(await this.command(c));
    }
    for (const a of answers) {
      const bad = a.split('\n').find((l) => FAILURE.test(l));
      if (bad !== undefined)
        throw new UnavailableError(`haproxy runtime API refused a command: ${bad.trim()}`);
    }
  }

  /** Current sessions per server of the given backends, from `show stat` (`scur`). */
  async sessions(): Promise<Map<string, number>> {
    return parseShowStat(await this.command('show stat -1 4 -1'));
  }
}

function batches(cmds: readonly string[], maxChars: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let len = 0;
  for (const c of cmds) {
    if (cur.length > 0 && len + c.length + 2 > maxChars) {
      out.push(cur);
      cur = [];
      len = 0;
    }
    cur.push(c);
    len += c.length + 2;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** `show stat` CSV → `backend/server` → scur. */
export function parseShowStat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('# '));
  if (header === undefined) return out;
  const cols = header.slice(2).split(',');
  const px = cols.indexOf('pxname');
  const sv = cols.indexOf('svname');
  const scur = cols.indexOf('scur');
  for (const l of lines) {
    if (l.startsWith('#') || l.trim() === '') continue;
    const f = l.split(',');
    const name = `${f[px] ?? ''}/${f[sv] ?? ''}`;
    if (f[sv] === 'FRONTEND' || f[sv] === 'BACKEND') continue;
    out.set(name, Number(f[scur] ?? 0) || 0);
  }
  return out;
}

/** The master CLI's `show proc`: current worker PIDs and the failed-reload counter. */
export function parseShowProc(text: string): {
  masterPid: number | undefined;
  workers: number[];
  failedReloads: number;
  reloads: number;
} {
  const workers: number[] = [];
  let failedReloads = 0;
  let reloads = 0;
  let masterPid: number | undefined;
  let section = 'master';
  for (const line of text.split('\n')) {
    if (line.startsWith('# workers')) section = 'workers';
    else if (line.startsWith('# old workers')) section = 'old';
    else if (line.startsWith('#')) section = section === 'master' ? 'master' : 'other';
    const m = /^(\d+)\s+(\w+)\s+(\d+)?\s*(.*)$/.exec(line);
    if (m === null) continue;
    if (m[2] === 'master') {
      masterPid = Number(m[1]);
      reloads = Number(m[3] ?? 0);
      const f = /failed:\s*(\d+)/.exec(m[4] ?? '');
      if (f?.[1] !== undefined) failedReloads = Number(f[1]);
    } else if (section === 'workers' && m[2] === 'worker') {
      workers.push(Number(m[1]));
    }
  }
  return { masterPid, workers, failedReloads, reloads };
}
