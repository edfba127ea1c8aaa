import { hostname } from 'node:os';
import { parseHostPort } from '../../runtime/base/address.js';
import { type ConfigTable, type ConfigValues, validateConfig } from '../../runtime/base/config.js';
import { InvalidArgumentError } from '../../runtime/base/errors.js';
import type { LogPipelineOptions } from './pipeline.js';
import type { ForwardServer } from './shipper.js';

/** Options of log shipping (`logs.*` in the agent config); README's table is generated from it. */
export const LOG_SHIPPING_CONFIG: ConfigTable = [
  { key: 'enabled', type: 'bool', default: true, description: 'Ship container logs to Fluentd.' },
  {
    key: 'servers',
    type: 'string[]',
    default: ['127.0.0.1:24224'],
    env: 'BERTH_LOGS_SERVERS',
    description: 'Forward protocol receivers as host:port, tried in order (failover).',
  },
  { key: 'tls', type: 'bool', default: false, description: 'Connect with TLS.' },
  { key: 'tls_ca', type: 'string', default: null, description: 'PEM CA bundle to verify receivers with.' },
  {
    key: 'tls_servername',
    type: 'string',
    default: null,
    description: 'Server name to verify (default: the host).',
  },
  {
    key: 'tls_cert',
    type: 'string',
    default: null,
    description: 'PEM client certificate, for receivers that verify clients (mutual TLS); needs tls_key.',
  },
  {
    key: 'tls_key',
    type: 'string',
    default: null,
    description: 'PEM private key of tls_cert (a file readable by root only).',
  },
  {
    key: 'shared_key',
    type: 'string',
    default: null,
    env: 'BERTH_LOGS_SHARED_KEY',
    description:
      "Shared key of the Forward handshake (Fluentd's `<security> shared_key`): berth answers the receiver's HELO with a PING and checks its PONG. Prefer shared_key_file.",
  },
  {
    key: 'shared_key_file',
    type: 'string',
    default: null,
    description: 'File holding the shared key (one line; a trailing newline is dropped).',
  },
  {
    key: 'self_hostname',
    type: 'string',
    default: null,
    description:
      "Our name in the handshake's PING (default: the host name); must differ from the receiver's.",
  },
  {
    key: 'username',
    type: 'string',
    default: null,
    description: "User for receivers that demand user authentication (Fluentd's `<security> user_auth`).",
  },
  {
    key: 'password_file',
    type: 'string',
    default: null,
    env: 'BERTH_LOGS_PASSWORD_FILE',
    description:
      'File holding the password of `username` (one line). Or the env var BERTH_LOGS_PASSWORD; never in the config file, never logged.',
  },
  {
    key: 'tls_verify',
    type: 'bool',
    default: true,
    description: 'Verify the receiver certificate (false only for tests).',
  },
  {
    key: 'require_ack',
    type: 'bool',
    default: true,
    description:
      'Ask receivers to acknowledge each batch (`require_ack_response`); without it delivery is at-most-once.',
  },
  { key: 'ack_timeout', type: 'duration', default: '10s', description: 'Retry a batch not acked by then.' },
  { key: 'connect_timeout', type: 'duration', default: '5s', description: 'TCP/TLS connect timeout.' },
  { key: 'compress', type: 'bool', default: false, description: 'gzip batches (CompressedPackedForward).' },
  {
    key: 'backoff_min',
    type: 'duration',
    default: '500ms',
    description: 'First reconnect delay of a failed server (doubles, ±50% jitter).',
  },
  { key: 'backoff_max', type: 'duration', default: '30s', description: 'Longest reconnect delay.' },
  {
    key: 'retry_min',
    type: 'duration',
    default: '200ms',
    description: 'First delay before re-sending a batch answered `retry` (doubles, jitter).',
  },
  { key: 'retry_max', type: 'duration', default: '5s', description: 'Longest delay between re-sends.' },
  {
    key: 'tag',
    type: 'string',
    default: 'berth.{{.Name}}',
    description:
      'Fluentd tag template: {{.Name}}, {{.ID}} (12 chars), {{.FullID}}, {{.ImageName}}, {{.ImageTag}}. Label `berth.logs.tag` overrides it per container.',
  },
  {
    key: 'host',
    type: 'string',
    default: null,
    description: 'Value of `host` in records (default: the FQDN).',
  },
  { key: 'labels', type: 'string[]', default: [], description: 'Container labels copied into records.' },
  { key: 'env', type: 'string[]', default: [], description: 'Container env vars copied into records.' },
  {
    key: 'merge_json',
    type: 'bool',
    default: true,
    description: 'Merge lines that are JSON objects into the record (berth fields win on clashes).',
  },
  {
    key: 'multiline_start',
    type: 'string',
    default: null,
    description:
      'RE2 regex matching the first line of a record; other lines join the previous one. Label `berth.logs.multiline` sets it per container.',
  },
  {
    key: 'multiline_timeout',
    type: 'duration',
    default: '1s',
    description: 'Emit a pending multiline group after this much quiet.',
  },
  { key: 'multiline_max_lines', type: 'int', default: 500, min: 1, description: 'Most lines in one group.' },
  {
    key: 'max_line_bytes',
    type: 'bytes',
    default: '16k',
    min: 256,
    description: 'Longer lines are split into records flagged `partial` (as Docker does).',
  },
  { key: 'batch_records', type: 'int', default: 1000, min: 1, description: 'Most records in one batch.' },
  { key: 'batch_bytes', type: 'bytes', default: '1m', min: 1024, description: 'Most bytes in one batch.' },
  {
    key: 'poll_interval',
    type: 'duration',
    default: '100ms',
    description: 'How often log files are polled.',
  },
  {
    key: 'memory_buffer',
    type: 'bytes',
    default: '4m',
    description: 'Records held in memory per container before they go to the disk spool.',
  },
  {
    key: 'spool_dir',
    type: 'string',
    default: null,
    description: 'Directory of the disk spool (default: `<state dir>/logs/spool`).',
  },
  {
    key: 'spool_max_bytes',
    type: 'bytes',
    default: '256m',
    min: 65536,
    description: 'Spool cap per container; past it the oldest records are dropped and counted.',
  },
  {
    key: 'positions_file',
    type: 'string',
    default: null,
    description: 'Position store (default: `<state dir>/logs/positions.json`).',
  },
];

/** Validated `logs.*`: the output's settings and where state lives, plus the pipeline's own options. */
export interface LogShippingConfig extends LogPipelineOptions {
  enabled: boolean;
  servers: ForwardServer[];
  tls: boolean;
  tlsCa?: string;
  tlsServername?: string;
  tlsVerify: boolean;
  tlsCert?: string;
  tlsKey?: string;
  sharedKey?: string;
  sharedKeyFile?: string;
  selfHostname?: string;
  username?: string;
  passwordFile?: string;
  /** From BERTH_LOGS_PASSWORD only. */
  password?: string;
  requireAck: boolean;
  ackTimeoutMs: number;
  connectTimeoutMs: number;
  compress: boolean;
  backoffMinMs: number;
  backoffMaxMs: number;
  spoolDir?: string;
  positionsFile?: string;
}

/** Validates `logs.*` sources (file, flags; lowest precedence first) into typed options. */
export function parseLogShippingConfig(
  sources: readonly ConfigValues[],
  env: NodeJS.ProcessEnv = {},
): LogShippingConfig {
  for (const src of sources) {
    if (src.password !== undefined) {
      throw new InvalidArgumentError(
        'logs.password: not taken from the config file (it would sit in a readable file and in dumps of the config); use logs.password_file or the env var BERTH_LOGS_PASSWORD',
        { field: 'logs.password' },
      );
    }
  }
  const v = validateConfig(LOG_SHIPPING_CONFIG, sources, { prefix: 'logs.', env });
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const num = (k: string) => v[k] as number;
  const bool = (k: string) => v[k] as boolean;
  const list = (k: string) => (v[k] as string[] | undefined) ?? [];
  return checkSecurity({
    enabled: bool('enabled'),
    servers: list('servers').map((s) => parseServer(s)),
    tls: bool('tls'),
    tlsCa: str('tls_ca'),
    tlsServername: str('tls_servername'),
    tlsVerify: bool('tls_verify'),
    tlsCert: str('tls_cert'),
    tlsKey: str('tls_key'),
    sharedKey: str('shared_key'),
    sharedKeyFile: str('shared_key_file'),
    selfHostname: str('self_hostname'),
    username: str('username'),
    passwordFile: str('password_file'),
    password: env.BERTH_LOGS_PASSWORD || undefined,
    requireAck: bool('require_ack'),
    ackTimeoutMs: num('ack_timeout'),
    connectTimeoutMs: num('connect_timeout'),
    compress: bool('compress'),
    backoffMinMs: num('backoff_min'),
    backoffMaxMs: num('backoff_max'),
    retryMinMs: num('retry_min'),
    retryMaxMs: num('retry_max'),
    tag: str('tag') ?? 'berth.{{.Name}}',
    host: str('host') ?? hostname(),
    labels: list('labels'),
    env: list('env'),
    mergeJson: bool('merge_json'),
    multilineStart: str('multiline_start'),
    multilineTimeoutMs: num('multiline_timeout'),
    multilineMaxLines: num('multiline_max_lines'),
    maxLineBytes: num('max_line_bytes'),
    batchRecords: num('batch_records'),
    batchBytes: num('batch_bytes'),
    pollIntervalMs: num('poll_interval'),
    memoryBufferBytes: num('memory_buffer'),
    spoolDir: str('spool_dir'),
    spoolMaxBytes: num('spool_max_bytes'),
    positionsFile: str('positions_file'),
  });
}

/** The pairs that only make sense together, checked before anything connects. */
function checkSecurity(c: LogShippingConfig): LogShippingConfig {
  const bad = (field: string, reason: string) =>
    new InvalidArgumentError(`logs.${field}: ${reason}`, { field: `logs.${field}` });
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
    throw bad(c.tlsCert === undefined ? 'tls_cert' : 'tls_key', 'tls_cert and tls_key go together');
  }
  if ((c.tlsCert || c.tlsCa || c.tlsServername) && !c.tls) {
    throw bad(c.tlsCert ? 'tls_cert' : c.tlsCa ? 'tls_ca' : 'tls_servername', 'set logs.tls: true to use it');
  }
  if (c.sharedKey !== undefined && c.sharedKeyFile !== undefined) {
    throw bad('shared_key_file', 'give the shared key once: shared_key or shared_key_file');
  }
  if (c.sharedKey === '') throw bad('shared_key', 'is empty');
  const hasPassword = c.passwordFile !== undefined || c.password !== undefined;
  if (c.username !== undefined && !hasPassword) {
    throw bad('username', 'needs a password: logs.password_file or the env var BERTH_LOGS_PASSWORD');
  }
  if (hasPassword && c.username === undefined) throw bad('password_file', 'a password needs logs.username');
  if (c.username !== undefined && c.sharedKey === undefined && c.sharedKeyFile === undefined) {
    throw bad('username', 'user authentication is part of the handshake: it needs logs.shared_key');
  }
  return c;
}

/** `host:port` or `[v6]:port` → a server; the port defaults to 24224. */
export function parseServer(s: string, field = 'logs.servers'): ForwardServer {
  return parseHostPort(s, { field, defaultPort: 24224, example: 'fluentd:24224' });
}
