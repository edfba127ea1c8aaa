import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { goDurationMs } from '../../base/duration.js';
import { InvalidArgumentError, messageOf } from '../../base/errors.js';
import type { Logger } from '../../base/log.js';
import { readBounded } from './safe-read.js';

/**
 * Services to register in observe mode, from a directory of service
 * definitions in Consul's own format (developer.hashicorp.com/consul/docs,
 * "Define services"): a file holds `{"service": {…}}` or `{"services":
 * [{…}, …]}`, with `check`/`checks` of the http and tcp kinds, which the
 * agent runs. JSON only: HCL needs a parser, and no maintained npm HCL 2
 * parser is among berth's dependencies; a `.hcl` file is reported, not read.
 *
 * The files are hostile input like any other: each is at most 1 MiB, the
 * directory holds at most 256 files and 1024 services, every field is
 * checked and a bad one names its file, service and field. Keys are taken as
 * Consul takes them, in snake_case or CamelCase (`name`/`Name`).
 */
export interface ServiceDefinition {
  /** `id`, or the name (Consul's default). */
  id: string;
  name: string;
  tags: string[];
  /** Absent: the node's address, as in Consul. */
  address?: string;
  port: number;
  meta: Record<string, string>;
  /** HTTP and TCP checks, run by the agent; the instance's health is the worst result. */
  checks: ServiceCheck[];
  /** Consul keys given but not acted on by berth, for a warning. */
  ignored: string[];
  file: string;
}

/** A Consul check berth runs: `http` (GET unless `method`; 2xx passing, 429 warning) or `tcp` (a connect). */
export interface ServiceCheck {
  kind: 'http' | 'tcp';
  /** The URL (http) or `host:port` (tcp). */
  target: string;
  /** Go duration (`10s`), required as in Consul. */
  interval: string;
  timeout?: string;
  method?: string;
  /** Status until the first result: Consul's default is critical. */
  status: 'passing' | 'warning' | 'critical';
}

export const MAX_FILE_BYTES = 1024 * 1024;
export const MAX_FILES = 256;
export const MAX_SERVICES = 1024;

/** Consul's service name advice: DNS-compatible, at most 63. */
const NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/;
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;
const HOSTNAME =
  /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]{2,45}$/;
/** What berth acts on, in Consul's two spellings. */
const KNOWN: Record<string, string> = {
  id: 'id',
  ID: 'id',
  name: 'name',
  Name: 'name',
  tags: 'tags',
  Tags: 'tags',
  address: 'address',
  Address: 'address',
  port: 'port',
  Port: 'port',
  meta: 'meta',
  Meta: 'meta',
};
/** Consul service keys berth accepts and does not act on (reported as ignored). */
const IGNORED = new Set(
  [
    'kind',
    'token',
    'weights',
    'connect',
    'proxy',
    'tagged_addresses',
    'enable_tag_override',
    'socket_path',
    'namespace',
    'partition',
    'locality',
  ].flatMap((k) => [k, k.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase())]),
);

/** Parses one file's text; throws an InvalidArgumentError naming the file and the field. */
export function parseServiceFile(text: string, file: string): ServiceDefinition[] {
  const bad = (field: string, reason: string) =>
    new InvalidArgumentError(`${file}: ${field}: ${reason}`, { field });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad('(file)', `not JSON: ${messageOf(err)}`);
  }
  if (!isObj(doc)) throw bad('(file)', 'must hold a JSON object {"service": {…}} or {"services": […]}');
  const keys = Object.keys(doc);
  const other = keys.filter((k) => k !== 'service' && k !== 'services');
  if (other.length > 0 || keys.length !== 1) {
    throw bad(other[0] ?? '(file)', 'a service file holds exactly one of "service" or "services"');
  }
  const list: unknown[] =
    doc.service !== undefined ? [doc.service] : Array.isArray(doc.services) ? doc.services : [];
  if (doc.services !== undefined && !Array.isArray(doc.services)) throw bad('services', 'must be an array');
  if (list.length > MAX_SERVICES) throw bad('services', `more than ${MAX_SERVICES} services`);
  return list.map((s, i) => parseService(s, file, doc.service !== undefined ? 'service' : `services[${i}]`));
}

function parseService(v: unknown, file: string, at: string): ServiceDefinition {
  const bad = (field: string, reason: string) =>
    new InvalidArgumentError(`${file}: ${at}.${field}: ${reason}`, { field: `${at}.${field}` });
  if (!isObj(v)) throw bad('(service)', 'must be an object');
  const f: Record<string, unknown> = {};
  const ignored: string[] = [];
  const checks: unknown[] = [];
  for (const [k, val] of Object.entries(v)) {
    const key = KNOWN[k];
    if (key) f[key] = val;
    else if (k === 'check' || k === 'Check') checks.push(val);
    else if (k === 'checks' || k === 'Checks') {
      if (!Array.isArray(val) || val.length > 16) throw bad(k, 'an array of at most 16 checks');
      checks.push(...val);
    } else if (IGNORED.has(k)) ignored.push(k);
    else throw bad(k, 'not a Consul service key berth knows');
  }
  if (typeof f.name !== 'string' || !NAME.test(f.name)) {
    throw bad('name', 'required: letters, digits and dashes, at most 63, starting and ending alphanumeric');
  }
  const id = f.id === undefined ? f.name : f.id;
  if (typeof id !== 'string' || !ID.test(id)) throw bad('id', 'letters, digits and _.:- only, at most 128');
  if (typeof f.port !== 'number' || !Number.isInteger(f.port) || f.port < 1 || f.port > 65535) {
    throw bad('port', 'required: an integer 1-65535');
  }
  const tags = f.tags ?? [];
  if (!Array.isArray(tags) || tags.length > 64) throw bad('tags', 'an array of at most 64 strings');
  for (const t of tags) {
    if (typeof t !== 'string' || t === '' || t.length > 256 || /[\p{Cc}]/u.test(t)) {
      throw bad('tags', `${JSON.stringify(t)}: a tag is 1-256 characters without control characters`);
    }
  }
  const meta: Record<string, string> = {};
  if (f.meta !== undefined) {
    if (!isObj(f.meta) || Object.keys(f.meta).length > 64) throw bad('meta', 'an object of at most 64 keys');
    for (const [k, val] of Object.entries(f.meta)) {
      if (!META_KEY.test(k)) throw bad('meta', `key ${JSON.stringify(k)} must match [A-Za-z0-9_-]{1,128}`);
      if (typeof val !== 'string' || val.length > 512)
        throw bad(`meta.${k}`, 'a string of at most 512 characters');
      meta[k] = val;
    }
  }
  const def: ServiceDefinition = {
    id,
    name: f.name,
    tags: tags as string[],
    port: f.port,
    meta,
    checks: checks.map((c, i) => parseCheck(c, (field, reason) => bad(`checks[${i}].${field}`, reason))),
    ignored,
    file,
  };
  if (f.address !== undefined && f.address !== '') {
    const a = f.address;
    if (typeof a !== 'string' || !(IPV4.test(a) || (a.includes(':') && IPV6.test(a)) || HOSTNAME.test(a))) {
      throw bad('address', 'an IP address or a DNS name');
    }
    def.address = a;
  }
  return def;
}

/** Check keys that only name or describe a check. */
const CHECK_LABELS = new Set(['id', 'checkid', 'name', 'notes']);

/**
 * One Consul check definition (keys in either spelling). Only what berth
 * runs exactly as Consul would is accepted: http (with method) and tcp, with
 * interval, timeout and initial status. Anything else is refused naming the
 * key: a check berth did not run, or ran differently (headers, TLS options,
 * thresholds), would send traffic to an instance Consul would call critical.
 */
function parseCheck(v: unknown, bad: (field: string, reason: string) => InvalidArgumentError): ServiceCheck {
  if (!isObj(v)) throw bad('(check)', 'must be an object');
  const c: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    const key = k.toLowerCase();
    if (CHECK_LABELS.has(key)) continue;
    if (!['http', 'tcp', 'interval', 'timeout', 'method', 'status'].includes(key)) {
      throw bad(
        k,
        'not run by berth (it runs http and tcp checks with interval, timeout, method and status)',
      );
    }
    c[key] = val;
  }
  const interval = c.interval;
  if (typeof interval !== 'string' || !((goDurationMs(interval) ?? 0) >= 100)) {
    throw bad('interval', 'required: a duration of at least 100ms (e.g. "10s")');
  }
  const check: Omit<ServiceCheck, 'kind' | 'target'> = { interval, status: 'critical' };
  if (c.timeout !== undefined) {
    if (typeof c.timeout !== 'string' || !((goDurationMs(c.timeout) ?? 0) > 0)) {
      throw bad('timeout', 'a duration (e.g. "1s")');
    }
    check.timeout = c.timeout;
  }
  if (c.status !== undefined) {
    if (c.status !== 'passing' && c.status !== 'warning' && c.status !== 'critical') {
      throw bad('status', 'passing, warning or critical');
    }
    check.status = c.status;
  }
  if (typeof c.http === 'string' && c.tcp === undefined) {
    let url: URL;
    try {
      url = new URL(c.http);
    } catch {
      throw bad('http', 'not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw bad('http', 'an http:// or https:// URL');
    if (c.method !== undefined) {
      if (typeof c.method !== 'string' || !/^[A-Z]{1,16}$/.test(c.method)) {
        throw bad('method', 'an HTTP method (GET, HEAD, …)');
      }
      check.method = c.method;
    }
    return { kind: 'http', target: url.href, ...check };
  }
  if (typeof c.tcp === 'string' && c.http === undefined && c.method === undefined) {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(c.tcp);
    const host = m?.[1] ?? '';
    const port = Number(m?.[2] ?? 0);
    if (!m || port < 1 || port > 65535 || !(IPV4.test(host) || IPV6.test(host) || HOSTNAME.test(host))) {
      throw bad('tcp', 'host:port');
    }
    return { kind: 'tcp', target: c.tcp, ...check };
  }
  throw bad('(check)', 'exactly one of http or tcp (method only with http)');
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** What a load of the directory found: the definitions, and one line per file refused. */
export interface ServiceLoad {
  services: ServiceDefinition[];
  errors: string[];
}

/**
 * Reads every `*.json` of `dir` (sorted, at most MAX_FILES): a bad file is
 * reported and left out, the others load; a service id given twice keeps the
 * first file's (sorted by name) and reports the other.
 */
export async function loadServiceDir(dir: string): Promise<ServiceLoad> {
  const out: ServiceLoad = { services: [], errors: [] };
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    out.errors.push(`${dir}: ${messageOf(err)}`);
    return out;
  }
  const files = names.filter((n) => n.endsWith('.json') || n.endsWith('.hcl'));
  if (files.length > MAX_FILES)
    out.errors.push(`${dir}: more than ${MAX_FILES} files; the rest are not read`);
  const seen = new Set<string>();
  for (const name of files.slice(0, MAX_FILES)) {
    if (name.endsWith('.hcl')) {
      out.errors.push(`${name}: HCL service files are not read (no HCL parser); write it as JSON`);
      continue;
    }
    const text = await readBounded(dir, join(dir, name), MAX_FILE_BYTES);
    if (text === undefined) {
      out.errors.push(`${name}: not a regular file of at most ${MAX_FILE_BYTES} bytes inside ${dir}`);
      continue;
    }
    try {
      for (const s of parseServiceFile(text, name)) {
        if (seen.has(s.id)) {
          out.errors.push(
            `${name}: service id "${s.id}" is defined in an earlier file; this one is left out`,
          );
          continue;
        }
        if (out.services.length >= MAX_SERVICES) {
          out.errors.push(`${name}: more than ${MAX_SERVICES} services in ${dir}; the rest are left out`);
          break;
        }
        seen.add(s.id);
        out.services.push(s);
      }
    } catch (err) {
      out.errors.push(messageOf(err));
    }
  }
  return out;
}

/**
 * Keeps `loadServiceDir(dir)` current: chokidar watches the directory (one
 * level, as Consul's config dir is read) and every change, debounced, loads
 * it again and hands the whole result on; `onChange` runs one at a time.
 */
export class ServiceDirWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly onChange: (load: ServiceLoad) => Promise<void>,
    private readonly opts: { debounceMs?: number; logger?: Logger } = {},
  ) {}

  /** Loads once (resolved when `onChange` ran), then follows the directory. */
  async start(): Promise<void> {
    await this.reload();
    this.watcher = watch(this.dir, { depth: 0, ignoreInitial: true, followSymlinks: false });
    this.watcher.on('all', () => this.soon());
    this.watcher.on('error', (err) =>
      this.opts.logger?.warn({ err }, 'services: watching the directory failed'),
    );
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher?.close();
    await this.chain;
  }

  private soon(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), this.opts.debounceMs ?? 100);
  }

  private reload(): Promise<void> {
    this.chain = this.chain
      .then(async () => this.onChange(await loadServiceDir(this.dir)))
      .catch((err: unknown) => this.opts.logger?.warn({ err }, 'services: applying the directory failed'));
    return this.chain;
  }
}
