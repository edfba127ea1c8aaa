/**
 * (About 430 lines: the five value sets are rendered once, in before(), and shared by every check below.)
 * The Helm chart (helm/) with the real helm 4: `helm lint --strict` and
 * `helm template` for the defaults and each non-default value set
 * (values.ts); every rendered object validated against Kubernetes' schemas
 * (kubernetes-models), the ServiceMonitor by the checks below; the DaemonSet's
 * least privilege and mounts as the README states them; the dashboards
 * ConfigMap carrying every dashboards/*.json byte for byte; NOTES.txt; a
 * misspelt or mistyped value refused by the values schema, naming it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse as parseYaml } from 'yaml';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { CHART, find, helm, type K8sObject, NAMESPACE, podOf, ROOT, render } from './chart.js';
import { VALUE_SETS } from './values.js';

/** Kubernetes' own kinds, each checked by its schema in kubernetes-models. */
const MODELS: Record<string, (o: K8sObject) => { validate(): void }> = {
  'apps/v1/DaemonSet': (o) => new DaemonSet(o as never),
  'v1/ConfigMap': (o) => new ConfigMap(o as never),
  'v1/Service': (o) => new Service(o as never),
  'v1/ServiceAccount': (o) => new ServiceAccount(o as never),
};

let dir = '';
const rendered = new Map<string, K8sObject[]>();
before(async () => {
  dir = await tempDir('helm-chart');
  for (const [name, values] of Object.entries(VALUE_SETS)) {
    const { objects, run } = await render(dir, name, values);
    assert.equal(run.code, 0, `${name}: helm template failed: ${run.stderr}`);
    rendered.set(name, objects);
  }
});
after(() => removeDir(dir));

const objectsOf = (name: string): K8sObject[] => {
  const o = rendered.get(name);
  assert.ok(o, `${name} was not rendered`);
  return o;
};

describe('helm lint --strict', () => {
  for (const name of Object.keys(VALUE_SETS)) {
    test(`passes with the ${name} values`, async () => {
      const r = await helm([
        'lint',
        '--strict',
        CHART,
        '--namespace',
        NAMESPACE,
        '--values',
        join(dir, `${name}.values.json`),
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
    });
  }
});

describe('helm template: every object valid against its schema', () => {
  for (const name of Object.keys(VALUE_SETS)) {
    test(`${name} values`, () => {
      const objects = objectsOf(name);
      assert.ok(objects.length >= 2);
      for (const o of objects) {
        const key = `${o.apiVersion}/${o.kind}`;
        if (key === 'monitoring.coreos.com/v1/ServiceMonitor') {
          checkServiceMonitor(o, find(objects, 'Service'));
          continue;
        }
        const model = MODELS[key];
        assert.ok(model, `${key} ${o.metadata.name}: a kind this test does not validate`);
        assert.doesNotThrow(() => model(o).validate(), `${key} ${o.metadata.name}`);
        assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }
      const kinds = objects.map((o) => o.kind).sort();
      assert.ok(
        !kinds.some((k) => /Role/.test(k)),
        `no RBAC: berth never calls the Kubernetes API (${kinds})`,
      );
    });
  }
});

/**
 * kubernetes-models has no prometheus-operator schema (its own package,
 * @kubernetes-models/prometheus-operator, is not a dependency here), so the
 * ServiceMonitor is checked against what the CRD requires of the fields the
 * chart sets, and against the Service it must find: the selector matches the
 * Service's labels in its namespace, the endpoint names a Service port, the
 * durations are Prometheus durations (the CRD's pattern), relabelings name
 * valid labels, and no field outside the CRD's spec is set.
 */
function checkServiceMonitor(sm: K8sObject, service: K8sObject): void {
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  const spec = sm.spec as Record<string, unknown> & {
    selector: { matchLabels: Record<string, string> };
    namespaceSelector: { matchNames: string[] };
    endpoints: Array<Record<string, unknown>>;
  };
  const known = [
    'attachMetadata',
    'endpoints',
    'jobLabel',
    'namespaceSelector',
    'podTargetLabels',
    'sampleLimit',
    'selector',
    'targetLabels',
  ];
  for (const k of Object.keys(spec))
    assert.ok(known.includes(k), `ServiceMonitor spec.${k} is not in the CRD`);
  for (const [k, v] of Object.entries(spec.selector.matchLabels)) {
    assert.equal(service.metadata.labels?.[k], v, `selector ${k}=${v} does not match the Service`);
  }
  assert.deepEqual(spec.namespaceSelector.matchNames, [service.metadata.namespace]);
  const ports = ((service.spec as { ports: Array<{ name: string }> }).ports ?? []).map((p) => p.name);
  const duration =
    /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;
  const endpointKeys = [
    'port',
    'path',
    'interval',
    'scrapeTimeout',
    'honorLabels',
    'relabelings',
    'metricRelabelings',
    'scheme',
  ];
  assert.ok(spec.endpoints.length > 0);
  for (const e of spec.endpoints) {
    for (const k of Object.keys(e)) assert.ok(endpointKeys.includes(k), `endpoint field ${k}`);
    assert.ok(
      ports.includes(String(e.port)),
      `endpoint port ${String(e.port)} is not a Service port (${ports})`,
    );
    assert.match(String(e.interval), duration);
    assert.match(String(e.scrapeTimeout), duration);
    for (const r of [
      ...((e.relabelings as unknown[]) ?? []),
      ...((e.metricRelabelings as unknown[]) ?? []),
    ]) {
      const rule = r as { sourceLabels?: string[]; targetLabel?: string; action?: string };
      for (const l of rule.sourceLabels ?? []) assert.match(l, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
      if (rule.targetLabel !== undefined) assert.match(rule.targetLabel, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
      if (rule.action !== undefined) {
        assert.ok(
          [
            'replace',
            'keep',
            'drop',
            'hashmod',
            'labelmap',
            'labeldrop',
            'labelkeep',
            'lowercase',
            'uppercase',
            'keepequal',
            'dropequal',
          ].includes(rule.action.toLowerCase()),
        );
      }
    }
  }
}

describe('the DaemonSet', () => {
  test('observe mode by default: least privilege, read-only host mounts, nothing more', () => {
    const objects = objectsOf('default');
    const { pod, container } = podOf(objects);
    const args = container.args ?? [];
    assert.deepEqual(args.slice(0, 4), ['--mode', 'observe', '--host-root', '/host']);
    assert.equal(pod.hostNetwork, undefined);
    assert.equal(pod.hostPID, undefined);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepEqual(pod.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
    const sc = container.securityContext;
    assert.equal(sc?.privileged, false);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.deepEqual(sc?.capabilities, { drop: ['ALL'], add: ['DAC_READ_SEARCH', 'SYS_PTRACE'] });
    const hostPaths = Object.fromEntries(
      (pod.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath?.path]),
    );
    assert.deepEqual(hostPaths, {
      state: '/var/lib/berth',
      'host-proc': '/proc',
      'host-cgroup': '/sys/fs/cgroup',
      'host-pod-logs': '/var/log/pods',
      'host-container-logs': '/var/log/containers',
      'host-docker-containers': '/var/lib/docker/containers',
    });
    for (const m of container.volumeMounts ?? []) {
      const writable = ['state', 'run', 'tmp'].includes(m.name);
      assert.equal(
        m.readOnly === true,
        !writable,
        `${m.name} at ${m.mountPath}: ${writable ? 'writable' : 'read-only'}`,
      );
      assert.equal(m.mountPropagation, undefined, `${m.name}: no mount propagation`);
    }
    // berth's state (log positions, spool) survives a pod restart on the node; nothing else is kept.
    assert.equal((pod.volumes ?? []).find((v) => v.name === 'run')?.emptyDir?.medium, 'Memory');
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  });

  test('non-default values reach the pod: tolerations, node selector, host network, NET_BIND_SERVICE for port 53', () => {
    const { pod, container } = podOf(objectsOf('full'));
    assert.equal(container.image, `registry.example/berth@sha256:${'ab'.repeat(32)}`);
    assert.deepEqual(pod.tolerations, VALUE_SETS.full?.tolerations);
    assert.deepEqual(pod.nodeSelector, VALUE_SETS.full?.nodeSelector);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual(pod.securityContext?.appArmorProfile, { type: 'Unconfined' });
    assert.deepEqual(container.securityContext?.capabilities?.add, [
      'DAC_READ_SEARCH',
      'SYS_PTRACE',
      'NET_BIND_SERVICE',
    ]);
    const ports = (container.ports ?? []).map((p) => `${p.name}:${p.containerPort}/${p.protocol}`);
    assert.deepEqual(ports, ['metrics:9100/TCP', 'dns-udp:53/UDP', 'dns-tcp:53/TCP']);
    const secretVolumes = (pod.volumes ?? [])
      .filter((v) => v.secret)
      .map((v) => [v.secret?.secretName, v.secret?.defaultMode]);
    assert.deepEqual(secretVolumes, [
      ['consul-ca', 0o444],
      ['fluentd-ca', 0o444],
      ['fluentd-client', 0o400],
      ['fluentd-shared', 0o400],
      ['fluentd-user', 0o400],
    ]);
    const services = find(objectsOf('full'), 'ConfigMap', '-services').data as Record<string, string>;
    assert.deepEqual(JSON.parse(services['services.json'] ?? ''), { services: VALUE_SETS.full?.services });
    const args = container.args ?? [];
    assert.equal(args[args.indexOf('--services-dir') + 1], '/etc/berth/services');
    assert.equal(
      (pod.volumes ?? []).find((v) => v.name === 'services')?.configMap?.name,
      'obs-berth-services',
    );
    const external = podOf(objectsOf('consul-on-node'));
    assert.equal(
      (external.pod.volumes ?? []).find((v) => v.name === 'services')?.configMap?.name,
      'team-services',
      "servicesConfigMap: the user's ConfigMap, none rendered",
    );
    assert.ok(!objectsOf('consul-on-node').some((o) => o.metadata.name.endsWith('-services')));
    assert.ok(!(podOf(objectsOf('default')).container.args ?? []).includes('--services-dir'));
    const token = (container.env ?? []).find((e) => e.name === 'CONSUL_HTTP_TOKEN');
    assert.deepEqual(
      token?.valueFrom,
      { secretKeyRef: { name: 'consul-acl', key: 'token' } },
      'the token comes from the Secret, never a value',
    );
  });

  test('metrics and DNS off: no ports, probes or Service; sources left out are not mounted', () => {
    const objects = objectsOf('minimal');
    const { pod, container } = podOf(objects);
    assert.equal(container.ports?.length ?? 0, 0);
    assert.equal(container.livenessProbe, undefined);
    assert.ok(!objects.some((o) => o.kind === 'Service' || o.kind === 'ServiceAccount'));
    assert.ok(!objects.some((o) => o.metadata.name.endsWith('-dashboards')));
    assert.equal(pod.serviceAccountName, 'node-agents');
    const names = (pod.volumes ?? []).map((v) => v.name);
    assert.ok(!names.includes('host-docker-containers') && !names.includes('host-container-logs'));
    assert.ok(names.includes('host-pod-logs'));
    const args = container.args ?? [];
    assert.equal(args[args.indexOf('--metrics-listen') + 1], '');
    assert.equal(args[args.indexOf('--dns-listen') + 1], '');
  });

  test('run mode (not for Kubernetes nodes): privileged, in the host PID and network namespaces, runtime state on the host', () => {
    const { pod, container } = podOf(objectsOf('run'));
    assert.deepEqual((container.args ?? []).slice(0, 2), ['--mode', 'run']);
    assert.ok(!(container.args ?? []).includes('--host-root'));
    assert.equal(container.securityContext?.privileged, true);
    assert.equal(pod.hostPID, true);
    assert.equal(pod.hostNetwork, true);
    assert.equal((pod.volumes ?? []).find((v) => v.name === 'run')?.hostPath?.path, '/run/berth');
  });

  test('a changed config file rolls the pods (its checksum is a pod annotation)', () => {
    const sum = (name: string) => podOfMeta(objectsOf(name))?.['checksum/config'];
    assert.match(String(sum('default')), /^[0-9a-f]{64}$/);
    assert.notEqual(sum('default'), sum('full'));
  });
});

const podOfMeta = (objects: K8sObject[]) =>
  (find(objects, 'DaemonSet').spec as { template: { metadata: { annotations?: Record<string, string> } } })
    .template.metadata.annotations;

describe('the rest of the release', () => {
  test('the dashboards ConfigMap carries every dashboards/*.json unchanged, labelled for the Grafana sidecar', () => {
    const cm = find(objectsOf('default'), 'ConfigMap', '-dashboards');
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    const data = cm.data as Record<string, string>;
    const files = readdirSync(join(ROOT, 'dashboards'))
      .filter((f) => f.endsWith('.json'))
      .sort();
    assert.ok(files.length >= 3);
    assert.deepEqual(Object.keys(data).sort(), files);
    for (const f of files)
      assert.equal(data[f], readFileSync(join(ROOT, 'dashboards', f), 'utf8'), `${f} changed on its way`);
    const full = find(objectsOf('full'), 'ConfigMap', '-dashboards');
    assert.equal(full.metadata.namespace, 'grafana');
    assert.equal(full.metadata.annotations?.grafana_folder, 'berth');
  });

  test('the Service maps DNS to the agents on their own node, and names the metrics port', () => {
    const svc = find(objectsOf('default'), 'Service');
    const spec = svc.spec as { internalTrafficPolicy: string; ports: Array<Record<string, unknown>> };
    assert.equal(spec.internalTrafficPolicy, 'Local');
    assert.deepEqual(
      spec.ports.map((p) => `${p.name} ${p.port}->${p.targetPort}/${p.protocol}`),
      ['metrics 9338->metrics/TCP', 'dns-udp 53->dns-udp/UDP', 'dns-tcp 53->dns-tcp/TCP'],
    );
  });

  test('the config file is JSON with the chart-generated sections, .Values.config merged over them', () => {
    const parse = (name: string) =>
      JSON.parse(
        (find(objectsOf(name), 'ConfigMap', 'obs-berth').data as Record<string, string>)['config.json'] ?? '',
      ) as Record<string, Record<string, unknown>>;
    assert.deepEqual(parse('default'), {
      dashboard: { enabled: false },
      logs: { requireAck: true, tag: 'berth.{{.Name}}' },
      metrics: { roots: '/host/proc:/sys:/host/sys/fs/cgroup' },
    });
    const full = parse('full');
    assert.equal(full.logs?.mergeJson, false);
    assert.equal(full.logs?.tlsCa, '/etc/berth/secrets/fluentd-ca/ca.crt');
    assert.deepEqual(full.discovery, { drainTimeout: '5s' });
    assert.deepEqual(full.metrics?.labelsAllowlist, ['app', 'team']);
  });

  test('helm package carries the dashboards the chart links to: the packaged chart renders the same objects', async () => {
    const out = join(dir, 'package');
    const pkg = await helm(['package', CHART, '--destination', out]);
    assert.equal(pkg.code, 0, pkg.stderr);
    const tgz = join(
      out,
      `berth-${(parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { version: string }).version}.tgz`,
    );
    const fromPackage = await helm(['template', 'obs', tgz, '--namespace', NAMESPACE]);
    assert.equal(fromPackage.code, 0, fromPackage.stderr);
    const fromDir = await helm(['template', 'obs', CHART, '--namespace', NAMESPACE]);
    assert.equal(fromPackage.stdout, fromDir.stdout);
    assert.match(fromPackage.stdout, /berth-overview\.json: \|/);
  });

  test('the chart version and appVersion: appVersion is the berth release (package.json)', () => {
    const chart = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as {
      appVersion: string;
      version: string;
    };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.appVersion, pkg.version);
    assert.match(chart.version, /^\d+\.\d+\.\d+$/);
  });

  test('README.md documents every value (its values table names each leaf of values.yaml)', () => {
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => l.startsWith('| `'));
    const leaves = (o: Record<string, unknown>, prefix: string[]): string[][] =>
      Object.entries(o).flatMap(([k, v]) =>
        v !== null &&
        typeof v === 'object' &&
        !Array.isArray(v) &&
        Object.keys(v).length > 0 &&
        prefix.length < 2 &&
        !['resources', 'nodeSelector', 'updateStrategy', 'seccompProfile', 'config'].includes(k)
          ? leaves(v as Record<string, unknown>, [...prefix, k])
          : [[...prefix, k]],
      );
    for (const path of leaves(values, [])) {
      const full = `\`${path.join('.')}\``;
      const parent = `\`${path.slice(0, -1).join('.')}.`;
      const leaf = `.${path.at(-1)}`;
      const documented = rows.some(
        (r) =>
          r.includes(full) ||
          (path.length > 1 && r.includes(parent) && r.includes(leaf)) ||
          r.split('|')[1]?.includes(`\`${path[0]}\``),
      );
      assert.ok(documented, `${path.join('.')} is not in README.md's values table`);
    }
  });

  test('NOTES.txt says where to look, and warns in run mode', async () => {
    const notes = async (name: string) => {
      const r = await helm([
        'install',
        'obs',
        CHART,
        '--dry-run=client',
        '--namespace',
        NAMESPACE,
        '--values',
        join(dir, `${name}.values.json`),
      ]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.slice(r.stdout.indexOf('NOTES:'));
    };
    const def = await notes('default');
    assert.match(def, /in observe mode/);
    assert.match(def, /port-forward daemonset\/obs-berth 9338/);
    assert.match(def, /Log shipping is off: set fluentd.servers/);
    assert.doesNotMatch(def, /WARNING/);
    assert.match(
      await notes('full'),
      /ServiceMonitor monitoring\/obs-berth has Prometheus scrape every agent every 30s/,
    );
    assert.match(await notes('run'), /WARNING: mode run .* not for Kubernetes nodes/s);
  });
});

describe('the values schema refuses a bad value, naming it', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown mode', { mode: 'watch' }, /at '\/mode': value must be one of 'observe', 'run', 'both'/],
    ['a misspelt key', { dns: { prot: 53 } }, /at '\/dns': additional properties 'prot' not allowed/],
    ['a port out of range', { metrics: { port: 70000 } }, /at '\/metrics\/port'/],
    [
      'a Fluentd server that is no host[:port]',
      { fluentd: { servers: ['tcp://fluentd'] } },
      /at '\/fluentd\/servers\/0'/,
    ],
    ['ALL as a capability', { capabilities: ['ALL'] }, /at '\/capabilities\/0'/],
    ['a relative host path', { hostPaths: { proc: 'proc' } }, /at '\/hostPaths\/proc'/],
    [
      'a digest that is not sha256',
      { image: { repository: 'berth', digest: 'latest' } },
      /at '\/image\/digest'/,
    ],
  ];
  for (const [name, values, message] of cases) {
    test(name, async () => {
      const { run } = await render(dir, `bad-${name.replace(/\W+/g, '-')}`, values);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, message);
    });
  }

  test('a ServiceMonitor without the Service it scrapes is refused with the reason', async () => {
    const { run } = await render(dir, 'bad-sm', {
      serviceMonitor: { enabled: true },
      service: { enabled: false },
    });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /serviceMonitor.enabled: .* needs service.enabled and metrics.enabled/);
  });
});
