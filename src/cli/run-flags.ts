import { parseArgs } from 'node:util';
import type { Command } from 'commander';
import type { RunFlags } from './run-request.js';

/** One `berth run` / `berth create` flag, in commander's notation. */
export interface RunFlagRow {
  /** `-e, --env <KEY=VALUE>`, `--rm`, `--no-healthcheck`. */
  flags: string;
  description: string;
  repeatable?: boolean;
  default?: string;
}

/**
 * The flags of `berth run` and `berth create`. One table feeds both commander
 * (help, errors, every unusual spelling) and `parseRunArgv`, the fast path that
 * parses a plain `berth run` without loading commander (about 20 ms of a
 * CLI process that lives for a few hundred).
 */
export const RUN_FLAGS: readonly RunFlagRow[] = [
  { flags: '-d, --detach', description: 'run in the background and print the container id' },
  { flags: '--rm', description: 'remove the container when it exits' },
  {
    flags: '-i, --interactive',
    description: 'keep stdin open: not supported (output is attached, stdin is not)',
  },
  { flags: '-t, --tty', description: 'allocate a terminal: not supported' },
  { flags: '--name <name>', description: 'container name' },
  {
    flags: '-e, --env <KEY=VALUE>',
    description: 'set an environment variable (repeatable)',
    repeatable: true,
  },
  {
    flags: '--env-file <file>',
    description: 'read environment variables from a file of KEY=VALUE lines (repeatable; -e wins)',
    repeatable: true,
  },
  {
    flags: '-p, --publish <[ip:]hostPort:containerPort[/proto]>',
    description: 'publish a port (repeatable)',
    repeatable: true,
  },
  {
    flags: '-v, --volume <src:dst[:ro]>',
    description: 'bind mount a host path or a named volume (repeatable)',
    repeatable: true,
  },
  { flags: '--tmpfs <path[:options]>', description: 'mount a tmpfs (repeatable)', repeatable: true },
  { flags: '--read-only', description: 'mount the root filesystem read-only' },
  {
    flags: '--cap-add <CAP>',
    description: 'add a Linux capability (repeatable; ALL for all)',
    repeatable: true,
  },
  {
    flags: '--cap-drop <CAP>',
    description: 'drop a Linux capability (repeatable; ALL for all)',
    repeatable: true,
  },
  {
    flags: '--security-opt <opt>',
    description: 'no-new-privileges[:false], seccomp=unconfined|FILE (repeatable)',
    repeatable: true,
  },
  { flags: '--privileged', description: 'give the container all capabilities and devices, no seccomp' },
  { flags: '-m, --memory <size>', description: 'memory limit, e.g. 64m' },
  { flags: '--memory-swap <size>', description: 'memory plus swap limit; -1 for unlimited swap' },
  { flags: '--cpus <n>', description: 'CPU quota in cores, e.g. 0.5' },
  { flags: '--cpuset-cpus <list>', description: 'CPUs the container may use, e.g. 0-1' },
  { flags: '--pids-limit <n>', description: 'maximum number of processes' },
  {
    flags: '--ulimit <name=soft[:hard]>',
    description: 'resource limit, e.g. nofile=1024:2048 (repeatable)',
    repeatable: true,
  },
  { flags: '--restart <policy>', description: 'no, on-failure[:N], always or unless-stopped', default: 'no' },
  { flags: '--health-cmd <cmd>', description: 'command run in the container to check health' },
  { flags: '--health-interval <duration>', description: 'time between health checks (e.g. 30s)' },
  { flags: '--health-timeout <duration>', description: 'time a check may take' },
  { flags: '--health-retries <n>', description: 'consecutive failures to report unhealthy' },
  {
    flags: '--health-start-period <duration>',
    description: 'start-up time during which failures do not count',
  },
  { flags: '--no-healthcheck', description: "disable the image's health check" },
  {
    flags: '--network <name>',
    description:
      'a network to join (repeatable; the first carries published ports), or the mode none or host; default bridge',
    repeatable: true,
  },
  {
    flags: '--network-alias <alias>',
    description: 'another DNS name of the container on its first user-defined network (repeatable)',
    repeatable: true,
  },
  { flags: '--add-host <host:ip>', description: 'add a line to /etc/hosts (repeatable)', repeatable: true },
  { flags: '-l, --label <KEY=VALUE>', description: 'set a label (repeatable)', repeatable: true },
  { flags: '-u, --user <user[:group]>', description: 'user name or uid to run as' },
  { flags: '-w, --workdir <dir>', description: 'working directory inside the container' },
  { flags: '--hostname <name>', description: 'container host name' },
  { flags: '--entrypoint <cmd>', description: "override the image's entrypoint" },
  { flags: '--stop-signal <signal>', description: 'signal sent by stop (default SIGTERM or the image’s)' },
  { flags: '--stop-timeout <seconds>', description: 'seconds stop waits before SIGKILL' },
];

/** What commander hands a run/create action: RunFlags plus `healthcheck: false` for --no-healthcheck. */
export type ParsedRunFlags = RunFlags & { healthcheck?: boolean };

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addRunFlags(cmd: Command): Command {
  for (const f of RUN_FLAGS) {
    if (f.repeatable) cmd.option(f.flags, f.description, collect);
    else if (f.default !== undefined) cmd.option(f.flags, f.description, f.default);
    else cmd.option(f.flags, f.description);
  }
  return cmd;
}

interface FlagSpec {
  /** Attribute name as commander derives it (`--read-only` → readOnly, `--no-healthcheck` → healthcheck). */
  key: string;
  takesValue: boolean;
  repeatable: boolean;
  negate: boolean;
}

type ParseArgsOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'] & {};

const FLAG_RE = /^(?:-([a-zA-Z]), )?--([a-z][a-z-]*)(?: <[^>]+>)?$/;

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The table as `util.parseArgs` options (by long name), each flag's spec, and commander's defaults. */
function flagIndex(): {
  options: ParseArgsOptions;
  specs: Map<string, FlagSpec>;
  defaults: Record<string, string | boolean>;
} {
  const options: ParseArgsOptions = {};
  const specs = new Map<string, FlagSpec>();
  const defaults: Record<string, string | boolean> = {};
  for (const row of RUN_FLAGS) {
    const m = FLAG_RE.exec(row.flags);
    if (!m?.[2]) throw new Error(`run flag ${row.flags}: not in the notation parseRunArgv reads`);
    const negate = m[2].startsWith('no-');
    const spec: FlagSpec = {
      key: camel(negate ? m[2].slice(3) : m[2]),
      takesValue: row.flags.includes('<'),
      repeatable: row.repeatable === true,
      negate,
    };
    options[m[2]] = { type: spec.takesValue ? 'string' : 'boolean', ...(m[1] ? { short: m[1] } : {}) };
    specs.set(m[2], spec);
    if (row.default !== undefined) defaults[spec.key] = row.default;
    // commander gives a --no-x flag the default x: true.
    if (negate) defaults[spec.key] = true;
  }
  return { options, specs, defaults };
}

/**
 * Parses `run [flags] IMAGE [command...]` exactly as commander would, for the
 * plain spellings only: `--flag value`, `--flag=value`, `-f value`, boolean
 * flags. `util.parseArgs` tokenizes from the table; anything else (help, an
 * unknown flag, `-dit`, `-eX=1`, `--`, a value that starts with `-`, a
 * missing image) returns undefined, and the caller lets commander parse it,
 * so errors and help read the same either way. After the image everything
 * belongs to the container command (passThroughOptions).
 */
export function parseRunArgv(
  argv: readonly string[],
): { image: string; args: string[]; flags: ParsedRunFlags } | undefined {
  if (argv[0] !== 'run') return undefined;
  const rest = argv.slice(1);
  const { options, specs, defaults } = flagIndex();
  // Not strict: an unknown flag is a token here, and declines below.
  const { tokens } = parseArgs({ args: rest, options, strict: false, allowPositionals: true, tokens: true });
  const flags: Record<string, string | boolean | string[]> = { ...defaults };
  for (const t of tokens) {
    if (t.kind === 'option-terminator') return undefined;
    if (t.kind === 'positional') {
      const image = t.value;
      const args = rest.slice(t.index + 1);
      if (image === '-' || args.includes('--')) return undefined;
      return { image, args, flags: flags as ParsedRunFlags };
    }
    const spec = specs.get(t.name);
    if (!spec) return undefined;
    // Grouped or glued short flags (`-dit`, `-eA=1`) are commander's to read.
    const raw = rest[t.index];
    if (raw !== t.rawName && !(t.rawName.startsWith('--') && t.inlineValue)) return undefined;
    if (!spec.takesValue) {
      if (t.inlineValue) return undefined;
      flags[spec.key] = !spec.negate;
      continue;
    }
    const value = t.value;
    if (value === undefined || (!t.inlineValue && value.startsWith('-'))) return undefined;
    if (spec.repeatable) {
      const prev = flags[spec.key];
      flags[spec.key] = [...(Array.isArray(prev) ? prev : []), value];
    } else flags[spec.key] = value;
  }
  return undefined;
}
