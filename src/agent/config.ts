import { readFile } from 'node:fs/promises';
import { type HostPort, isLoopbackHost, parseHostPort } from '../../runtime/base/address.js';
import { type ConfigTable, type ConfigValues, validateConfig } from '../../runtime/base/config.js';
import { InvalidArgumentError, messageOf } from '../../runtime/base/errors.js';

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
    key: 'apiTlsCert',
    type: 'string',
    default: null,
    env: 'BERTH_API_TLS_CERT',
    description: 'PEM certificate (chain) the TCP API serves TLS with (needs apiTlsKey)',
  },
  {
    key: 'apiTlsKey',
    type: 'string',
    default: null,
    env: 'BERTH_API_TLS_KEY',
    description: 'PEM private key of apiTlsCert',
  },
  {
    key: 'apiTlsClientCa',
    type: 'string',
    default: null,
    env: 'BERTH_API_TLS_CLIENT_CA',
    description: 'PEM CA: TCP API clients must present a certificate it signed (mutual TLS)',
  },
  {
    key: 'apiTcpInsecure',
    type: 'bool',
    default: false,
    description:
      'allow apiTcp on an address that is not loopback without TLS (the token then crosses the network in clear text)',
  },
  {
    key: 'imageMaxLayerBytes',
    type: 'bytes',
    default: '16g',
    min: 1,
    description:
      'most bytes one image layer may unpack to (a gzip bomb fails the pull or load here; runtime/image/README.md)',
  },
  {
    key: 'imageMaxLayerEntries',
    type: 'int',
    default: 1_000_000,
    min: 1,
    description: 'most files, dirs and links one image layer may hold (bounds inode use)',
  },
  {
    key: 'imageMinFreeBytes',
    type: 'bytes',
    default: '512m',
    description: 'free space the image store keeps: a layer or archive that would eat into it is refused',
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
    key: 'nodeName',
    type: 'string',
    default: null,
    env: 'BERTH_NODE_NAME',
    description: "this host's name in the catalog and in log records (default: the host name)",
  },
  {
    key: 'metricsListen',
    type: 'string',
    default: '127.0.0.1:9338',
    env: 'BERTH_METRICS_LISTEN',
    description: 'host:port of the Prometheus /metrics endpoint ("" turns it off)',
  },
  {
    key: 'dnsListen',
    type: 'string[]',
    default: ['127.0.0.1:53'],
    env: 'BERTH_DNS_LISTEN',
    description: 'addresses (ip:port) of the embedded DNS server besides the bridge gateway ("" for none)',
  },
  {
    key: 'dnsOnBridge',
    type: 'bool',
    default: true,
    description:
      "also answer DNS on the bridge gateway's port 53, which bridge containers' resolv.conf points at (searching dnsDomain, so containers reach each other by name); off: they get the host's resolvers less the loopback ones",
  },
  {
    key: 'dnsDomain',
    type: 'string',
    default: 'consul.',
    description: 'domain the embedded DNS answers for (<svc>.service.<domain>, <container>.<domain>)',
  },
  {
    key: 'dnsUpstreams',
    type: 'string[]',
    default: [],
    env: 'BERTH_DNS_UPSTREAMS',
    description: "resolvers other names are forwarded to (default: the host's /etc/resolv.conf)",
  },
  {
    key: 'consul',
    type: 'string',
    default: null,
    env: 'CONSUL_HTTP_ADDR',
    description: 'Consul HTTP address (host:port or https://host:port); without it the catalog is local',
  },
  {
    key: 'consulToken',
    type: 'string',
    default: null,
    env: 'CONSUL_HTTP_TOKEN',
    description: 'Consul ACL token',
  },
  {
    key: 'datacenter',
    type: 'string',
    default: 'dc1',
    description: 'datacenter name used in DNS names and the local catalog',
  },
  {
    key: 'fluentd',
    type: 'string[]',
    default: [],
    env: 'BERTH_FLUENTD',
    description: 'Fluentd Forward receivers (host[:port], failover in order); none turns shipping off',
  },
  {
    key: 'hostIp',
    type: 'string',
    default: null,
    env: 'BERTH_HOST_IP',
    description: "address registered for published ports (default: the host's first non-loopback IPv4)",
  },
  {
    key: 'registerAddress',
    type: 'enum',
    values: ['published', 'container'],
    default: 'published',
    description:
      "published: register host IP and published ports (Registrator's default); container: the container's own address and ports",
  },
  {
    key: 'haproxy',
    type: 'enum',
    values: ['managed', 'external', 'off'],
    default: 'managed',
    env: 'BERTH_HAPROXY',
    description:
      'managed: berth runs and supervises its own HAProxy for services labelled berth.lb.port; external: drive one given in the haproxy section; off',
  },
  {
    key: 'insecureRegistries',
    type: 'string[]',
    default: [],
    env: 'BERTH_INSECURE_REGISTRIES',
    description:
      "registries (host[:port]) pulled over plain HTTP or unverified TLS, like Docker's insecure-registries",
  },
  {
    key: 'logMaxSize',
    type: 'bytes',
    default: '10m',
    env: 'BERTH_LOG_MAX_SIZE',
    description:
      "rotate a container's log file at this size (conmon --log-size-max), which bounds its disk use (kubelet's default; see sidecar/logs/README.md); 0 never. conmon keeps no old file: only the log shipper sees rotated lines",
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
  apiTlsCert?: string;
  apiTlsKey?: string;
  apiTlsClientCa?: string;
  apiTcpInsecure: boolean;
  imageMaxLayerBytes: number;
  imageMaxLayerEntries: number;
  imageMinFreeBytes: number;
  bridge: string;
  subnet: string;
  ociRuntime: 'auto' | 'runc' | 'crun';
  stopTimeout: number;
  nodeName?: string;
  metricsListen: string;
  dnsListen: string[];
  dnsOnBridge: boolean;
  dnsDomain: string;
  dnsUpstreams: string[];
  consul?: string;
  consulToken?: string;
  datacenter: string;
  fluentd: string[];
  insecureRegistries: string[];
  hostIp?: string;
  registerAddress: 'published' | 'container';
  haproxy: 'managed' | 'external' | 'off';
  logMaxSize: number;
  /** Per-sidecar sections of the config file (`metrics`, `logs`), validated by each sidecar's own table. */
  sections: Record<string, ConfigValues>;
}

/** Config-file sections handed to a sidecar's own config table. */
export const CONFIG_SECTIONS = ['metrics', 'logs', 'haproxy'] as const;

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
  const sections: Record<string, ConfigValues> = {};
  for (const name of CONFIG_SECTIONS) {
    const sec = file[name];
    if (sec === undefined) continue;
    if (!sec || typeof sec !== 'object' || Array.isArray(sec)) {
      throw new InvalidArgumentError(`${name}: must be an object of ${name}.* options`, { field: name });
    }
    sections[name] = sec as ConfigValues;
    delete file[name];
  }
  const fromFlags: ConfigValues = {};
  for (const [k, v] of Object.entries(flags)) if (k !== 'config' && v !== undefined) fromFlags[k] = v;
  const v = validateConfig(AGENT_CONFIG, [file, fromFlags], { env });
  if (v.apiTcp && !v.apiToken) {
    throw new InvalidArgumentError('apiToken: the TCP API (apiTcp) needs a token; set BERTH_API_TOKEN', {
      field: 'apiToken',
    });
  }
  if (v.apiTcp) {
    const { host } = apiTcpAddress(String(v.apiTcp));
    if (!v.apiTlsCert && !v.apiTcpInsecure && !isLoopbackHost(host)) {
      throw new InvalidArgumentError(
        `apiTcp: ${host} is not loopback: without TLS the API token would cross the network in clear text; set apiTlsCert and apiTlsKey (and apiTlsClientCa for mutual TLS), or apiTcpInsecure to force it`,
        { field: 'apiTcp' },
      );
    }
  }
  if (
    (v.apiTlsCert === undefined || v.apiTlsCert === null) !==
    (v.apiTlsKey === undefined || v.apiTlsKey === null)
  ) {
    const missing = v.apiTlsCert ? 'apiTlsKey' : 'apiTlsCert';
    throw new InvalidArgumentError(`${missing}: apiTlsCert and apiTlsKey go together`, { field: missing });
  }
  if (v.apiTlsClientCa && !v.apiTlsCert) {
    throw new InvalidArgumentError('apiTlsClientCa: mutual TLS needs apiTlsCert and apiTlsKey too', {
      field: 'apiTlsClientCa',
    });
  }
  return { ...(v as unknown as AgentConfig), sections };
}

/** `apiTcp` as host and port (`[v6]:port` too); an InvalidArgumentError naming apiTcp otherwise. */
export function apiTcpAddress(value: string): HostPort {
  return parseHostPort(value, { field: 'apiTcp', minPort: 0, example: '127.0.0.1:2375' });
}
