import type { CommandResult, CommandRunner } from '../../../runtime/network/exec.js';
import type { SysctlWriter } from '../../../runtime/network/sysctl.js';

type Table = 'nat' | 'filter';
interface Link {
  kind: string;
  master?: string;
  /** A veth's peer lives in this netns; deleting the netns destroys the pair. */
  peerNetns?: string;
  addrs: string[];
}

const BUILTIN: Record<Table, string[]> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/**
 * An in-memory host for the bridge manager's injectable seams: it answers the
 * `ip` and `iptables` command lines the manager runs (the subset it uses, with
 * the exit codes and stderr the real tools give) and takes its sysctl writes,
 * keeping links, netns, rules and sysctls as state, and every command in
 * `commands` (`ip …`, `iptables …`, `sysctl key=value`). `failWhen` makes a
 * command fail as the real tool would, to drive the rollback paths.
 */
export class FakeHost implements CommandRunner, SysctlWriter {
  readonly commands: string[] = [];
  readonly links = new Map<string, Link>([['lo', { kind: 'loopback', addrs: ['127.0.0.1/8'] }]]);
  readonly netns = new Set<string>();
  readonly sysctls = new Map<string, string>();
  readonly tables: Record<Table, Map<string, string[][]>> = {
    nat: new Map(BUILTIN.nat.map((c) => [c, []])),
    filter: new Map(BUILTIN.filter.map((c) => [c, []])),
  };
  private readonly failures: Array<{ match: RegExp; stderr: string; once: boolean }> = [];

  /** The next command (every one with `once: false`) matching `match` exits 2 with `stderr`. */
  failWhen(match: RegExp, stderr: string, opts: { once?: boolean } = {}): void {
    this.failures.push({ match, stderr, once: opts.once ?? true });
  }

  /** Commands that change the host (no `show`/`list`, no `iptables -S`/`-C`), for asserting sequences. */
  mutations(from = 0): string[] {
    return this.commands
      .slice(from)
      .filter((c) => !/^ip (-d )?(-o )?(-4 )?(-n \S+ )?(link|addr) show\b/.test(c))
      .filter((c) => !/^iptables -w 5 -t \w+ -[SC] /.test(c));
  }

  /** The rules of a chain as `iptables -S` prints them (without `-A <chain>`). */
  rules(table: Table, chain: string): string[] {
    return (this.tables[table].get(chain) ?? []).map((r) => r.join(' '));
  }

  /** A firewall reload: berth's chains, their rules and the jumps into them are gone. */
  flushBerth(): void {
    for (const t of ['nat', 'filter'] as const) {
      for (const [chain, rules] of this.tables[t]) {
        if (chain.startsWith('BERTH-')) this.tables[t].delete(chain);
        else
          this.tables[t].set(
            chain,
            rules.filter((r) => !r.some((x) => x.startsWith('BERTH-'))),
          );
      }
    }
  }

  async set(key: string, value: string): Promise<void> {
    const line = `sysctl ${key}=${value}`;
    this.commands.push(line);
    const f = this.failure(line);
    if (f) throw Object.assign(new Error(f), { code: 'EACCES' });
    this.sysctls.set(key, value);
  }

  async run(cmd: string, args: string[]): Promise<CommandResult> {
    const line = [cmd, ...args].join(' ');
    this.commands.push(line);
    const f = this.failure(line);
    if (f !== undefined) return { code: 2, stdout: '', stderr: f };
    if (cmd === 'ip') return this.ip(args);
    if (cmd === 'iptables') return this.iptables(args);
    return { code: 127, stdout: '', stderr: `${cmd}: not found` };
  }

  private failure(line: string): string | undefined {
    const i = this.failures.findIndex((f) => f.match.test(line));
    if (i < 0) return undefined;
    const f = this.failures[i];
    if (f?.once) this.failures.splice(i, 1);
    return f?.stderr;
  }

  private ip(argv: string[]): CommandResult {
    const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
    const fail = (stderr: string, code = 1): CommandResult => ({ code, stdout: '', stderr });
    const noDev = (d: string) => fail(`Device "${d}" does not exist.`);
    let args = argv;
    let ns: string | undefined;
    if (args[0] === '-n') {
      ns = args[1];
      args = args.slice(2);
      if (ns === undefined || !this.netns.has(ns))
        return fail(`Cannot open network namespace "${ns}": No such file or directory`);
      // Inside a netns the fake keeps no state: lo and eth0 always take the change.
      return ok();
    }
    const s = args.join(' ');

    const routes: Array<[RegExp, (m: RegExpExecArray) => CommandResult]> = [
      [
        /^(?:-d )?(?:-o )?link show dev (\S+)$/,
        (m) => {
          const l = this.links.get(m[1] ?? '');
          if (!l) return noDev(m[1] ?? '');
          return ok(
            `7: ${m[1]}: <BROADCAST,MULTICAST,UP> mtu 1500 \\    link/ether 02:42:0a:00:00:01 \\    ${l.kind} forward_delay 1500 \n`,
          );
        },
      ],
      [
        /^-o link show master (\S+)$/,
        (m) => {
          if (!this.links.has(m[1] ?? '')) return noDev(m[1] ?? '');
          const out = [...this.links]
            .filter(([, l]) => l.master === m[1])
            .map(
              ([n], i) => `${10 + i}: ${n}@if2: <BROADCAST,MULTICAST,UP> mtu 1500 master ${m[1]} state UP\n`,
            );
          return ok(out.join(''));
        },
      ],
      [
        /^-o -4 addr show dev (\S+)$/,
        (m) => {
          const l = this.links.get(m[1] ?? '');
          if (!l) return noDev(m[1] ?? '');
          return ok(l.addrs.map((a) => `7: ${m[1]}    inet ${a} scope global ${m[1]}\n`).join(''));
        },
      ],
      [
        /^link add name (\S+) type bridge$/,
        (m) => {
          if (this.links.has(m[1] ?? '')) return fail('RTNETLINK answers: File exists', 2);
          this.links.set(m[1] ?? '', { kind: 'bridge', addrs: [] });
          return ok();
        },
      ],
      [
        /^link add (\S+) type veth peer name eth\d+ netns (\S+)$/,
        (m) => {
          if (this.links.has(m[1] ?? '')) return fail('RTNETLINK answers: File exists', 2);
          if (!this.netns.has(m[2] ?? '')) return fail(`Invalid "netns" value "${m[2]}"`, 255);
          this.links.set(m[1] ?? '', { kind: 'veth', peerNetns: m[2] ?? '', addrs: [] });
          return ok();
        },
      ],
      [
        /^link set dev (\S+) (.*)$/,
        (m) => {
          const l = this.links.get(m[1] ?? '');
          if (!l) return noDev(m[1] ?? '');
          const master = /^master (\S+)$/.exec(m[2] ?? '');
          if (master) l.master = master[1] ?? '';
          return ok();
        },
      ],
      [
        /^addr add (\S+) dev (\S+)$/,
        (m) => {
          const l = this.links.get(m[2] ?? '');
          if (!l) return noDev(m[2] ?? '');
          if (l.addrs.includes(m[1] ?? '')) return fail('RTNETLINK answers: File exists', 2);
          l.addrs.push(m[1] ?? '');
          return ok();
        },
      ],
      [
        /^link del dev (\S+)$/,
        (m) => {
          if (!this.links.delete(m[1] ?? '')) return fail(`Cannot find device "${m[1]}"`);
          for (const l of this.links.values()) if (l.master === m[1]) delete l.master;
          return ok();
        },
      ],
      [
        /^netns add (\S+)$/,
        (m) => {
          if (this.netns.has(m[1] ?? ''))
            return fail(`Cannot create namespace file "/run/netns/${m[1]}": File exists`);
          this.netns.add(m[1] ?? '');
          return ok();
        },
      ],
      [
        /^netns del (\S+)$/,
        (m) => {
          if (!this.netns.delete(m[1] ?? ''))
            return fail(`Cannot remove namespace file "/run/netns/${m[1]}": No such file or directory`);
          for (const [n, l] of this.links) if (l.peerNetns === m[1]) this.links.delete(n);
          return ok();
        },
      ],
    ];
    for (const [rx, handle] of routes) {
      const m = rx.exec(s);
      if (m) return handle(m);
    }
    return fail(`fake ip: unsupported: ip ${s}`, 255);
  }

  private iptables(argv: string[]): CommandResult {
    const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
    const fail = (stderr: string): CommandResult => ({ code: 1, stdout: '', stderr });
    const noChain = () => fail('iptables: No chain/target/match by that name.');
    if (argv[0] !== '-w' || argv[2] !== '-t') return fail(`fake iptables: unsupported: ${argv.join(' ')}`);
    const table = argv[3] as Table;
    const op = argv[4];
    const chain = argv[5] ?? '';
    let spec = argv.slice(6);
    const rules = this.tables[table].get(chain);
    const same = (r: string[]) => r.length === spec.length && r.every((x, i) => x === spec[i]);
    switch (op) {
      case '-S': {
        if (!rules) return noChain();
        const head = BUILTIN[table].includes(chain) ? `-P ${chain} ACCEPT` : `-N ${chain}`;
        const quote = (t: string) => (/\s/.test(t) ? `"${t}"` : t);
        return ok(`${[head, ...rules.map((r) => `-A ${chain} ${r.map(quote).join(' ')}`)].join('\n')}\n`);
      }
      case '-N':
        if (rules) return fail('iptables: Chain already exists.');
        this.tables[table].set(chain, []);
        return ok();
      case '-X': {
        if (!rules) return noChain();
        const referenced = [...this.tables[table].values()].some((rs) => rs.some((r) => r.includes(chain)));
        if (rules.length > 0 || referenced) return fail('iptables: Directory not empty.');
        this.tables[table].delete(chain);
        return ok();
      }
      case '-C':
        if (!rules) return noChain();
        return rules.some(same)
          ? ok()
          : fail('iptables: Bad rule (does a matching rule exist in that chain?).');
      case '-A':
        if (!rules) return noChain();
        rules.push(spec);
        return ok();
      case '-I':
        if (!rules) return noChain();
        spec = spec.slice(1); // the position, always 1 here
        rules.unshift(spec);
        return ok();
      case '-D': {
        if (!rules) return noChain();
        const i = rules.findIndex(same);
        if (i < 0) return fail('iptables: Bad rule (does a matching rule exist in that chain?).');
        rules.splice(i, 1);
        return ok();
      }
      default:
        return fail(`fake iptables: unsupported: ${argv.join(' ')}`);
    }
  }
}
