import type { ContainerDescriptor } from '../../runtime/types.js';

/** Prometheus label names allow [a-zA-Z0-9_]; cAdvisor maps everything else to `_`. */
export function containerLabelName(key: string): string {
  return `container_label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/**
 * The allow-listed container labels as Prometheus labels. Keys the container
 * does not have get "" so every series of a family has the same label set
 * (cAdvisor does the same); keys outside the list never appear, which is what
 * bounds cardinality.
 */
export function allowlistedLabels(
  c: ContainerDescriptor,
  allowlist: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of allowlist) out[containerLabelName(key)] = c.labels[key] ?? '';
  return out;
}

/** Label objects with keys in sorted order, so output is stable and reads like Go client output. */
export function sortedLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k] ?? '';
  return out;
}
