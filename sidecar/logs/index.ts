import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerSource } from '../../runtime/types.js';
import type { Logger } from '../../src/common/log.js';
import type { LogShippingConfig } from './config.js';
import { LogPipeline } from './pipeline.js';
import { FilePositionStore } from './positions.js';
import { ForwardClient } from './shipper.js';

export { LOG_SHIPPING_CONFIG, type LogShippingConfig, parseLogShippingConfig } from './config.js';
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
}): Promise<LogShipping> {
  const c = deps.config;
  const positions = await FilePositionStore.open(
    c.positionsFile ?? join(deps.stateDir, 'logs', 'positions.json'),
  );
  const output = new ForwardClient({
    servers: c.servers,
    tls: c.tls
      ? {
          ...(c.tlsCa ? { ca: readFileSync(c.tlsCa) } : {}),
          ...(c.tlsServername ? { servername: c.tlsServername } : {}),
          rejectUnauthorized: c.tlsVerify,
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
