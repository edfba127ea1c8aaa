import { hostname } from 'node:os';
import { parseHostPort } from '../../runtime/base/address.js';
import { type ConfigOf, type ConfigValues, defineConfig, validateConfig } from '../../runtime/base/config.js';
import { InvalidArgumentError } from '../../runtime/base/errors.js';
import type { LogPipelineOptions } from './pipeline.js';
import type { ForwardServer } from './shipper.js';

/** Options of log shipping (`logs.*` in the agent config); README's table is generated from it. */
export const LOG_SHIPPING_CONFIG = defineConfig([
  { key: 'enabled', type: 'bool', default: true, description: 'Ship container logs to Fluentd.' },
  {
    key: 'servers',
    type: 'string[]',
    default: ['127.0.0.1:24224'],
    env: 'BERTH_LOGS_SERVERS',
    description: 'Forward protocol receivers as host:port, tried in order (failover).',
  },
  { key: 'tls', type: 'bool', default: false, description: 'Connect with TLS.' },
  {
    key: 'tlsCa',
    aliases: ['tls_ca'],
    type: 'string',
    default: null,
    description: 'PEM CA bundle to verify receivers with.',
  },
  {
    key: 'tlsServername',
    aliases: ['tls_servername'],
    type: 'string',
    default: null,
    description: 'Server name to verify (default: the host).',
  },
  {
    key: 'tlsCert',
    aliases: ['tls_cert'],
    type: 'string',
    default: null,
    description: 'PEM client certificate, for receivers that verify clients (mutual TLS); needs tlsKey.',
  },
  {
    key: 'tlsKey',
    aliases: ['tls_key'],
    type: 'string',
    default: null,
    description: 'PEM private key of tlsCert (a file readable by root only).',
  },
  {
    key: 'sharedKey',
    aliases: ['shared_key'],
    type: 'string',
    default: null,
    env: 'BERTH_LOGS_SHARED_KEY',
    description:
      "Shared key of the Forward handshake (Fluentd's `<security> shared_key`): berth answers the receiver's HELO with a PING and checks its PONG. Prefer sharedKeyFile.",
  },
  {
    key: 'sharedKeyFile',
    aliases: ['shared_key_file'],
    type: 'string',
    default: null,
    description: 'File holding the shared key (one line; a trailing newline is dropped).',
  },
  {
    key: 'selfHostname',
    aliases: ['self_hostname'],
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
    key: 'passwordFile',
    aliases: ['password_file'],
    type: 'string',
    default: null,
    env: 'BERTH_LOGS_PASSWORD_FILE',
    description:
      'File holding the password of `username` (one line). Or the env var BERTH_LOGS_PASSWORD; never in the config file, never logged.',
  },
  {
    key: 'tlsVerify',
    aliases: ['tls_verify'],
    type: 'bool',
    default: true,
    description: 'Verify the receiver certificate (false only for tests).',
  },
  {
    key: 'requireAck',
    aliases: ['require_ack'],
    type: 'bool',
    default: true,
    description:
      'Ask receivers to acknowledge each batch (`require_ack_response`); without it delivery is at-most-once.',
  },
  {
    key: 'ackTimeout',
    aliases: ['ack_timeout'],
    type: 'duration',
    default: '10s',
    description: 'Retry a batch not acked by then.',
  },
  {
    key: 'connectTimeout',
    aliases: ['connect_timeout'],
    type: 'duration',
    default: '5s',
    description: 'TCP/TLS connect timeout.',
  },
  { key: 'compress', type: 'bool', default: false, description: 'gzip batches (CompressedPackedForward).' },
  {
    key: 'backoffMin',
    aliases: ['backoff_min'],
    type: 'duration',
    default: '500ms',
    description: 'First reconnect delay of a failed server (doubles; the jitter takes up to half off).',
  },
  {
    key: 'backoffMax',
    aliases: ['backoff_max'],
    type: 'duration',
    default: '30s',
    description: 'Longest reconnect delay.',
  },
  {
    key: 'retryMin',
    aliases: ['retry_min'],
    type: 'duration',
    default: '200ms',
    description: 'First delay before re-sending a batch answered `retry` (doubles, jitter).',
  },
  {
    key: 'retryMax',
    aliases: ['retry_max'],
    type: 'duration',
    default: '5s',
    description: 'Longest delay between re-sends.',
  },
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
    description:
      "Value of `host` in records (default: the agent's nodeName, which is the host name unless set).",
  },
  { key: 'labels', type: 'string[]', default: [], description: 'Container labels copied into records.' },
  { key: 'env', type: 'string[]', default: [], description: 'Container env vars copied into records.' },
  {
    key: 'mergeJson',
    aliases: ['merge_json'],
    type: 'bool',
    default: true,
    description: 'Merge lines that are JSON objects into the record (berth fields win on clashes).',
  },
  {
    key: 'dockerFields',
    type: 'enum',
    values: ['auto', 'always', 'never'],
    default: 'auto',
    description:
      "Records in the forms of Docker's fluentd driver (`container_name` with its leading `/`, split lines as `partial_message` and string `partial_*`): for containers observed on a Docker host (auto), always, or never.",
  },
  {
    key: 'multilineStart',
    aliases: ['multiline_start'],
    type: 'string',
    default: null,
    description:
      'RE2 regex matching the first line of a record; other lines join the previous one. Label `berth.logs.multiline` sets it per container.',
  },
  {
    key: 'multilineTimeout',
    aliases: ['multiline_timeout'],
    type: 'duration',
    default: '1s',
    description: 'Emit a pending multiline group after this much quiet.',
  },
  {
    key: 'multilineMaxLines',
    aliases: ['multiline_max_lines'],
    type: 'int',
    default: 500,
    min: 1,
    description: 'Most lines in one group.',
  },
  {
    key: 'maxLineBytes',
    aliases: ['max_line_bytes'],
    type: 'bytes',
    default: '16k',
    min: 256,
    description: 'Longer lines are split into records flagged `partial` (as Docker does).',
  },
  {
    key: 'batchRecords',
    aliases: ['batch_records'],
    type: 'int',
    default: 1000,
    min: 1,
    description: 'Most records in one batch.',
  },
  {
    key: 'batchBytes',
    aliases: ['batch_bytes'],
    type: 'bytes',
    default: '1m',
    min: 1024,
    description: 'Most bytes in one batch.',
  },
  {
    key: 'pollInterval',
    aliases: ['poll_interval'],
    type: 'duration',
    default: '100ms',
    description: 'How often log files are polled.',
  },
  {
    key: 'memoryBuffer',
    aliases: ['memory_buffer'],
    type: 'bytes',
    default: '4m',
    description: 'Records held in memory per container before they go to the disk spool.',
  },
  {
    key: 'spoolDir',
    aliases: ['spool_dir'],
    type: 'string',
    default: null,
    description: 'Directory of the disk spool (default: `<state dir>/logs/spool`).',
  },
  {
    key: 'spoolMaxBytes',
    aliases: ['spool_max_bytes'],
    type: 'bytes',
    default: '256m',
    min: 65536,
    description: 'Spool cap per container; past it the oldest records are dropped and counted.',
  },
  {
    key: 'positionsFile',
    aliases: ['positions_file'],
    type: 'string',
    default: null,
    description: 'Position store (default: `<state dir>/logs/positions.json`).',
  },
]);

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

/** `logs.*` as the table types it (durations in ms, sizes in bytes). */
export type LogShippingValues = ConfigOf<typeof LOG_SHIPPING_CONFIG>;

/**
 * Validates `logs.*` sources (file, flags; lowest precedence first) into typed
 * options. `onDeprecated` hears of each old (snake_case) key used.
 */
export function parseLogShippingConfig(
  sources: readonly ConfigValues[],
  env: NodeJS.ProcessEnv = {},
  onDeprecated?: (alias: string, key: string) => void,
): LogShippingConfig {
  for (const src of sources) {
    if (src.password !== undefined) {
      throw new InvalidArgumentError(
        'logs.password: not taken from the config file (it would sit in a readable file and in dumps of the config); use logs.passwordFile or the env var BERTH_LOGS_PASSWORD',
        { field: 'logs.password' },
      );
    }
  }
  const v = validateConfig(LOG_SHIPPING_CONFIG, sources, {
    prefix: 'logs.',
    env,
    ...(onDeprecated ? { onDeprecated } : {}),
  });
  return checkSecurity({
    enabled: v.enabled,
    servers: v.servers.map((s) => parseServer(s)),
    tls: v.tls,
    tlsCa: v.tlsCa,
    tlsServername: v.tlsServername,
    tlsVerify: v.tlsVerify,
    tlsCert: v.tlsCert,
    tlsKey: v.tlsKey,
    sharedKey: v.sharedKey,
    sharedKeyFile: v.sharedKeyFile,
    selfHostname: v.selfHostname,
    username: v.username,
    passwordFile: v.passwordFile,
    password: env.BERTH_LOGS_PASSWORD || undefined,
    requireAck: v.requireAck,
    ackTimeoutMs: v.ackTimeout,
    connectTimeoutMs: v.connectTimeout,
    compress: v.compress,
    backoffMinMs: v.backoffMin,
    backoffMaxMs: v.backoffMax,
    retryMinMs: v.retryMin,
    retryMaxMs: v.retryMax,
    tag: v.tag,
    // Not a table default: the host's name is only known at run time.
    host: v.host ?? hostname(),
    labels: v.labels,
    env: v.env,
    mergeJson: v.mergeJson,
    dockerFields: v.dockerFields,
    multilineStart: v.multilineStart,
    multilineTimeoutMs: v.multilineTimeout,
    multilineMaxLines: v.multilineMaxLines,
    maxLineBytes: v.maxLineBytes,
    batchRecords: v.batchRecords,
    batchBytes: v.batchBytes,
    pollIntervalMs: v.pollInterval,
    memoryBufferBytes: v.memoryBuffer,
    spoolDir: v.spoolDir,
    spoolMaxBytes: v.spoolMaxBytes,
    positionsFile: v.positionsFile,
  });
}

/** The pairs that only make sense together, checked before anything connects. */
function checkSecurity(c: LogShippingConfig): LogShippingConfig {
  const bad = (field: string, reason: string) =>
    new InvalidArgumentError(`logs.${field}: ${reason}`, { field: `logs.${field}` });
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
    throw bad(c.tlsCert === undefined ? 'tlsCert' : 'tlsKey', 'tlsCert and tlsKey go together');
  }
  if ((c.tlsCert || c.tlsCa || c.tlsServername) && !c.tls) {
    throw bad(c.tlsCert ? 'tlsCert' : c.tlsCa ? 'tlsCa' : 'tlsServername', 'set logs.tls: true to use it');
  }
  if (c.sharedKey !== undefined && c.sharedKeyFile !== undefined) {
    throw bad('sharedKeyFile', 'give the shared key once: sharedKey or sharedKeyFile');
  }
  if (c.sharedKey === '') throw bad('sharedKey', 'is empty');
  const hasPassword = c.passwordFile !== undefined || c.password !== undefined;
  if (c.username !== undefined && !hasPassword) {
    throw bad('username', 'needs a password: logs.passwordFile or the env var BERTH_LOGS_PASSWORD');
  }
  if (hasPassword && c.username === undefined) throw bad('passwordFile', 'a password needs logs.username');
  if (c.username !== undefined && c.sharedKey === undefined && c.sharedKeyFile === undefined) {
    throw bad('username', 'user authentication is part of the handshake: it needs logs.sharedKey');
  }
  return c;
}

/** `host:port` or `[v6]:port` → a server; the port defaults to 24224. */
export function parseServer(s: string, field = 'logs.servers'): ForwardServer {
  return parseHostPort(s, { field, defaultPort: 24224, example: 'fluentd:24224' });
}
