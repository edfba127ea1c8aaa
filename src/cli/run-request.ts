import { readFileSync } from 'node:fs';
import { InvalidArgumentError, messageOf, NotImplementedError } from '../../runtime/base/errors.js';
import type { CreateRequest, HealthcheckRequest } from '../../runtime/oci/request.js';

/** The options `berth run` (and `create`) accept, as commander parses them. */
export interface RunFlags {
  detach?: boolean;
  /** -i and -t: accepted by the parser only to be refused with a clear reason (see buildCreateRequest). */
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  envFile?: string[];
  addHost?: string[];
  publish?: string[];
  volume?: string[];
  tmpfs?: string[];
  readOnly?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  privileged?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  ulimit?: string[];
  restart?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  noHealthcheck?: boolean;
  network?: string[];
  networkAlias?: string[];
  label?: string[];
  user?: string;
  workdir?: string;
  hostname?: string;
  entrypoint?: string;
  stopSignal?: string;
  stopTimeout?: string;
}

/**
 * Which CLI flag sets each request field, so an API error can name the flag
 * the user typed; every field of the create request's schema
 * (runtime/oci/request.ts) has one (test/unit/api/schemas.test.ts).
 */
export const FIELD_FLAGS: Record<string, string> = {
  name: '--name',
  cmd: 'COMMAND',
  privileged: '--privileged',
  autoRemove: '--rm',
  env: '-e/--env',
  extraHosts: '--add-host',
  ports: '-p/--publish',
  volumes: '-v/--volume',
  tmpfs: '--tmpfs',
  readOnly: '--read-only',
  capAdd: '--cap-add',
  capDrop: '--cap-drop',
  securityOpt: '--security-opt',
  memory: '-m/--memory',
  memorySwap: '--memory-swap',
  cpus: '--cpus',
  cpusetCpus: '--cpuset-cpus',
  pidsLimit: '--pids-limit',
  ulimits: '--ulimit',
  restart: '--restart',
  healthcheck: '--health-*',
  network: '--network',
  networks: '--network/--network-alias',
  labels: '-l/--label',
  user: '-u/--user',
  workdir: '-w/--workdir',
  hostname: '--hostname',
  entrypoint: '--entrypoint',
  stopSignal: '--stop-signal',
  stopTimeout: '--stop-timeout',
  image: 'IMAGE',
};

function keyValues(list: string[] | undefined, flagName: string): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const k = eq < 0 ? item : item.slice(0, eq);
    if (!k)
      throw new InvalidArgumentError(`${flagName}: expected KEY=VALUE, got ${JSON.stringify(item)}`, {
        field: flagName,
      });
    out[k] = eq < 0 ? '' : item.slice(eq + 1);
  }
  return out;
}

/**
 * Turns `berth run` flags into the API's create request. Values stay in the
 * user's notation (`64m`, `8080:80`, `/data:/data:ro`): the runtime validates
 * them and names the field; `FIELD_FLAGS` maps that field back to the flag.
 */
export function buildCreateRequest(image: string, args: string[], f: RunFlags): CreateRequest {
  // Docker users type -it by habit: say what berth does instead of "unknown option".
  for (const [on, flag] of [
    [f.interactive, '-i/--interactive'],
    [f.tty, '-t/--tty'],
  ] as const) {
    if (on) {
      throw new NotImplementedError(
        `${flag}: not supported: berth attaches a container's output (stdout and stderr, exit code), not its stdin or a terminal; give the command its input as arguments or through a volume (-v)`,
      );
    }
  }
  const req: CreateRequest = { image };
  if (args.length) req.cmd = args;
  const set = <K extends keyof CreateRequest>(key: K, v: CreateRequest[K] | undefined) => {
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) req[key] = v;
  };
  set('name', f.name);
  // As Docker's: the files first, in order, then -e, so a flag wins over a file.
  set('env', [...envFiles(f.envFile ?? []), ...(f.env ?? [])]);
  set('extraHosts', f.addHost);
  set('ports', f.publish);
  set('volumes', f.volume);
  set('tmpfs', f.tmpfs);
  if (f.readOnly) req.readOnly = true;
  set('capAdd', f.capAdd);
  set('capDrop', f.capDrop);
  set('securityOpt', f.securityOpt);
  if (f.privileged) req.privileged = true;
  set('memory', f.memory);
  set('memorySwap', f.memorySwap);
  set('cpus', f.cpus);
  set('cpusetCpus', f.cpusetCpus);
  set('pidsLimit', f.pidsLimit);
  set('ulimits', f.ulimit);
  set('restart', f.restart);
  Object.assign(req, networkFields(f.network ?? [], f.networkAlias ?? []));
  set('labels', keyValues(f.label, '-l/--label'));
  set('user', f.user);
  set('workdir', f.workdir);
  set('hostname', f.hostname);
  if (f.entrypoint !== undefined) req.entrypoint = f.entrypoint === '' ? [] : [f.entrypoint];
  set('stopSignal', f.stopSignal);
  set('stopTimeout', f.stopTimeout);
  if (f.noHealthcheck) req.healthcheck = { test: ['NONE'] };
  else if (f.healthCmd || f.healthInterval || f.healthTimeout || f.healthRetries || f.healthStartPeriod) {
    const hc: HealthcheckRequest = {};
    if (f.healthCmd) hc.test = ['CMD-SHELL', f.healthCmd];
    if (f.healthInterval) hc.interval = f.healthInterval;
    if (f.healthTimeout) hc.timeout = f.healthTimeout;
    if (f.healthRetries !== undefined) hc.retries = f.healthRetries;
    if (f.healthStartPeriod) hc.startPeriod = f.healthStartPeriod;
    req.healthcheck = hc;
  }
  if (f.rm) req.autoRemove = true;
  return req;
}

/** Rewrites `ports[0]: ...` as `-p/--publish: ...` for the user who typed the flag. */
export function nameFlagInMessage(message: string): string {
  const m = /^([a-zA-Z]+)(\[\d+\])?(\.[\w.]+)?: /.exec(message);
  const flagName = m?.[1] ? FIELD_FLAGS[m[1]] : undefined;
  return m && flagName ? `${flagName} (${m[0].slice(0, -2)}): ${message.slice(m[0].length)}` : message;
}

/**
 * `--env-file`: Docker's format. One variable a line; blank lines and lines
 * starting with `#` are skipped; `KEY=VALUE` is taken as written (the value
 * is not trimmed or unquoted); a bare `KEY` takes this shell's value, and is
 * left out when the shell has none.
 */
export function envFiles(files: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new InvalidArgumentError(
        `--env-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`,
        {
          field: 'envFile',
        },
      );
    }
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trimStart();
      if (line === '' || line.startsWith('#')) return;
      const eq = line.indexOf('=');
      const key = eq < 0 ? line.trimEnd() : line.slice(0, eq);
      if (key === '' || /\s/.test(key)) {
        throw new InvalidArgumentError(
          `--env-file: ${file} line ${i + 1}: ${JSON.stringify(key)} is not a variable name`,
          { field: 'envFile' },
        );
      }
      if (eq >= 0) out.push(line);
      else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
    });
  }
  return out;
}

/**
 * `--network` (repeatable) and `--network-alias`: `none`/`host` are modes
 * (alone), anything else a network to join, `bridge` the default one;
 * aliases go to the first user-defined network (Docker's rule: the default
 * network has no aliases). Names are checked by the agent against the schema.
 */
export function networkFields(
  networks: string[],
  aliases: string[],
): Pick<CreateRequest, 'network' | 'networks'> {
  const modes = networks.filter((n) => n === 'none' || n === 'host');
  if (modes.length > 0 && networks.length > 1)
    throw new InvalidArgumentError(
      `--network: ${modes[0]} is a mode and cannot be combined with other networks (${networks.join(', ')})`,
      { field: 'network' },
    );
  if (modes.length > 0) {
    if (aliases.length > 0)
      throw new InvalidArgumentError('--network-alias: only on a user-defined network', {
        field: 'networks',
      });
    return { network: modes[0] as 'none' | 'host' };
  }
  const names = [...new Set(networks)];
  const userIndex = names.findIndex((n) => n !== 'bridge' && n !== 'default');
  if (aliases.length > 0 && userIndex < 0)
    throw new InvalidArgumentError(
      '--network-alias: only on a user-defined network (--network NAME); the default network has no aliases',
      { field: 'networks' },
    );
  if (names.length === 0 || (names.length === 1 && (names[0] === 'bridge' || names[0] === 'default')))
    return networks.length > 0 ? { network: 'bridge' } : {};
  return {
    network: 'bridge',
    networks: names.map((name, i) => ({
      name: name === 'default' ? 'bridge' : name,
      ...(i === userIndex && aliases.length > 0 ? { aliases } : {}),
    })),
  };
}
