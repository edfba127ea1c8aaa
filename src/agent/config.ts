import { readFile } from 'node:fs/promises';
import { type ConfigTable, type ConfigValues, validateConfig } from '../common/config.js';
import { InvalidArgumentError, messageOf } from '../common/errors.js';

/**
 * The agent's options. Precedence: flags > environment > config file >
 * defaults. Unknown keys in the file are rejected with the nearest known key.
 */
export const AGENT_CONFIG: ConfigTable = [
  {
    key: 'socket',
    type: 'string',
    default: '/run/berth/berth.sock',
    env: 'BERTH_SOCKET',
    description: 'API unix socket (mode 0660, owner root)',
  },
  {
    key: 'stateRoot',
    type: 'string',
    default: '/var/lib/berth',
    env: 'BERTH_STATE_ROOT',
    description: 'persistent state: images, layers, containers, logs',
  },
  {
    key: 'runDir',
    type: 'string',
    default: '/run/berth',
    env: 'BERTH_RUN_DIR',
    description: 'runtime state: OCI bundles, monitor sockets, netns files',
  },
  {
    key: 'logLevel',
    type: 'enum',
    values: ['trace', 'debug', 'info', 'warn', 'error'],
    default: 'info',
    env: 'BERTH_LOG_LEVEL',
    description: "the agent's own log level (JSON on stderr)",
  },
  {
    key: 'apiTcp',
    type: 'string',
    default: null,
    env: 'BERTH_API_TCP',
    description: 'also listen on host:port for the API (needs apiToken)',
  },
  {
    key: 'apiToken',
    type: 'string',
    default: null,
    env: 'BERTH_API_TOKEN',
    description: 'bearer token required on the TCP API',
  },
  {
    key: 'bridge',
    type: 'string',
    default: 'berth0',
    env: 'BERTH_BRIDGE',
    description: 'name of the default bridge network',
  },
  {
    key: 'subnet',
    type: 'string',
    default: '10.88.0.0/16',
    env: 'BERTH_SUBNET',
    description: 'IPv4 subnet of the default bridge',
  },
  {
    key: 'ociRuntime',
    type: 'enum',
    values: ['auto', 'runc', 'crun'],
    default: 'auto',
    env: 'BERTH_OCI_RUNTIME',
    description: 'OCI runtime; auto picks crun on pure cgroup v2 hosts, runc otherwise',
  },
  {
    key: 'stopTimeout',
    type: 'duration',
    default: '10s',
    description: 'default grace period between the stop signal and SIGKILL',
  },
];

export interface AgentConfig {
  socket: string;
  stateRoot: string;
  runDir: string;
  logLevel: string;
  apiTcp?: string;
  apiToken?: string;
  bridge: string;
  subnet: string;
  ociRuntime: 'auto' | 'runc' | 'crun';
  stopTimeout: number;
}

/** Flags as commander gives them (camelCase of the long option). */
export async function loadAgentConfig(
  flags: Record<string, string | undefined>,
  env = process.env,
): Promise<AgentConfig> {
  let file: ConfigValues = {};
  if (flags.config) {
    try {
      file = JSON.parse(await readFile(flags.config, 'utf8')) as ConfigValues;
    } catch (err) {
      throw new InvalidArgumentError(`--config: cannot read ${flags.config}: ${messageOf(err)}`, {
        field: 'config',
      });
    }
    if (!file || typeof file !== 'object' || Array.isArray(file)) {
      throw new InvalidArgumentError(`--config: ${flags.config} must hold a JSON object`, {
        field: 'config',
      });
    }
  }
  const fromFlags: ConfigValues = {};
  for (const [k, v] of Object.entries(flags)) if (k !== 'config' && v !== undefined) fromFlags[k] = v;
  const v = validateConfig(AGENT_CONFIG, [file, fromFlags], { env });
  if (v.apiTcp && !v.apiToken) {
    throw new InvalidArgumentError('apiToken: the TCP API (apiTcp) needs a token; set BERTH_API_TOKEN', {
      field: 'apiToken',
    });
  }
  if (v.apiTcp && !/^[^:]+:\d+$/.test(String(v.apiTcp))) {
    throw new InvalidArgumentError(`apiTcp: must be host:port, got ${JSON.stringify(v.apiTcp)}`, {
      field: 'apiTcp',
    });
  }
  return v as unknown as AgentConfig;
}
