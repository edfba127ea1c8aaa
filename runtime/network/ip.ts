import { InternalError } from '../base/errors.js';
import { type CommandRunner, describeFailure } from './exec.js';

const MISSING =
  /Cannot find device|does not exist|No such file or directory|Cannot open network namespace|not found/i;

/**
 * The `ip` (iproute2) operations the network manager needs. Deletes are
 * idempotent (a missing link or namespace is success) because detach and
 * restore run again after partial failures.
 */
export class IpTool {
  constructor(
    private readonly runner: CommandRunner,
    private readonly bin = 'ip',
  ) {}

  async run(args: string[]): Promise<string> {
    const res = await this.runner.run(this.bin, args);
    if (res.code !== 0) throw new InternalError(describeFailure(this.bin, args, res));
    return res.stdout;
  }

  /** Runs a delete; a "no such device/namespace" answer counts as done. */
  async runDelete(args: string[]): Promise<boolean> {
    const res = await this.runner.run(this.bin, args);
    if (res.code === 0) return true;
    if (MISSING.test(res.stderr)) return false;
    throw new InternalError(describeFailure(this.bin, args, res));
  }

  async linkExists(name: string, netns?: string): Promise<boolean> {
    const res = await this.runner.run(this.bin, [
      ...(netns ? ['-n', netns] : []),
      'link',
      'show',
      'dev',
      name,
    ]);
    return res.code === 0;
  }

  /** 'missing', 'bridge', or 'other' (an interface of that name that is not a bridge: never touch it). */
  async linkKind(name: string): Promise<'missing' | 'bridge' | 'other'> {
    const res = await this.runner.run(this.bin, ['-d', '-o', 'link', 'show', 'dev', name]);
    if (res.code !== 0) return 'missing';
    return /\sbridge\s/.test(res.stdout) ? 'bridge' : 'other';
  }

  /** Names of the links enslaved to `master`. */
  async linksOf(master: string): Promise<string[]> {
    const res = await this.runner.run(this.bin, ['-o', 'link', 'show', 'master', master]);
    if (res.code !== 0) return [];
    const names: string[] = [];
    for (const line of res.stdout.split('\n')) {
      const m = /^\d+:\s+([^:@\s]+)/.exec(line);
      if (m?.[1]) names.push(m[1]);
    }
    return names;
  }

  async netnsExists(name: string): Promise<boolean> {
    const res = await this.runner.run(this.bin, ['netns', 'list']);
    return res.code === 0 && res.stdout.split('\n').some((l) => l.split(/\s+/)[0] === name);
  }

  async addressesOf(dev: string): Promise<string[]> {
    const res = await this.runner.run(this.bin, ['-o', '-4', 'addr', 'show', 'dev', dev]);
    if (res.code !== 0) return [];
    const out: string[] = [];
    for (const line of res.stdout.split('\n')) {
      const m = /\binet\s+(\S+)/.exec(line);
      if (m?.[1]) out.push(m[1]);
    }
    return out;
  }
}
