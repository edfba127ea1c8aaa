import { InternalError } from '../base/errors.js';
import { type CommandRunner, describeFailure } from './exec.js';

export type Table = 'nat' | 'filter';

/**
 * Thin wrapper over the `iptables` binary (legacy or nft-backed alike: only
 * the command-line interface is used). Rules are added idempotently (`-C`
 * before `-A`) and removed by exact spec read back from `-S`, never by rule
 * number, which another process may shift between the listing and the delete.
 */
export class Iptables {
  constructor(
    private readonly runner: CommandRunner,
    private readonly bin = 'iptables',
  ) {}

  private async exec(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string; fail: string }> {
    const full = ['-w', '5', ...args];
    const res = await this.runner.run(this.bin, full);
    return {
      ok: res.code === 0,
      stdout: res.stdout,
      stderr: res.stderr,
      fail: describeFailure(this.bin, full, res),
    };
  }

  private async must(args: string[]): Promise<string> {
    const r = await this.exec(args);
    if (!r.ok) throw new InternalError(r.fail);
    return r.stdout;
  }

  async chainExists(table: Table, chain: string): Promise<boolean> {
    return (await this.exec(['-t', table, '-S', chain])).ok;
  }

  async ensureChain(table: Table, chain: string): Promise<void> {
    if (await this.chainExists(table, chain)) return;
    const r = await this.exec(['-t', table, '-N', chain]);
    // Another process may have created it between the check and -N.
    if (!r.ok && !(await this.chainExists(table, chain))) throw new InternalError(r.fail);
  }

  async hasRule(table: Table, chain: string, spec: string[]): Promise<boolean> {
    return (await this.exec(['-t', table, '-C', chain, ...spec])).ok;
  }

  /** Appends (or with `insert`, puts first) unless an identical rule exists. */
  async ensureRule(
    table: Table,
    chain: string,
    spec: string[],
    opts: { insert?: boolean } = {},
  ): Promise<void> {
    if (await this.hasRule(table, chain, spec)) return;
    await this.must(['-t', table, opts.insert ? '-I' : '-A', chain, ...(opts.insert ? ['1'] : []), ...spec]);
  }

  /** Deletes one rule by spec; false when it was not there. */
  async deleteRule(table: Table, chain: string, spec: string[]): Promise<boolean> {
    if (!(await this.hasRule(table, chain, spec))) return false;
    const r = await this.exec(['-t', table, '-D', chain, ...spec]);
    if (!r.ok && (await this.hasRule(table, chain, spec))) throw new InternalError(r.fail);
    return r.ok;
  }

  /** The rules of a chain as argument vectors (without `-A <chain>`); [] when the chain does not exist. */
  async listRules(table: Table, chain: string): Promise<string[][]> {
    const r = await this.exec(['-t', table, '-S', chain]);
    if (!r.ok) return [];
    const out: string[][] = [];
    for (const line of r.stdout.split('\n')) {
      const tokens = tokenize(line);
      if (tokens[0] !== '-A' || tokens[1] !== chain) continue;
      out.push(tokens.slice(2));
    }
    return out;
  }

  /** Deletes every rule of `chain` whose `--comment` satisfies `match`; returns how many. */
  async deleteRulesByComment(
    table: Table,
    chain: string,
    match: (comment: string) => boolean,
  ): Promise<number> {
    let n = 0;
    for (const spec of await this.listRules(table, chain)) {
      const comment = commentOf(spec);
      if (comment !== undefined && match(comment) && (await this.deleteRule(table, chain, spec))) n++;
    }
    return n;
  }

  /** Deletes an empty chain; false (and no change) when it still has rules or is referenced. */
  async deleteChainIfEmpty(table: Table, chain: string): Promise<boolean> {
    if (!(await this.chainExists(table, chain))) return true;
    if ((await this.listRules(table, chain)).length > 0) return false;
    return (await this.exec(['-t', table, '-X', chain])).ok;
  }
}

export function commentOf(spec: string[]): string | undefined {
  const i = spec.indexOf('--comment');
  return i >= 0 ? spec[i + 1] : undefined;
}

/** Splits an `iptables -S` line; handles the double quotes iptables puts around comments. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) {
        cur += line[++i] ?? '';
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inToken = true;
    } else if (c === ' ' || c === '\t') {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += c;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}
