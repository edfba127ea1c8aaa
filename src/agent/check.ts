import { access, constants, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseHostPort } from '../../runtime/base/address.js';
import { validateConfig } from '../../runtime/base/config.js';
import { InvalidArgumentError, messageOf } from '../../runtime/base/errors.js';
import { parseSubnet } from '../../runtime/network/cidr.js';
import { parseUpstream } from '../../sidecar/dns/forwarder.js';
import { resolveHaproxyOptions } from '../../sidecar/haproxy/config.js';
import { parseLogShippingConfig } from '../../sidecar/logs/config.js';
import { METRICS_CONFIG, parseListen, parseRoots } from '../../sidecar/metrics/config.js';
import { type AgentConfig, loadAgentConfig } from './config.js';
import { observeRoots, withHostRoots } from './observe.js';

/**
 * What a start derives from the config before it touches anything, checked
 * here once: `runAgent` calls it right after loading the config (before the
 * lock, the dirs or a socket), and `berth agent --check-config` calls it and
 * prints the result. So the check refuses exactly what a start refuses at
 * that point, with the same message naming the field. It reads the files the
 * config names (to see they are readable) and nothing else: no state, no
 * socket, no network.
 */
export async function checkStartConfig(given: AgentConfig, env: NodeJS.ProcessEnv = process.env) {
  // Observing, the metrics read the host through hostRoot unless metrics.roots says otherwise.
  const cfg = withHostRoots(given);
  if (cfg.mode !== 'run') {
    // The observe source starts by reading these (runtime/source/observe): a missing mount stops the start.
    const roots = observeRoots(cfg);
    await directory(roots.proc, 'hostRoot', 'proc');
    await directory(roots.cgroup, 'hostRoot', 'sys/fs/cgroup');
  }
  parseSubnet(cfg.subnet);
  if (cfg.consul !== undefined) consulAddress(cfg.consul);
  cfg.dnsListen.forEach((s, i) => {
    parseHostPort(s, {
      field: `dnsListen[${i}]`,
      defaultPort: 53,
      minPort: 0,
      form: 'ip[:port]',
      example: '127.0.0.1:53',
    });
  });
  for (const [i, s] of cfg.dnsUpstreams.entries()) renamed(`dnsUpstreams[${i}]`, () => parseUpstream(s));
  const metrics = validateConfig(
    METRICS_CONFIG,
    [cfg.sections.metrics ?? {}, { listen: cfg.metricsListen }],
    {
      prefix: 'metrics.',
    },
  );
  if (cfg.metricsListen) parseListen(metrics.listen);
  parseRoots(metrics.roots);
  const haproxy =
    cfg.haproxy === 'off'
      ? undefined
      : resolveHaproxyOptions(
          [{ stateDir: join(cfg.stateRoot, 'haproxy') }, cfg.sections.haproxy ?? {}, { mode: cfg.haproxy }],
          { env },
        );
  if (haproxy?.templatePath !== undefined) await readable(haproxy.templatePath, 'haproxy.templatePath');
  const logs = parseLogShippingConfig(
    [cfg.sections.logs ?? {}, cfg.fluentd.length > 0 ? { servers: cfg.fluentd } : {}],
    env,
  );
  // As in startSidecars: shipping runs only when a receiver is named.
  const shipping =
    logs.enabled &&
    (cfg.fluentd.length > 0 || cfg.sections.logs?.servers !== undefined) &&
    logs.servers.length > 0;
  if (shipping) {
    for (const field of ['tlsCa', 'tlsCert', 'tlsKey', 'sharedKeyFile', 'passwordFile'] as const) {
      const path = logs[field];
      if (path !== undefined) await readable(path, `logs.${field}`);
    }
  }
  if (cfg.apiTcp !== undefined) {
    for (const field of ['apiTlsCert', 'apiTlsKey', 'apiTlsClientCa'] as const) {
      const path = cfg[field];
      if (path !== undefined) await readable(path, field);
    }
  }
  // As at start (src/agent/services.ts): a bad file is reported and left out, the others register.
  // Loaded only with --services-dir (its module brings chokidar, which no other agent needs).
  const services =
    cfg.servicesDir === undefined
      ? undefined
      : await (await import('../../runtime/source/observe/services.js')).loadServiceDir(cfg.servicesDir);
  return { metrics, logs: { ...logs, shipping }, haproxy, services };
}

/**
 * `berth agent --check-config`: the config from the same flags, env and file
 * a start would read, checked as a start checks it, as one JSON object with
 * every default filled in (durations in ms, sizes in bytes) and secrets shown
 * as "<redacted>". An invalid config throws the start's InvalidArgumentError.
 */
export async function checkAgentConfig(
  flags: Record<string, string | undefined>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, unknown>> {
  const cfg = await loadAgentConfig(flags, env);
  const start = await checkStartConfig(cfg, env);
  const { sections: _given, dns, discovery, consulClient, deprecated, ...top } = cfg;
  const { password: _password, ...logs } = start.logs;
  const nodeName = cfg.nodeName ?? hostname();
  // As startSidecars: records carry the node's name unless the file names logs.host.
  if (cfg.sections.logs?.host === undefined) logs.host = nodeName;
  return redact({
    ...top,
    nodeName,
    metrics: start.metrics,
    ...(start.services
      ? { services: { registered: start.services.services.map((d) => d.id), refused: start.services.errors } }
      : {}),
    logs: { ...logs, ...(start.logs.password !== undefined ? { password: SECRET } : {}) },
    haproxy: start.haproxy
      ? { ...start.haproxy, frontendAllow: start.haproxy.frontendAllow.describe() }
      : 'off',
    dns,
    discovery,
    consulClient,
    deprecated,
  });
}

const SECRET = '<redacted>';
/** Keys whose values never leave the agent (the check's output lands in CI logs and bug reports). */
const SECRET_KEYS = new Set(['apiToken', 'consulToken', 'sharedKey', 'password']);

function redact<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redact) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SECRET_KEYS.has(k) && v !== undefined ? SECRET : redact(v);
  return out as T;
}

/** `consul` as the catalog reads it: `host[:port]` or an http(s) URL. */
function consulAddress(value: string): URL {
  const fail = (reason: string): never => {
    throw new InvalidArgumentError(
      `consul: ${JSON.stringify(value)} is not host[:port] or an http(s) URL (${reason}; e.g. 127.0.0.1:8500 or https://consul.example:8501)`,
      { field: 'consul' },
    );
  };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https')
    fail(`scheme ${scheme} is not http or https`);
  let url: URL;
  try {
    url = new URL(scheme === undefined ? `http://${value}` : value);
  } catch {
    return fail('it does not parse as an address');
  }
  if (url.hostname === '') fail('the host is missing');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    fail('a path, query or fragment is not an address');
  }
  if (url.username !== '' || url.password !== '') fail('credentials go in consulToken, not the address');
  return url;
}

/** Runs `parse`, naming `field` in its InvalidArgumentError instead of the parser's own name. */
function renamed<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    throw new InvalidArgumentError(`${field}: ${messageOf(err).replace(/^[\w.[\]]+: /, '')}`, {
      field,
      cause: err,
    });
  }
}

/** `path`, which `field` leads to (`<hostRoot>/<what>`), must be a directory the agent can list. */
async function directory(path: string, field: string, what: string): Promise<void> {
  try {
    if (!(await stat(path)).isDirectory()) throw new Error('not a directory');
    await access(path, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw new InvalidArgumentError(
      `${field}: ${path} (the host's /${what}) is not a readable directory: ${messageOf(err)}`,
      {
        field,
        cause: err,
      },
    );
  }
}

/** A file the config names must be readable by the agent now, as the start will read it. */
async function readable(path: string, field: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (err) {
    throw new InvalidArgumentError(`${field}: cannot read ${path}: ${messageOf(err)}`, { field, cause: err });
  }
}
