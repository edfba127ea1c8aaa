import type { Envelope } from '../../runtime/base/events.js';
import type { MetricFamily, MetricSample } from '../../sidecar/types.js';
import type { ProjectStatus } from './types.js';

/**
 * The reconciler's and the rolling update's figures on /metrics (the
 * "Deploy" dashboard in dashboards/berth-deploy.json). Counters are counted
 * from the `project.*` events the reconciler already publishes, so they say
 * exactly what `berth events` said; gauges come from a snapshot of the
 * projects' status taken after each such event and every `refreshMs`, because
 * a metrics provider is called synchronously on every scrape and must not
 * read state itself.
 */
export class DeployMetrics {
  private readonly counts = new Map<
    string,
    { family: string; labels: Record<string, string>; value: number }
  >();
  private snapshot: ProjectStatus[] = [];
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly d: {
      events: (signal: AbortSignal) => AsyncIterable<Envelope<unknown>>;
      list(): Promise<ProjectStatus[]>;
      refreshMs?: number;
    },
  ) {}

  /** Follows the events until `signal` aborts; refreshes the snapshot now and then. */
  start(signal: AbortSignal): void {
    void this.refresh();
    const timer = setInterval(() => void this.refresh(), this.d.refreshMs ?? 5_000);
    timer.unref();
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    void (async () => {
      try {
        for await (const env of this.d.events(signal)) {
          this.count(env.topic, (env.event ?? {}) as Record<string, unknown>);
          void this.refresh();
        }
      } catch {
        // Aborted, or the exchange cut a subscriber that fell behind: counters stop there and
        // the gauges keep refreshing on the timer. A restart of the agent starts a new series.
      }
    })();
  }

  private refresh(): Promise<void> {
    this.refreshing ??= this.d
      .list()
      .then((s) => {
        this.snapshot = s;
      })
      .catch(() => undefined) // the last snapshot stays; the next event or tick tries again
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private bump(family: string, labels: Record<string, string>): void {
    const key = `${family}${JSON.stringify(labels)}`;
    const c = this.counts.get(key);
    if (c) c.value += 1;
    else this.counts.set(key, { family, labels, value: 1 });
  }

  private count(topic: string, ev: Record<string, unknown>): void {
    const project = typeof ev.project === 'string' ? ev.project : '';
    const service = typeof ev.service === 'string' ? ev.service : '';
    if (topic === 'project.applied' || topic === 'project.rejected') {
      this.bump('berth_deploy_applies_total', { project, result: topic.slice('project.'.length) });
    } else if (topic.startsWith('project.replica.')) {
      this.bump('berth_deploy_replica_actions_total', {
        project,
        service,
        action: topic.slice('project.replica.'.length),
      });
    } else if (/^project\.rollout\.(done|failed|rolled-back|paused)$/.test(topic)) {
      const kind = typeof ev.kind === 'string' ? ev.kind : 'update';
      this.bump('berth_deploy_rollouts_total', {
        project,
        service,
        kind,
        result: topic.slice('project.rollout.'.length),
      });
    } else if (topic === 'project.scaled') {
      this.bump('berth_deploy_scales_total', { project, service });
    }
  }

  families(): MetricFamily[] {
    const counters = (name: string, help: string): MetricFamily => ({
      name,
      type: 'counter',
      help,
      samples: [...this.counts.values()]
        .filter((c) => c.family === name)
        .map((c) => ({ labels: c.labels, value: c.value })),
    });
    const replicas: MetricSample[] = [];
    const rollout: MetricSample[] = [];
    const rolloutReplicas: MetricSample[] = [];
    const projects: MetricSample[] = [];
    for (const p of this.snapshot) {
      projects.push({ labels: { project: p.name, error: p.lastError ? '1' : '0' }, value: 1 });
      for (const s of p.services) {
        const l = { project: p.name, service: s.name };
        replicas.push(
          { labels: { ...l, state: 'desired' }, value: s.desired },
          { labels: { ...l, state: 'running' }, value: s.running },
          { labels: { ...l, state: 'healthy' }, value: s.healthy },
        );
        const r = s.rollout;
        const active = r !== undefined && (r.phase === 'running' || r.phase === 'paused');
        rollout.push({ labels: { ...l, phase: active ? r.phase : 'idle' }, value: 1 });
        if (active) {
          rolloutReplicas.push(
            { labels: { ...l, revision: 'old' }, value: r.oldCount },
            { labels: { ...l, revision: 'new' }, value: r.newCount },
          );
        }
      }
    }
    return [
      {
        name: 'berth_deploy_projects',
        type: 'gauge',
        help: 'Compose projects the agent keeps (error="1": the last apply or convergence reported an error).',
        samples: projects,
      },
      {
        name: 'berth_deploy_service_replicas',
        type: 'gauge',
        help: 'Replicas of each Compose service: desired, running, and healthy (health check passing; a service without one has none healthy).',
        samples: replicas,
      },
      {
        name: 'berth_deploy_rollout_phase',
        type: 'gauge',
        help: 'Always 1; the phase label says whether the service is rolling (running), paused or idle.',
        samples: rollout,
      },
      {
        name: 'berth_deploy_rollout_replicas',
        type: 'gauge',
        help: 'During a rollout: replicas of the old and of the new revision.',
        samples: rolloutReplicas,
      },
      counters(
        'berth_deploy_applies_total',
        'Project applies (up, projects dir) by result: applied or rejected.',
      ),
      counters(
        'berth_deploy_replica_actions_total',
        'Replicas the reconciler started, replaced (died and not restarted by their policy) or removed.',
      ),
      counters('berth_deploy_rollouts_total', 'Rollouts that ended, by kind (update, rollback) and result.'),
      counters('berth_deploy_scales_total', 'Scale requests (berth scale, the dashboard).'),
    ];
  }
}
