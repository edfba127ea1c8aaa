import { type ConfigOf, defineConfig } from '../../runtime/base/config.js';

/**
 * The agent's top-level options (flags, env, config file); the sidecars'
 * sections have their own tables (src/agent/config.ts lists them). Keys are
 * camelCase, as in every table (runtime/base/README.md), and become flags
 * kebab-cased (`stateRoot` → `--state-root`). Precedence: flags > environment
 * > config file > defaults (the defaults are here and nowhere else).
 */
export const AGENT_CONFIG = defineConfig([
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
    description: "the agent's own log level",
  },
  {
    key: 'logFormat',
    type: 'enum',
    values: ['auto', 'json', 'pretty'],
    default: 'auto',
    env: 'BERTH_LOG_FORMAT',
    description:
      "the agent's own log on stderr: pretty lines on a terminal and JSON otherwise (auto), or always one",
  },
  {
    key: 'demo',
    type: 'string',
    default: null,
    env: 'BERTH_DEMO',
    description:
      'a Compose file brought up as project "demo" once the agent is ready (npm start: demo/compose.yaml; "" or 0: none); its berth-demo images come from the set-up\'s demo build',
  },
  {
    key: 'projectsDir',
    type: 'string',
    default: null,
    env: 'BERTH_PROJECTS_DIR',
    description:
      'a directory of Compose projects kept up (each *.yaml in it, or a subdirectory with compose.yaml): a file added or changed is applied, removed is taken down; an invalid one changes nothing',
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
    key: 'networkPool',
    type: 'string',
    default: '10.89.0.0/16',
    env: 'BERTH_NETWORK_POOL',
    description: 'IPv4 range user-defined networks take their /24 subnets from (runtime/network/README.md)',
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
      "rotate a container's log file at this size (kubelet's containerLogMaxSize default); 0 never. berth renames it to <file>.1 (one old file is kept; berth logs shows both) and has conmon start a new one. While the log shipper has not acknowledged the old .1 the rotation waits, up to 4 x this for both files together; past that the old file is replaced anyway, counted in berth_log_old_files_dropped_total and logged (sidecar/logs/README.md, Rotation)",
  },
  {
    key: 'stopTimeout',
    type: 'duration',
    default: '10s',
    description: 'default grace period between the stop signal and SIGKILL',
  },
  {
    key: 'mode',
    type: 'enum',
    values: ['run', 'observe', 'both'],
    default: 'run',
    env: 'BERTH_MODE',
    description:
      "run: the sidecars follow berth's own containers; observe: the containers Docker, containerd or the kubelet run on the host (runtime/source/observe), and berth creates no bridge; both: the two together",
  },
  {
    key: 'hostRoot',
    type: 'string',
    default: null,
    env: 'BERTH_HOST_ROOT',
    description:
      "observe mode: where the host's / is mounted (a DaemonSet: /host): its proc, sys/fs/cgroup, var/lib/docker and var/log are read there, and metrics.roots defaults to them",
  },
  {
    key: 'dockerRoot',
    type: 'string',
    default: null,
    description: "observe mode: Docker's data root (default <hostRoot>/var/lib/docker)",
  },
  {
    key: 'hostLogRoot',
    type: 'string',
    default: null,
    description:
      "observe mode: the host's /var/log, with the kubelet's pods/ and containers/ (default <hostRoot>/var/log)",
  },
  {
    key: 'observeSkipCgroups',
    type: 'string[]',
    default: ['/berth'],
    description:
      "observe mode: cgroup parents whose containers are not observed (berth's own runtime reports /berth's in --mode both)",
  },
  {
    key: 'observeRescanInterval',
    type: 'duration',
    default: '5s',
    description: 'observe mode: full rescan period, the fallback for changes inotify missed',
  },
  {
    key: 'servicesDir',
    type: 'string',
    default: null,
    description:
      'a directory of service definitions in Consul\'s own JSON format ({"service": {…}} or {"services": […]}), watched and registered in the catalog',
  },
]);

/** Validated top-level options, typed from the table. */
export type AgentOptions = ConfigOf<typeof AGENT_CONFIG>;
