/**
 * The value sets the chart tests render, lint and check: the defaults and
 * non-default ones a user would write (ServiceMonitor on, Consul over TLS
 * with a token, Fluentd over mutual TLS with a shared key and a password,
 * extra tolerations, a node-local Consul through $(BERTH_HOST_IP), DNS on
 * port 53, metrics and DNS off, run mode), and the Secrets they name.
 */
import type { SecretFixture } from './chart.js';

export const VALUE_SETS: Record<string, Record<string, unknown>> = {
  default: {},
  full: {
    image: { repository: 'registry.example/berth', digest: `sha256:${'ab'.repeat(32)}` },
    logLevel: 'debug',
    consul: {
      address: 'consul.consul.svc:8501',
      datacenter: 'eu-west',
      token: { existingSecret: 'consul-acl', key: 'token' },
      tls: { enabled: true, caSecret: 'consul-ca', caKey: 'ca.crt' },
    },
    fluentd: {
      servers: ['fluentd-0.logging.svc:24224', 'fluentd-1.logging.svc'],
      tag: 'k8s.{{.Name}}',
      tls: {
        enabled: true,
        caSecret: 'fluentd-ca',
        clientSecret: 'fluentd-client',
        serverName: 'fluentd.logging',
      },
      sharedKey: { existingSecret: 'fluentd-shared', key: 'shared_key' },
      auth: { username: 'berth', passwordSecret: 'fluentd-user', passwordKey: 'password' },
    },
    dns: { port: 53, upstreams: ['10.96.0.10', '[fd00::10]:53'], domain: 'berth.' },
    metrics: { port: 9100, labelsAllowlist: ['app', 'team'], gzip: true },
    config: { discovery: { drainTimeout: '5s' }, dns: { serviceTtl: '5s' }, logs: { mergeJson: false } },
    services: [
      {
        name: 'node-exporter',
        port: 9100,
        tags: ['metrics'],
        check: { http: 'http://localhost:9100/metrics', interval: '10s' },
      },
    ],
    extraArgs: ['--register-address', 'container'],
    extraEnv: [{ name: 'TZ', value: 'UTC' }],
    hostNetwork: true,
    tolerations: [
      { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    ],
    nodeSelector: { 'kubernetes.io/os': 'linux', 'node-role.example/agent': 'true' },
    priorityClassName: 'system-node-critical',
    appArmorProfile: { type: 'Unconfined' },
    serviceMonitor: {
      enabled: true,
      labels: { release: 'kube-prometheus-stack' },
      interval: '30s',
      scrapeTimeout: '20s',
      metricRelabelings: [{ action: 'drop', sourceLabels: ['__name__'], regex: 'container_tasks_state' }],
    },
    dashboards: { annotations: { grafana_folder: 'berth' }, namespace: 'grafana' },
  },
  'consul-on-node': {
    consul: { address: '$(BERTH_HOST_IP):8500', token: { existingSecret: 'consul-acl' } },
    fluentd: { servers: ['fluentd.logging.svc:24224'] },
    hostPaths: { dockerContainers: '' },
    servicesConfigMap: 'team-services',
  },
  minimal: {
    metrics: { enabled: false },
    dns: { enabled: false },
    dashboards: { enabled: false },
    serviceAccount: { create: false, name: 'node-agents' },
    hostPaths: { dockerContainers: '', podLogs: '/var/log/pods', containerLogs: '' },
  },
  run: { mode: 'run' },
};

/** PEM text stands in for real keys: berth checks these files are readable, then reads them at start. */
export function secretsFor(pem: { ca: string; cert: string; key: string }): SecretFixture {
  return {
    'consul-acl': { token: 'consul-secret-token' },
    'consul-ca': { 'ca.crt': pem.ca },
    'fluentd-ca': { 'ca.crt': pem.ca },
    'fluentd-client': { 'tls.crt': pem.cert, 'tls.key': pem.key },
    'fluentd-shared': { shared_key: 'shared-secret-key\n' },
    'fluentd-user': { password: 'fluentd-password\n' },
    // A ConfigMap the user keeps (servicesConfigMap): one good file, one a team got wrong.
    'team-services': {
      'shop.json': JSON.stringify({
        services: [
          { name: 'shop', port: 8080 },
          { name: 'cart', port: 8081 },
        ],
      }),
      'broken.json': JSON.stringify({ service: { name: 'bad name!', port: 80 } }),
    },
  };
}
