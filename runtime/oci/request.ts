import { type Static, Type } from '@sinclair/typebox';
import { Notation, REASON, StringEnum } from '../base/schema.js';

/**
 * The container create request (`POST /v1/containers`, `berth run`'s body):
 * its shape declared once. The API checks it as the route's body schema and
 * the runtime checks it again for callers that do not come through the API
 * (runtime/oci/validate.ts). Values stay in Docker's notation (`64m`,
 * `8080:80`, `/data:/data:ro`, `30s`): the notation parsers in parse.ts,
 * volumes.ts and security-opts.ts read them, and the checks that need more
 * than one field or the image are in validate.ts.
 */

const strings = (description: string) => Type.Array(Type.String(), { description });

/** `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters; a leading `/` (Docker's spelling) is dropped. */
export const NAME_PATTERN = '^/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$';
/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
export const HOSTNAME_PATTERN =
  '^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$';
const USER_PATTERN = '^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*(:[a-zA-Z0-9_.][a-zA-Z0-9_.-]*)?$';
/** Absolute, without `..` segments or NUL (parse.ts `isAbsoluteClean`). */
const ABSOLUTE_CLEAN_PATTERN = '^/(?!(?:[\\s\\S]*/)?\\.\\.(?:/|$))[^\\u0000]*$';

/** A user-defined network name (`berth network create NAME`): as a container name, at most 64 characters. */
export const NETWORK_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$';
/** A network alias: a DNS name of labels of letters, digits, `_` and `-` (what Compose allows in service names). */
export const NETWORK_ALIAS_PATTERN =
  '^(?=.{1,253}$)[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(\\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*$';

/** One network a container joins (`--network NAME --network-alias A`, Compose `networks:`). */
export const NetworkAttachRequest = Type.Object(
  {
    name: Type.String({
      pattern: NETWORK_NAME_PATTERN,
      [REASON]: 'must be a network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters), got {value}',
    }),
    aliases: Type.Optional(
      Type.Array(
        Type.String({
          pattern: NETWORK_ALIAS_PATTERN,
          [REASON]: 'must be a DNS name (letters, digits, _ and - in dot-separated labels), got {value}',
        }),
        { maxItems: 64, description: 'more names this container answers to on this network' },
      ),
    ),
  },
  { additionalProperties: false, [REASON]: 'unknown key (known: name, aliases)' },
);
export type NetworkAttachRequest = Static<typeof NetworkAttachRequest>;

export const HEALTH_KEYS = ['test', 'interval', 'timeout', 'retries', 'startPeriod'] as const;

export const HealthcheckRequest = Type.Object(
  {
    test: Type.Optional(
      Type.Union(
        [
          Type.Array(Type.String()),
          Type.Object({ http: Type.String() }),
          Type.Object({ tcp: Type.Integer() }),
        ],
        {
          description: 'the probe; absent: the image healthcheck test',
          [REASON]:
            'must be ["CMD", arg...], ["CMD-SHELL", "command"], ["NONE"], {"http": "http://..."} or {"tcp": port}, got {value}',
        },
      ),
    ),
    interval: Type.Optional(Notation('Go duration (30s, 1m30s) or milliseconds')),
    timeout: Type.Optional(Notation('Go duration or milliseconds')),
    retries: Type.Optional(Notation('consecutive failures before unhealthy, at least 1')),
    startPeriod: Type.Optional(Notation('Go duration or milliseconds')),
  },
  {
    additionalProperties: false,
    description: 'overlays the image healthcheck field by field',
    [REASON]: `unknown key (known: ${HEALTH_KEYS.join(', ')})`,
  },
);

export const CreateRequest = Type.Object(
  {
    image: Type.String({
      pattern: '\\S',
      description: 'image reference (busybox, reg:5000/app@sha256:...)',
      [REASON]: 'an image reference is required',
    }),
    name: Type.Optional(
      Type.String({
        pattern: NAME_PATTERN,
        [REASON]: 'must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters), got {value}',
      }),
    ),
    cmd: Type.Optional(strings('replaces the image Cmd; empty: the image Cmd')),
    entrypoint: Type.Optional(strings('replaces the image Entrypoint and clears its Cmd')),
    env: Type.Optional(strings('KEY=VALUE over the image env; a bare KEY removes it')),
    labels: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'over the image labels' }),
    ),
    ports: Type.Optional(
      strings('[ip:]hostPort:containerPort[/tcp|udp], ip::containerPort or containerPort'),
    ),
    volumes: Type.Optional(strings('/host:/ctr[:ro|rw], name:/ctr[:ro|rw] or /ctr (anonymous)')),
    tmpfs: Type.Optional(strings('/dst[:options]')),
    extraHosts: Type.Optional(strings('HOST:IP lines for /etc/hosts')),
    network: Type.Optional(
      StringEnum(['none', 'host', 'bridge'] as const, 'must be none, host or bridge, got {value}'),
    ),
    networks: Type.Optional(
      Type.Array(NetworkAttachRequest, {
        maxItems: 32,
        description:
          'networks to join, the first one carries the default route and published ports (default: [{"name": "bridge"}]); only with network bridge',
      }),
    ),
    hostname: Type.Optional(
      Type.String({ pattern: HOSTNAME_PATTERN, [REASON]: '{value} is not a valid hostname (RFC 1123)' }),
    ),
    user: Type.Optional(
      Type.String({ pattern: USER_PATTERN, [REASON]: 'must be uid[:gid] or name[:group], got {value}' }),
    ),
    workdir: Type.Optional(
      Type.String({ pattern: ABSOLUTE_CLEAN_PATTERN, [REASON]: 'must be an absolute path, got {value}' }),
    ),
    readOnly: Type.Optional(Type.Boolean({ description: 'read-only root filesystem' })),
    privileged: Type.Optional(Type.Boolean()),
    capAdd: Type.Optional(strings('capability names (CHOWN, CAP_CHOWN, ALL)')),
    capDrop: Type.Optional(strings('capability names (CHOWN, CAP_CHOWN, ALL)')),
    securityOpt: Type.Optional(strings('no-new-privileges[:true|false], seccomp=unconfined|<path>')),
    memory: Type.Optional(Notation('size (512m, 1g) or bytes; at least 6m')),
    memorySwap: Type.Optional(Notation('memory plus swap as a size, or -1 for unlimited')),
    cpus: Type.Optional(Notation('CPUs, 0.01 to the host count')),
    cpusetCpus: Type.Optional(Type.String({ description: 'CPU list: 0-1, 0,2' })),
    pidsLimit: Type.Optional(Notation('positive integer, or -1 for unlimited')),
    ulimits: Type.Optional(strings('NAME=SOFT[:HARD]')),
    restart: Type.Optional(Type.String({ description: 'no, on-failure[:N], always or unless-stopped' })),
    autoRemove: Type.Optional(Type.Boolean({ description: 'remove the container when it exits (--rm)' })),
    stopSignal: Type.Optional(Notation('signal name or number (SIGTERM, TERM, 15)')),
    stopTimeout: Type.Optional(Notation('seconds from 0 to 86400 (default 10)')),
    healthcheck: Type.Optional(HealthcheckRequest),
  },
  { additionalProperties: false, description: 'a container create request, in Docker notation' },
);
export type CreateRequest = Static<typeof CreateRequest>;
export type HealthcheckRequest = Static<typeof HealthcheckRequest>;
