/**
 * A fake ReplicaOps for the rollout engine's unit tests: replicas are records
 * in a map, readiness and monitoring answer from per-revision behaviour, and
 * every call is logged with the number of saves made before it, so a test
 * checks the order of steps, that the state was saved before each, and the
 * capacity at every moment (no real containers: the integration tests run
 * the same engine over the real agent).
 */
import { UPDATE_DEFAULTS } from '../../../src/compose/finalize.js';
import type { ComposeService, ComposeUpdateConfig } from '../../../src/compose/types.js';
import type {
  Replica,
  ReplicaOps,
  RolloutProgress,
  RolloutState,
  ServiceRevision,
} from '../../../src/deploy/contract.js';
import type { RolloutClock } from '../../../src/deploy/rollout.js';

export function service(
  image: string,
  update: Partial<ComposeUpdateConfig> = {},
  rollback: Partial<ComposeUpdateConfig> = {},
): ComposeService {
  return {
    name: 'web',
    image,
    environment: {},
    envFiles: [],
    ports: [],
    expose: [],
    labels: {},
    volumes: [],
    tmpfs: [],
    readOnly: false,
    capAdd: [],
    capDrop: [],
    securityOpt: [],
    ulimits: {},
    healthcheck: { disable: false, intervalMs: 1000, timeoutMs: 1000, retries: 3 },
    networks: {},
    dependsOn: {},
    deploy: {
      replicas: 3,
      resources: { limits: {} },
      updateConfig: { ...UPDATE_DEFAULTS, ...update },
      rollbackConfig: { ...UPDATE_DEFAULTS, ...rollback },
    },
    profiles: [],
  };
}

export const rev = (
  image: string,
  hash: string,
  update?: Partial<ComposeUpdateConfig>,
  rb?: Partial<ComposeUpdateConfig>,
): ServiceRevision => ({
  service: service(image, update, rb),
  configHash: hash,
});

export interface Behaviour {
  /** start() rejects. */
  startFails?: boolean;
  /** ready() rejects (unhealthy). */
  sick?: boolean;
  /** monitor() rejects. */
  flaky?: boolean;
}

export interface Call {
  op: 'start' | 'ready' | 'monitor' | 'retire';
  name: string;
  hash: string;
  /** save() calls made before this call. */
  saves: number;
}

export class FakeOps implements ReplicaOps {
  readonly running = new Map<string, Replica>();
  /** Replicas that serve traffic: the initial ones and those whose ready() resolved. */
  readonly serving = new Set<string>();
  readonly calls: Call[] = [];
  readonly saved: RolloutState[] = [];
  readonly progress: RolloutProgress[] = [];
  readonly behaviour = new Map<string, Behaviour>();
  minServing = Number.POSITIVE_INFINITY;
  maxRunning = 0;
  private nextId = 1;
  /** When set, the n-th call (1-based) takes effect and then the agent "dies" (the signal aborts). */
  crashAtCall: number | undefined;
  controller = new AbortController();

  constructor(initial: { hash: string; indexes: number[] }) {
    for (const i of initial.indexes) {
      const r = this.make(initial.hash, i);
      this.serving.add(r.id);
    }
    this.measure();
  }

  current(): Replica[] {
    return [...this.running.values()];
  }

  save = async (s: RolloutState): Promise<void> => {
    this.saved.push(s);
  };

  onProgress = (p: RolloutProgress): void => {
    this.progress.push(p);
  };

  lastSaved(): RolloutState {
    const s = this.saved.at(-1);
    if (!s) throw new Error('nothing saved');
    return s;
  }

  async start(rev: ServiceRevision, index: number, signal: AbortSignal): Promise<Replica> {
    this.record('start', `web-${index}`, rev.configHash);
    signal.throwIfAborted();
    for (const r of this.running.values()) {
      if (r.index === index) throw new Error(`duplicate: index ${index} is held by ${r.id}`);
    }
    if (this.behaviour.get(rev.configHash)?.startFails) throw new Error('image not found');
    const r = this.make(rev.configHash, index);
    this.measure();
    return this.afterEffect(r, signal);
  }

  async ready(replica: Replica, _timeoutMs: number, signal: AbortSignal): Promise<void> {
    this.record('ready', replica.name, replica.configHash);
    signal.throwIfAborted();
    if (this.behaviour.get(replica.configHash)?.sick) throw new Error('unhealthy: /healthz returned 500');
    this.serving.add(replica.id);
    this.measure();
    return this.afterEffect(undefined, signal);
  }

  async monitor(replica: Replica, _ms: number, signal: AbortSignal): Promise<void> {
    this.record('monitor', replica.name, replica.configHash);
    await new Promise((r) => setImmediate(r));
    signal.throwIfAborted();
    if (this.behaviour.get(replica.configHash)?.flaky) {
      this.serving.delete(replica.id);
      throw new Error('exited with code 1');
    }
  }

  async retire(replica: Replica, signal: AbortSignal): Promise<void> {
    this.record('retire', replica.name, replica.configHash);
    signal.throwIfAborted();
    if (!this.running.has(replica.id)) throw new Error(`retire of ${replica.name}: not running`);
    this.serving.delete(replica.id);
    this.running.delete(replica.id);
    this.measure();
    return this.afterEffect(undefined, signal);
  }

  names(hash?: string): string[] {
    return this.current()
      .filter((r) => hash === undefined || r.configHash === hash)
      .map((r) => r.name)
      .sort();
  }

  ops(name: Call['op']): Call[] {
    return this.calls.filter((c) => c.op === name);
  }

  private make(hash: string, index: number): Replica {
    const r: Replica = { id: `c${this.nextId++}`, name: `web-${index}`, index, configHash: hash };
    this.running.set(r.id, r);
    return r;
  }

  private record(op: Call['op'], name: string, hash: string): void {
    this.calls.push({ op, name, hash, saves: this.saved.length });
  }

  private measure(): void {
    this.minServing = Math.min(this.minServing, this.serving.size);
    this.maxRunning = Math.max(this.maxRunning, this.running.size);
  }

  /** The crash: the step took effect, then the agent is gone before it could save. */
  private afterEffect<T>(value: T, signal: AbortSignal): T {
    if (
      this.crashAtCall !== undefined &&
      this.calls.filter((c) => c.op !== 'monitor').length === this.crashAtCall
    ) {
      this.controller.abort(new Error('agent killed'));
      signal.throwIfAborted();
    }
    return value;
  }
}

/** Sleeps return at once; the delays asked for are kept. */
export class FakeClock implements RolloutClock {
  readonly sleeps: number[] = [];
  private t = Date.parse('2026-12-07T12:00:00Z');
  now(): Date {
    this.t += 1;
    return new Date(this.t);
  }
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.sleeps.push(ms);
    this.t += ms;
  }
}
