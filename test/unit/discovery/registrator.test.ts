import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContainerDescriptor, PortMapping } from '../../../runtime/types.js';
import {
  defaultServiceName,
  type HostFacts,
  registrationsFor,
  serviceInstancesFor,
} from '../../../sidecar/discovery/registrator.js';
import { descriptor } from './registrar-fixtures.js';

const ID = 'a'.repeat(64);

const pub = (
  containerPort: number,
  hostPort: number,
  protocol: 'tcp' | 'udp' = 'tcp',
  hostIp = '0.0.0.0',
): PortMapping => ({
  containerPort,
  hostPort,
  protocol,
  hostIp,
});
const exposed = (containerPort: number, protocol: 'tcp' | 'udp' = 'tcp'): PortMapping => ({
  containerPort,
  hostPort: 0,
  protocol,
  hostIp: '',
});

const host: HostFacts = { nodeName: 'hostname', hostIp: '192.0.2.10' };

describe('registrator conventions: defaults', () => {
  test('single published port: the documented redis example (name from image, id host:container:port)', () => {
    const [s, ...rest] = serviceInstancesFor(descriptor({ ports: [pub(6379, 32768)] }), host);
    assert.equal(rest.length, 0);
    assert.deepEqual(s, {
      id: 'hostname:redis1:6379',
      service: 'redis',
      tags: [],
      meta: { 'berth-container': ID },
      address: '192.0.2.10',
      port: 32768,
      node: 'hostname',
      health: 'passing',
      containerId: ID,
    });
  });

  test('several published ports: one service per port, named <image>-<port> (documented nginx example)', () => {
    const c = descriptor({
      name: 'nginx1',
      image: 'nginx',
      imageName: 'nginx',
      ports: [pub(443, 443), pub(80, 80)],
    });
    const s = serviceInstancesFor(c, host);
    assert.deepEqual(
      s.map((i) => [i.id, i.service, i.port]),
      [
        ['hostname:nginx1:80', 'nginx-80', 80],
        ['hostname:nginx1:443', 'nginx-443', 443],
      ],
    );
  });

  test('image base name drops registry, path, tag and digest', () => {
    assert.equal(defaultServiceName({ image: 'reg:5000/team/app:1', imageName: '' }), 'app');
    assert.equal(defaultServiceName({ image: 'reg:5000/team/app:1', imageName: 'reg:5000/team/app' }), 'app');
    assert.equal(defaultServiceName({ image: 'busybox@sha256:abcd', imageName: '' }), 'busybox');
    assert.equal(defaultServiceName({ image: 'localhost:5000/x@sha256:ab', imageName: '' }), 'x');
    assert.equal(defaultServiceName({ image: 'ubuntu', imageName: '' }), 'ubuntu');
  });

  test('unpublished ports are not services by default; a container with none registers nothing, even with SERVICE_NAME', () => {
    assert.deepEqual(serviceInstancesFor(descriptor({ ports: [exposed(6379)] }), host), []);
    assert.deepEqual(serviceInstancesFor(descriptor({ ports: [], env: { SERVICE_NAME: 'db' } }), host), []);
    // One published, one only exposed: a single service, so no port suffix.
    const s = serviceInstancesFor(descriptor({ ports: [pub(80, 8080), exposed(9000)] }), host);
    assert.deepEqual(
      s.map((i) => [i.service, i.port]),
      [['redis', 8080]],
    );
  });

  test('udp ports get ":udp" in the id and a "udp" tag', () => {
    const s = serviceInstancesFor(
      descriptor({
        name: 'dns1',
        image: 'coredns',
        imageName: 'coredns',
        ports: [pub(53, 53, 'udp'), pub(53, 53)],
      }),
      host,
    );
    assert.deepEqual(
      s.map((i) => [i.id, i.service, i.tags]),
      [
        ['hostname:dns1:53', 'coredns-53', []],
        ['hostname:dns1:53:udp', 'coredns-53', ['udp']],
      ],
    );
  });

  test('a port published on a specific address is registered at that address; wildcard at the host IP', () => {
    const s = serviceInstancesFor(
      descriptor({ ports: [pub(80, 8080, 'tcp', '198.51.100.7'), pub(81, 8081, 'tcp', '::')] }),
      host,
    );
    assert.deepEqual(
      s.map((i) => [i.address, i.port]),
      [
        ['198.51.100.7', 8080],
        ['192.0.2.10', 8081],
      ],
    );
  });

  test('duplicate bindings of one port (v4 and v6) make one service, first binding wins', () => {
    const s = serviceInstancesFor(descriptor({ ports: [pub(80, 8080), pub(80, 8080, 'tcp', '::')] }), host);
    assert.equal(s.length, 1);
    assert.equal(s[0]?.service, 'redis');
  });

  test('host network mode: exposed ports are host ports', () => {
    const s = serviceInstancesFor(
      descriptor({ networkMode: 'host', addresses: {}, ports: [exposed(8500), pub(8600, 8600, 'udp')] }),
      host,
    );
    assert.deepEqual(
      s.map((i) => [i.id, i.address, i.port]),
      [
        ['hostname:redis1:8500', '192.0.2.10', 8500],
        ['hostname:redis1:8600:udp', '192.0.2.10', 8600],
      ],
    );
  });

  test("address 'container': the container's address and exposed ports, published or not", () => {
    const c = descriptor({ ports: [pub(80, 8080), exposed(9000)], addresses: { bridge: '10.88.0.5' } });
    const s = serviceInstancesFor(c, { ...host, address: 'container' });
    assert.deepEqual(
      s.map((i) => [i.id, i.service, i.address, i.port]),
      [
        ['hostname:redis1:80', 'redis-80', '10.88.0.5', 80],
        ['hostname:redis1:9000', 'redis-9000', '10.88.0.5', 9000],
      ],
    );
    // No address on any network (network mode none): nothing to register.
    assert.deepEqual(
      serviceInstancesFor(descriptor({ networkMode: 'none', addresses: {}, ports: [exposed(80)] }), {
        ...host,
        address: 'container',
      }),
      [],
    );
  });

  test('host tags (Registrator -tags) are appended to every service', () => {
    const s = serviceInstancesFor(descriptor({ ports: [pub(80, 80)], env: { SERVICE_TAGS: 'a' } }), {
      ...host,
      tags: ['dc-east', 'a'],
    });
    assert.deepEqual(s[0]?.tags, ['a', 'dc-east']);
  });

  test('explicit mode registers only named services', () => {
    const c = descriptor({ ports: [pub(80, 80), pub(81, 81)], labels: { SERVICE_81_NAME: 'admin' } });
    const s = serviceInstancesFor(c, { ...host, explicit: true });
    assert.deepEqual(
      s.map((i) => i.service),
      ['admin'],
    );
  });
});

describe('registrator conventions: container overrides', () => {
  test('SERVICE_NAME, SERVICE_TAGS, SERVICE_ID and attributes (documented example)', () => {
    const c = descriptor({
      ports: [pub(80, 8000)],
      env: {
        SERVICE_NAME: 'customerdb',
        SERVICE_TAGS: 'master, backups ,,',
        SERVICE_ID: 'customerdb-1',
        SERVICE_REGION: 'us-east',
        SERVICE_Owner_Team: 'infra',
        NOT_A_SERVICE: 'x',
      },
    });
    const [s] = serviceInstancesFor(c, host);
    assert.equal(s?.service, 'customerdb');
    assert.equal(s?.id, 'customerdb-1');
    assert.deepEqual(s?.tags, ['master', 'backups']);
    assert.deepEqual(s?.meta, { region: 'us-east', owner_team: 'infra', 'berth-container': ID });
  });

  test('SERVICE_<port>_NAME names that port without a suffix; others keep <name>-<port>', () => {
    const c = descriptor({
      image: 'myapp',
      imageName: 'myapp',
      ports: [pub(80, 8080), pub(8443, 8443)],
      env: { SERVICE_NAME: 'web', SERVICE_80_NAME: 'api', SERVICE_80_TAGS: 'public' },
    });
    const s = serviceInstancesFor(c, host);
    assert.deepEqual(
      s.map((i) => [i.service, i.tags]),
      [
        ['api', ['public']],
        ['web-8443', []],
      ],
    );
  });

  test('labels win over env; a port-specific key wins over the generic one whatever its source', () => {
    const c = descriptor({
      ports: [pub(80, 8080)],
      env: { SERVICE_NAME: 'from-env', SERVICE_80_TAGS: 'env-port', SERVICE_REGION: 'env' },
      labels: { SERVICE_NAME: 'from-label', SERVICE_TAGS: 'label-generic', SERVICE_REGION: 'label' },
    });
    const [s] = serviceInstancesFor(c, host);
    assert.equal(s?.service, 'from-label');
    assert.deepEqual(s?.tags, ['env-port']);
    assert.equal(s?.meta.region, 'label');
  });

  test("SERVICE_<port>_X for another port does not leak; a port key's attribute is meta", () => {
    const c = descriptor({
      ports: [pub(80, 8080)],
      labels: { SERVICE_81_NAME: 'other', SERVICE_80_REGION: 'eu', SERVICE_080_ZONE: 'z' },
    });
    const [s] = serviceInstancesFor(c, host);
    assert.equal(s?.service, 'redis');
    // The port is matched as written, as Registrator does: `080` is not `80`.
    assert.deepEqual(s?.meta, { region: 'eu', 'berth-container': ID });
  });

  test('SERVICE_IGNORE skips the container; SERVICE_<port>_IGNORE only that port (suffixes stay)', () => {
    assert.deepEqual(
      serviceInstancesFor(descriptor({ ports: [pub(80, 80)], labels: { SERVICE_IGNORE: 'true' } }), host),
      [],
    );
    assert.deepEqual(
      serviceInstancesFor(descriptor({ ports: [pub(80, 80)], env: { SERVICE_IGNORE: 'yes' } }), host),
      [],
    );
    // An explicit "false" does not ignore (Registrator would: any value ignores).
    assert.equal(
      serviceInstancesFor(descriptor({ ports: [pub(80, 80)], env: { SERVICE_IGNORE: 'false' } }), host)
        .length,
      1,
    );
    const s = serviceInstancesFor(
      descriptor({ ports: [pub(80, 80), pub(81, 81)], env: { SERVICE_81_IGNORE: '1' } }),
      host,
    );
    assert.deepEqual(
      s.map((i) => i.service),
      ['redis-80'],
    );
  });

  test('SERVICE_<port>_ID names that instance; a generic SERVICE_ID over several ports stays unique per port', () => {
    const c = descriptor({
      ports: [pub(80, 80), pub(81, 81, 'udp')],
      env: { SERVICE_ID: 'x', SERVICE_80_ID: 'web-a' },
    });
    assert.deepEqual(
      serviceInstancesFor(c, host).map((i) => i.id),
      ['web-a', 'x:81:udp'],
    );
  });

  test('berth.lb.* labels are copied into meta as berth-lb-*; berth-container is the container id', () => {
    const c = descriptor({
      ports: [pub(80, 80)],
      labels: {
        'berth.lb.mode': 'http',
        'berth.lb.port': '8080',
        'berth.lb.health.path': '/ok',
        'berth.other': 'x',
      },
    });
    const [s] = serviceInstancesFor(c, host);
    assert.deepEqual(s?.meta, {
      'berth-lb-mode': 'http',
      'berth-lb-port': '8080',
      'berth-lb-health-path': '/ok',
      'berth-container': ID,
    });
  });

  test('meta keys Consul cannot store and over-long values are left out with a warning', () => {
    const c = descriptor({
      ports: [pub(80, 80)],
      labels: { 'SERVICE_a.b': 'x', SERVICE_BIG: 'y'.repeat(600), SERVICE_OK: 'fine' },
    });
    const [r] = registrationsFor(c, host);
    assert.deepEqual(r?.instance.meta, { ok: 'fine', 'berth-container': ID });
    assert.equal(r?.warnings.length, 2);
    assert.match(r?.warnings.join('\n') ?? '', /a\.b.*\[A-Za-z0-9_-\]/);
    assert.match(r?.warnings.join('\n') ?? '', /SERVICE_BIG.*512/);
  });
});

describe('registrator conventions: checks and initial health', () => {
  const c = (env: Record<string, string>, o: Partial<ContainerDescriptor> = {}): ContainerDescriptor =>
    descriptor({ ports: [pub(80, 8080)], env, ...o });

  test('SERVICE_CHECK_HTTP targets the registered address and port, with interval and timeout (documented example)', () => {
    const [r] = registrationsFor(
      c({
        SERVICE_80_CHECK_HTTP: '/health/endpoint/path',
        SERVICE_80_CHECK_INTERVAL: '15s',
        SERVICE_80_CHECK_TIMEOUT: '1s',
      }),
      host,
    );
    assert.deepEqual(r?.check, {
      kind: 'http',
      url: 'http://192.0.2.10:8080/health/endpoint/path',
      interval: '15s',
      timeout: '1s',
    });
    // Check settings are not meta.
    assert.deepEqual(r?.instance.meta, { 'berth-container': ID });
    // berth runs the check; until it has: Consul's default for a new check.
    assert.equal(r?.instance.health, 'critical');
    assert.deepEqual(r?.warnings, []);
  });

  test('HTTPS, TCP with default 10s interval; the container address with address=container', () => {
    assert.deepEqual(registrationsFor(c({ SERVICE_CHECK_HTTPS: '/ok' }), host)[0]?.check, {
      kind: 'https',
      url: 'https://192.0.2.10:8080/ok',
      interval: '10s',
    });
    assert.deepEqual(
      registrationsFor(c({ SERVICE_CHECK_TCP: 'true' }), { ...host, address: 'container' })[0]?.check,
      {
        kind: 'tcp',
        address: '10.88.0.5:80',
        interval: '10s',
      },
    );
  });

  test('SCRIPT expands $SERVICE_IP/$SERVICE_PORT (and warns: berth does not run it); TTL', () => {
    const [s] = registrationsFor(c({ SERVICE_CHECK_SCRIPT: 'nc $SERVICE_IP $SERVICE_PORT | grep OK' }), host);
    assert.deepEqual(s?.check, { kind: 'script', script: 'nc 192.0.2.10 8080 | grep OK', interval: '10s' });
    assert.match(s?.warnings.join() ?? '', /SERVICE_CHECK_SCRIPT is not run by berth/);
    assert.equal(s?.instance.health, 'passing');
    const [t] = registrationsFor(c({ SERVICE_CHECK_TTL: '30s' }), host);
    assert.deepEqual(t?.check, { kind: 'ttl', ttl: '30s' });
  });

  test('only the first check kind counts (http before tcp), as Registrator', () => {
    const [r] = registrationsFor(c({ SERVICE_CHECK_TCP: 'true', SERVICE_CHECK_HTTP: '/' }), host);
    assert.equal(r?.check?.kind, 'http');
  });

  test('SERVICE_CHECK_INITIAL_STATUS sets the health until the runtime has a verdict', () => {
    const [r] = registrationsFor(
      c({ SERVICE_CHECK_TTL: '10s', SERVICE_CHECK_INITIAL_STATUS: 'passing' }, { health: 'starting' }),
      host,
    );
    assert.equal(r?.check?.initialStatus, 'passing');
    assert.equal(r?.instance.health, 'passing');
    const [bad] = registrationsFor(
      c({ SERVICE_CHECK_TTL: '10s', SERVICE_CHECK_INITIAL_STATUS: 'green' }, { health: 'starting' }),
      host,
    );
    assert.equal(bad?.instance.health, 'critical');
    assert.match(bad?.warnings.join() ?? '', /green/);
    // Also for a check berth runs, before its first run.
    const [http] = registrationsFor(
      c({ SERVICE_CHECK_HTTP: '/', SERVICE_CHECK_INITIAL_STATUS: 'warning' }),
      host,
    );
    assert.equal(http?.instance.health, 'warning');
  });

  test("the runtime's health check is mirrored: none → passing, starting → critical (or initial status), healthy, unhealthy", () => {
    const h = (health: ContainerDescriptor['health'], env: Record<string, string> = {}) =>
      registrationsFor(c(env, { health }), host)[0]?.instance.health;
    assert.equal(h('none'), 'passing');
    assert.equal(h('starting'), 'critical');
    assert.equal(
      h('starting', { SERVICE_CHECK_TTL: '10s', SERVICE_CHECK_INITIAL_STATUS: 'warning' }),
      'warning',
    );
    assert.equal(h('healthy'), 'passing');
    assert.equal(h('unhealthy'), 'critical');
  });
});
