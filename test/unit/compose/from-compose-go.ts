/**
 * compose-go's JSON (what `docker compose config --format json` prints) mapped
 * onto berth's model, key by supported key, with berth's documented defaults
 * filled where compose-go leaves a key out. The corpus test compares this with
 * loadProject's output: any difference is a bug or a divergence listed in
 * src/compose/README.md.
 */
import { UPDATE_DEFAULTS } from '../../../src/compose/finalize.js';
import type {
  ComposeMount,
  ComposeNetwork,
  ComposePort,
  ComposeService,
  ComposeUpdateConfig,
  ComposeVolume,
} from '../../../src/compose/types.js';

type J = Record<string, unknown>;
const obj = (v: unknown): J => (typeof v === 'object' && v !== null ? (v as J) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.Duration.String() format (`1h2m3s`, `1.5s`, `500ms`, `0s`) in ms; written here, not borrowed from the loader. */
export function goDurationToMs(s: unknown): number {
  if (typeof s !== 'string') throw new Error(`not a Go duration: ${JSON.stringify(s)}`);
  let total = 0;
  let rest = s;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (m === null) throw new Error(`not a Go duration: ${s}`);
    total += Number(m[1]) * (GO_UNITS[m[2] ?? ''] ?? Number.NaN);
    rest = rest.slice(m[0].length);
  }
  return Math.round(total * 1e6) / 1e6;
}

const optNum = (v: unknown): number | undefined => (v === undefined ? undefined : Number(v));

function set<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}

function port(p: J): ComposePort {
  const out: ComposePort = {
    target: Number(p.target),
    protocol: (p.protocol as ComposePort['protocol']) ?? 'tcp',
    mode: (p.mode as ComposePort['mode']) ?? 'ingress',
  };
  set(out, 'published', p.published as string | undefined);
  set(out, 'hostIp', p.host_ip as string | undefined);
  set(out, 'name', p.name as string | undefined);
  set(out, 'appProtocol', p.app_protocol as string | undefined);
  return out;
}

function mount(v: J): ComposeMount {
  const out: ComposeMount = {
    type: v.type as ComposeMount['type'],
    target: String(v.target),
    readOnly: v.read_only === true,
  };
  set(out, 'source', v.source as string | undefined);
  if (v.bind !== undefined) {
    const b = obj(v.bind);
    // create_host_path is an opt-out in compose-go: absent means true.
    out.bind = { createHostPath: b.create_host_path !== false };
    set(out.bind, 'propagation', b.propagation as string | undefined);
    set(out.bind, 'selinux', b.selinux as 'z' | 'Z' | undefined);
  }
  if (v.volume !== undefined) {
    const x = obj(v.volume);
    out.volume = {};
    set(out.volume, 'nocopy', x.nocopy as boolean | undefined);
    set(out.volume, 'subpath', x.subpath as string | undefined);
  }
  if (v.tmpfs !== undefined) {
    const t = obj(v.tmpfs);
    out.tmpfs = {};
    set(out.tmpfs, 'size', optNum(t.size));
    // Divergence (src/compose/README.md): compose-go keeps a YAML number as written, berth reads a mode as octal.
    set(out.tmpfs, 'mode', t.mode === undefined ? undefined : Number.parseInt(String(t.mode), 8));
  }
  return out;
}

function update(u: unknown): ComposeUpdateConfig {
  if (u === undefined) return { ...UPDATE_DEFAULTS };
  const x = obj(u);
  return {
    parallelism: x.parallelism === undefined ? UPDATE_DEFAULTS.parallelism : Number(x.parallelism),
    delayMs: x.delay === undefined ? UPDATE_DEFAULTS.delayMs : goDurationToMs(x.delay),
    failureAction:
      (x.failure_action as ComposeUpdateConfig['failureAction']) ?? UPDATE_DEFAULTS.failureAction,
    monitorMs: x.monitor === undefined ? UPDATE_DEFAULTS.monitorMs : goDurationToMs(x.monitor),
    maxFailureRatio:
      x.max_failure_ratio === undefined ? UPDATE_DEFAULTS.maxFailureRatio : Number(x.max_failure_ratio),
    order: (x.order as ComposeUpdateConfig['order']) ?? UPDATE_DEFAULTS.order,
  };
}

export function serviceFromComposeGo(name: string, s: J): ComposeService {
  const out: ComposeService = {
    name,
    environment: obj(s.environment) as Record<string, string | null>,
    envFiles: arr(s.env_file).map((e) => ({
      path: String(obj(e).path),
      required: obj(e).required !== false,
    })),
    ports: arr(s.ports).map((p) => port(obj(p))),
    expose: arr(s.expose).map(String),
    labels: obj(s.labels) as Record<string, string>,
    volumes: arr(s.volumes).map((v) => mount(obj(v))),
    tmpfs: arr(s.tmpfs).map(String),
    readOnly: s.read_only === true,
    capAdd: arr(s.cap_add).map(String),
    capDrop: arr(s.cap_drop).map(String),
    securityOpt: arr(s.security_opt).map(String),
    ulimits: Object.fromEntries(
      Object.entries(obj(s.ulimits)).map(([k, v]) =>
        typeof v === 'number'
          ? [k, { soft: v, hard: v }]
          : // compose-go omits zero fields: `core: 0` prints as {}.
            [k, { soft: Number(obj(v).soft ?? 0), hard: Number(obj(v).hard ?? 0) }],
      ),
    ),
    networks: Object.fromEntries(
      Object.entries(obj(s.networks)).map(([k, v]) => [k, { aliases: arr(obj(v).aliases).map(String) }]),
    ),
    dependsOn: Object.fromEntries(
      Object.entries(obj(s.depends_on)).map(([k, v]) => {
        const d = obj(v);
        return [k, { condition: d.condition, required: d.required !== false, restart: d.restart === true }];
      }),
    ) as ComposeService['dependsOn'],
    deploy: deploy(s.deploy),
    profiles: arr(s.profiles).map(String),
  };
  set(out, 'image', s.image as string | undefined);
  set(out, 'containerName', s.container_name as string | undefined);
  set(out, 'command', s.command === null ? undefined : (s.command as string[] | undefined));
  set(out, 'entrypoint', s.entrypoint === null ? undefined : (s.entrypoint as string[] | undefined));
  set(out, 'user', s.user as string | undefined);
  set(out, 'workingDir', s.working_dir as string | undefined);
  set(out, 'hostname', s.hostname as string | undefined);
  set(out, 'pidsLimit', optNum(s.pids_limit));
  set(out, 'memLimit', optNum(s.mem_limit));
  set(out, 'cpus', optNum(s.cpus));
  set(out, 'stopSignal', s.stop_signal as string | undefined);
  set(
    out,
    'stopGracePeriodMs',
    s.stop_grace_period === undefined ? undefined : goDurationToMs(s.stop_grace_period),
  );
  set(out, 'restart', s.restart as string | undefined);
  set(out, 'networkMode', s.network_mode as ComposeService['networkMode']);
  if (s.healthcheck !== undefined) {
    const h = obj(s.healthcheck);
    const test = h.test === undefined ? undefined : arr(h.test).map(String);
    out.healthcheck = { disable: h.disable === true || test?.[0] === 'NONE' };
    set(out.healthcheck, 'test', test);
    for (const [k, f] of [
      ['interval', 'intervalMs'],
      ['timeout', 'timeoutMs'],
      ['start_period', 'startPeriodMs'],
      ['start_interval', 'startIntervalMs'],
    ] as const) {
      if (h[k] !== undefined) out.healthcheck[f] = goDurationToMs(h[k]);
    }
    set(out.healthcheck, 'retries', optNum(h.retries));
  }
  if (s.logging !== undefined) {
    const l = obj(s.logging);
    out.logging = { options: obj(l.options) as Record<string, string> };
    set(out.logging, 'driver', l.driver as string | undefined);
  }
  return out;
}

function deploy(d: unknown): ComposeService['deploy'] {
  const x = obj(d);
  const lim = obj(obj(x.resources).limits);
  const limits: ComposeService['deploy']['resources']['limits'] = {};
  set(limits, 'cpus', optNum(lim.cpus));
  set(limits, 'memory', optNum(lim.memory));
  set(limits, 'pids', optNum(lim.pids));
  const out: ComposeService['deploy'] = {
    replicas: x.replicas === undefined ? 1 : Number(x.replicas),
    resources: { limits },
    updateConfig: update(x.update_config),
    rollbackConfig: update(x.rollback_config),
  };
  if (x.restart_policy !== undefined) {
    const r = obj(x.restart_policy);
    out.restartPolicy = {
      condition: (r.condition as 'none' | 'on-failure' | 'any') ?? 'any',
      delayMs: r.delay === undefined ? 0 : goDurationToMs(r.delay),
      windowMs: r.window === undefined ? 0 : goDurationToMs(r.window),
    };
    set(out.restartPolicy, 'maxAttempts', optNum(r.max_attempts));
  }
  return out;
}

export function networkFromComposeGo(n: J): ComposeNetwork {
  return {
    name: String(n.name),
    driver: 'bridge',
    external: n.external === true,
    internal: n.internal === true,
    labels: obj(n.labels) as Record<string, string>,
  };
}

export function volumeFromComposeGo(v: J): ComposeVolume {
  return {
    name: String(v.name),
    driver: 'local',
    external: v.external === true,
    labels: obj(v.labels) as Record<string, string>,
  };
}
