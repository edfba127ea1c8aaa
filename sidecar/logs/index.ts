import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, messageOf } from '../../runtime/base/errors.js';
import type { Logger } from '../../runtime/base/log.js';
import type { ContainerSource } from '../../runtime/types.js';
import type { Sidecar } from '../types.js';
import type { LogShippingConfig } from './config.js';
import { logPipelineFamilies } from './metrics.js';
import { LogPipeline } from './pipeline.js';
import { FilePositionStore } from './positions.js';
import { ForwardClient } from './shipper.js';

export { LOG_SHIPPING_CONFIG, type LogShippingConfig, parseLogShippingConfig } from './config.js';
export { logPipelineFamilies } from './metrics.js';
export { LogPipeline, type LogPipelineMetrics } from './pipeline.js';

export interface LogShipping {
  pipeline: LogPipeline;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Wires log shipping from validated config, for the composition root:
 * position store and spool under `stateDir/logs` unless configured, one
 * Forward client as the output.
 */
export async function createLogShipping(deps: {
  config: LogShippingConfig;
  source: ContainerSource;
  stateDir: string;
  logger?: Logger;
  /** Told the offset each read of a container's log reached (berth's log rotation looks then). */
  onRead?: (containerId: string, offset: number) => void;
}): Promise<LogShipping> {
  const c = deps.config;
  const positions = await FilePositionStore.open(
    c.positionsFile ?? join(deps.stateDir, 'logs', 'positions.json'),
  );
  const sharedKey = c.sharedKeyFile
    ? firstLine(await readConfigFile(c.sharedKeyFile, 'sharedKeyFile'))
    : c.sharedKey;
  if (sharedKey === '') {
    throw new InvalidArgumentError('logs.sharedKeyFile: the file is empty', {
      field: 'logs.sharedKeyFile',
    });
  }
  const password = c.passwordFile
    ? firstLine(await readConfigFile(c.passwordFile, 'passwordFile'))
    : c.password;
  const output = new ForwardClient({
    servers: c.servers,
    tls: c.tls
      ? {
          ...(c.tlsCa ? { ca: await readConfigFile(c.tlsCa, 'tlsCa') } : {}),
          ...(c.tlsCert ? { cert: await readConfigFile(c.tlsCert, 'tlsCert') } : {}),
          ...(c.tlsKey ? { key: await readConfigFile(c.tlsKey, 'tlsKey') } : {}),
          ...(c.tlsServername ? { servername: c.tlsServername } : {}),
          rejectUnauthorized: c.tlsVerify,
        }
      : undefined,
    auth: sharedKey
      ? {
          sharedKey,
          selfHostname: c.selfHostname ?? hostname(),
          ...(c.username !== undefined ? { username: c.username, password: password ?? '' } : {}),
        }
      : undefined,
    requireAck: c.requireAck,
    ackTimeoutMs: c.ackTimeoutMs,
    connectTimeoutMs: c.connectTimeoutMs,
    compress: c.compress,
    backoffMinMs: c.backoffMinMs,
    backoffMaxMs: c.backoffMaxMs,
    logger: deps.logger,
  });
  const pipeline = new LogPipeline({
    source: deps.source,
    output,
    positions,
    spoolDir: c.spoolDir ?? join(deps.stateDir, 'logs', 'spool'),
    options: c,
    logger: deps.logger,
    ...(deps.onRead ? { onRead: deps.onRead } : {}),
  });
  return {
    pipeline,
    start: () => pipeline.start(),
    stop: async () => {
      await pipeline.stop();
      await output.close();
      await positions.close();
    },
  };
}

/**
 * Log shipping as a sidecar for the composition root: wired (config files
 * read, position store opened) and started by `start()`, so a bad key file
 * fails the agent at the same step as before; exports `berth_logs_*`.
 */
export function createLogShippingSidecar(deps: {
  config: LogShippingConfig;
  source: ContainerSource;
  stateDir: string;
  logger: Logger;
  onRead?: (containerId: string, offset: number) => void;
}): Sidecar & {
  oldFileState(c: { id: string; logPath: string }): Promise<'shipped' | 'reading' | 'pending'>;
} {
  let shipping: LogShipping | undefined;
  const servers = deps.config.servers.map((s) => `${s.host}:${s.port}`).join(', ');
  return {
    name: 'logs',
    async start() {
      shipping = await createLogShipping({ ...deps, logger: deps.logger.child({ component: 'logs' }) });
      await shipping.start();
    },
    close: async () => {
      await shipping?.stop();
    },
    endpoint: () => `forward ${servers}`,
    // Until shipping runs, nothing of an old log file is known to be acknowledged: rotation waits.
    oldFileState: async (c) => (shipping ? shipping.pipeline.oldFileState(c) : 'pending'),
    metrics: { logs: () => (shipping ? logPipelineFamilies(shipping.pipeline.metrics()) : []) },
  };
}

/** A file named by `logs.<field>`, or an error naming the field (never its content). */
async function readConfigFile(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new InvalidArgumentError(`logs.${field}: cannot read ${path}: ${messageOf(err)}`, {
      field: `logs.${field}`,
      cause: err,
    });
  }
}

function firstLine(b: Buffer): string {
  return b.toString('utf8').replace(/\r?\n[\s\S]*$/, '');
}
