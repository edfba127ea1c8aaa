import { InvalidArgumentError } from '../../runtime/base/errors.js';
import type { MetricFamily } from '../types.js';
import type { FamilyDef } from './families.js';

/**
 * Families other sidecars hand to /metrics (log shipping, DNS, discovery,
 * HAProxy) arrive through their `Sidecar.metrics` providers as plain
 * `MetricFamily` values (sidecar/types.ts); this module checks them.
 */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const PROVIDER_NAME = /^[a-z][a-z0-9_]*$/;

export function checkProviderName(name: string): void {
  if (!PROVIDER_NAME.test(name)) {
    throw new InvalidArgumentError(
      `metrics external provider: name ${JSON.stringify(name)} must match ${PROVIDER_NAME} (it becomes the collector label)`,
      { field: 'name' },
    );
  }
}

/**
 * Checks one family against the families already known (built-in and
 * external): a valid name, valid label names, and a type that never changes
 * once registered (Prometheus would reject the scrape otherwise).
 */
export function checkExternalFamily(f: MetricFamily, known: ReadonlyMap<string, FamilyDef>): void {
  if (!METRIC_NAME.test(f.name)) {
    throw new InvalidArgumentError(
      `metrics external family: ${JSON.stringify(f.name)} is not a metric name`,
      {
        field: 'name',
      },
    );
  }
  // prom-client's default process metrics share the exposition; a clash would be two families of one name.
  if (/^berth_(process|nodejs)_/.test(f.name)) {
    throw new InvalidArgumentError(
      `metrics external family ${f.name}: berth_process_* and berth_nodejs_* are the agent's own process metrics`,
      { field: 'name' },
    );
  }
  const prior = known.get(f.name);
  if (prior && prior.type !== f.type) {
    throw new InvalidArgumentError(
      `metrics external family ${f.name}: type ${f.type} conflicts with the registered type ${prior.type}`,
      { field: 'type' },
    );
  }
  // Prometheus rejects a scrape that repeats a series.
  const seen = new Set<string>();
  for (const s of f.samples) {
    const key = Object.keys(s.labels)
      .sort()
      .map((k) => `${k}\0${s.labels[k]}`)
      .join('\0');
    if (seen.has(key)) {
      throw new InvalidArgumentError(
        `metrics external family ${f.name}: labels ${JSON.stringify(s.labels)} repeat a series`,
        {
          field: 'samples',
        },
      );
    }
    seen.add(key);
    for (const l in s.labels) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) {
        throw new InvalidArgumentError(
          `metrics external family ${f.name}: ${JSON.stringify(l)} is not a label name`,
          {
            field: 'labels',
          },
        );
      }
    }
  }
}
