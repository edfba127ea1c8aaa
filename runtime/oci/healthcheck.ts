import { parseDuration } from '../base/duration.js';
import { parseHealthProbe } from '../health/parse.js';
import { HEALTH_DEFAULTS, type HealthCheckConfig } from '../health/types.js';
import { bad } from './fields.js';
import { parseInteger } from './parse.js';
import type { HealthcheckRequest } from './request.js';

/** The request's healthcheck overlaid field by field on the image's (durations there are nanoseconds). */
export function parseHealth(
  req: HealthcheckRequest | undefined,
  image: Record<string, unknown>,
): HealthCheckConfig | undefined {
  // Image durations are nanoseconds (Docker image config); 0 means "inherit the default".
  const img =
    image.Healthcheck && typeof image.Healthcheck === 'object'
      ? (image.Healthcheck as Record<string, unknown>)
      : {};
  const ns = (v: unknown): number | undefined =>
    typeof v === 'number' && v > 0 ? Math.round(v / 1e6) : undefined;
  // Its shape (an object of the known keys) is the schema's (request.ts); the values are parsed here.
  const r: Record<string, unknown> = req ?? {};
  const test = r.test ?? img.Test;
  if (test === undefined) {
    if (Object.keys(r).length > 0)
      throw bad('healthcheck.test', 'required: neither the request nor the image gives a test');
    return undefined;
  }
  const probe = parseHealthProbe(test, r.test !== undefined ? 'healthcheck.test' : 'image Healthcheck.Test');
  if (!probe) return undefined;
  const pick = (key: string, imgKey: string, def: number): number =>
    r[key] !== undefined ? Math.round(parseDuration(r[key], `healthcheck.${key}`)) : (ns(img[imgKey]) ?? def);
  const cfg: HealthCheckConfig = {
    probe,
    intervalMs: pick('interval', 'Interval', HEALTH_DEFAULTS.intervalMs),
    timeoutMs: pick('timeout', 'Timeout', HEALTH_DEFAULTS.timeoutMs),
    retries:
      r.retries !== undefined
        ? parseInteger(r.retries, 'healthcheck.retries', 1)
        : typeof img.Retries === 'number' && img.Retries > 0
          ? img.Retries
          : HEALTH_DEFAULTS.retries,
    startPeriodMs: pick('startPeriod', 'StartPeriod', HEALTH_DEFAULTS.startPeriodMs),
  };
  if (cfg.intervalMs < 1) throw bad('healthcheck.interval', 'must be at least 1ms');
  if (cfg.timeoutMs < 1) throw bad('healthcheck.timeout', 'must be at least 1ms');
  return cfg;
}
