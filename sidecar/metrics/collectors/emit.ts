import type { Emit, SampleLabels } from '../types.js';

/** Emits only values the kernel actually reported. */
export function emitDefined(
  emit: Emit,
  metric: string,
  value: number | undefined,
  labels: SampleLabels = {},
): void {
  if (value !== undefined) emit(metric, labels, value);
}
