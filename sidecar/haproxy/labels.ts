import { InvalidArgumentError } from '../../runtime/base/errors.js';
import { isIpAddress } from '../discovery/instance.js';

/**
 * The load-balancing label set. Labels live on containers; discovery copies
 * them into the meta of every instance the container registers, with dots
 * turned into dashes (`berth.lb.port` → `berth-lb-port`) because Consul meta
 * keys allow only `[A-Za-z0-9_-]`. The LB config is read back from instance
 * meta, so it works the same with the local catalog and with Consul across
 * hosts, and no second channel from the runtime to the renderer is needed.
 */
export const LB_LABELS = {
  port: 'berth.lb.port',
  mode: 'berth.lb.mode',
  balance: 'berth.lb.balance',
  check: 'berth.lb.check',
  service: 'berth.lb.service',
  bind: 'berth.lb.bind',
} as const;

export type LbMode = 'http' | 'tcp';
export const LB_BALANCE = ['roundrobin', 'leastconn', 'source', 'first', 'random'] as const;
export type LbBalance = (typeof LB_BALANCE)[number];

/** What the labels (via meta) of one instance ask for. */
export interface LbSpec {
  /** Frontend (and backend) name: `berth.lb.service`, default the instance's service name. */
  name: string;
  port: number;
  mode: LbMode;
  balance: LbBalance;
  /** http: path of an HTTP check (`/healthz`); tcp: `tcp` for a connect check; undefined: no HAProxy check (the catalog's health decides). */
  check: string | undefined;
  /** Bind address override (`berth.lb.bind`). */
  bind: string | undefined;
}

/** Meta key for a label: dots become dashes. */
export function metaKey(label: string): string {
  return label.replace(/\./g, '-');
}

/** The `berth.lb.*` labels of a container as instance meta (for the registrator to copy). */
export function lbMetaFromLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const label of Object.values(LB_LABELS)) {
    const v = labels[label];
    if (v !== undefined) out[metaKey(label)] = v;
  }
  return out;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * An HTTP check path: `/` then URI path and query characters, at most 256 in
 * all. No quote, `$`, `;`, `#`, backslash, space or control character: the
 * path is rendered into haproxy.cfg, where those are syntax (HAProxy expands
 * `"${VAR}"` from its environment).
 */
export const CHECK_PATH_RE = /^\/[A-Za-z0-9._~!*+,=:@%&?/-]{0,255}$/;

/**
 * The LB spec an instance declares, undefined when it declares none (no
 * `berth-lb-port`). Invalid values throw InvalidArgumentError naming the label.
 */
export function lbSpecFromMeta(serviceName: string, meta: Record<string, string>): LbSpec | undefined {
  const get = (label: string): string | undefined => {
    const v = meta[metaKey(label)] ?? meta[label];
    return v === undefined ? undefined : v.trim();
  };
  const portRaw = get(LB_LABELS.port);
  if (portRaw === undefined) return undefined;
  const bad = (label: string, reason: string): InvalidArgumentError =>
    new InvalidArgumentError(`${label}: ${reason}`, { field: label });
  const port = Number(portRaw);
  if (!/^\d+$/.test(portRaw) || port < 1 || port > 65535) {
    throw bad(LB_LABELS.port, `${JSON.stringify(portRaw)} is not a port (1-65535)`);
  }
  const modeRaw = get(LB_LABELS.mode) ?? 'http';
  if (modeRaw !== 'http' && modeRaw !== 'tcp') {
    throw bad(LB_LABELS.mode, `must be http or tcp, got ${JSON.stringify(modeRaw)}`);
  }
  const balanceRaw = get(LB_LABELS.balance) ?? 'roundrobin';
  if (!(LB_BALANCE as readonly string[]).includes(balanceRaw)) {
    throw bad(
      LB_LABELS.balance,
      `must be one of ${LB_BALANCE.join(', ')}, got ${JSON.stringify(balanceRaw)}`,
    );
  }
  const name = get(LB_LABELS.service) ?? serviceName;
  if (!NAME_RE.test(name)) {
    throw bad(
      LB_LABELS.service,
      `${JSON.stringify(name)} is not a usable name (letters, digits, _ . -; at most 63 characters)`,
    );
  }
  let check = get(LB_LABELS.check);
  if (check === '') check = undefined;
  if (check !== undefined) {
    if (modeRaw === 'http' && !CHECK_PATH_RE.test(check)) {
      throw bad(
        LB_LABELS.check,
        `must be an absolute path (e.g. /healthz) of letters, digits and . _ ~ ! * + , = : @ % & ? / - (at most 256), got ${JSON.stringify(check.slice(0, 80))}`,
      );
    }
    if (modeRaw === 'tcp' && check !== 'tcp') {
      throw bad(LB_LABELS.check, `in tcp mode must be "tcp", got ${JSON.stringify(check)}`);
    }
  }
  const bind = get(LB_LABELS.bind);
  if (bind !== undefined && bind !== '' && !isIpAddress(bind)) {
    throw bad(LB_LABELS.bind, `${JSON.stringify(bind.slice(0, 80))} is not an IP address`);
  }
  return { name, port, mode: modeRaw, balance: balanceRaw as LbBalance, check, bind: bind || undefined };
}

export function sameSpec(a: LbSpec, b: LbSpec): boolean {
  return (
    a.name === b.name &&
    a.port === b.port &&
    a.mode === b.mode &&
    a.balance === b.balance &&
    a.check === b.check &&
    a.bind === b.bind
  );
}
