export { HAPROXY_CONFIG, type HaproxyOptions, resolveHaproxyOptions } from './config.js';
export { LB_LABELS, type LbSpec, lbMetaFromLabels, lbSpecFromMeta } from './labels.js';
export { type ApplyFailure, HaproxyManager, type HaproxyManagerDeps, type PreStopResult } from './manager.js';
export { HaproxyMetrics, type HaproxyMetricsSnapshot } from './metrics.js';
export { renderDefault, type TemplateData, templateData } from './render.js';
export { type ConfigRenderer, compileTemplate, loadTemplate } from './template.js';
