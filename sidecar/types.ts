/**
 * What every sidecar is to the composition root (src/agent/sidecars.ts), and
 * the one metrics shape sidecars share: each sidecar hands its own counters
 * to /metrics as plain families, so no sidecar imports another (the metrics
 * sidecar included) and the agent wires them in a loop.
 */
import type { ContainerDescriptor } from '../runtime/types.js';

/** One series of a family: its own labels (no container labels are added) and its value now. */
export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

/**
 * A metric family a sidecar hands to /metrics: its definition and its
 * samples now. Name, help and type are the dashboards' contract
 * (dashboards/README.md): they never change once shipped.
 */
export interface MetricFamily {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: readonly MetricSample[];
}

/**
 * Called once per scrape, synchronously: it should only read counters the
 * owner keeps anyway, never do I/O (a scrape must not wait on a Consul or a
 * Fluentd).
 */
export type MetricsProvider = () => readonly MetricFamily[];

/**
 * A sidecar as the agent runs it. Lifecycle: created by its folder's factory
 * (nothing started, nothing listening), `start()` once, then `close()` once,
 * in the reverse order of the starts. The agent starts sidecars one after
 * another, so a later one may rely on an earlier one (DNS and HAProxy read
 * the Catalog the discovery sidecar owns).
 */
export interface Sidecar {
  /** Short and stable: the key of its endpoint in the agent's ready banner and in `berth version`. */
  readonly name: string;

  /** Starts following the source, listening, supervising. A failure means it did not start. */
  start(): Promise<void>;

  /** Stops what start began; resolves when its work is flushed. Called only after a successful start. */
  close(): Promise<void>;

  /**
   * Where it serves, once started (`127.0.0.1:53, 10.88.0.1:53`,
   * `http://127.0.0.1:9338/metrics`); absent for a sidecar with no endpoint.
   */
  endpoint?(): string;

  /**
   * Runs before every container stop signal (discovery maintenance, HAProxy
   * drain): resolves when the container may be stopped.
   */
  preStop?(container: ContainerDescriptor): Promise<void>;

  /**
   * Its own families on /metrics, by provider name (the `collector` label of
   * `berth_metrics_collector_*`). Read at scrape time, after a successful start.
   */
  readonly metrics?: Readonly<Record<string, MetricsProvider>>;

  /**
   * Present when the agent runs on without it: a failed start is logged with
   * `warning` (and `context`), and its endpoint reads `<status>: <reason>`.
   * Absent: a failed start fails the agent.
   */
  readonly optional?: {
    status: 'not running' | 'not serving';
    warning: string;
    context?: Record<string, unknown>;
  };
}
