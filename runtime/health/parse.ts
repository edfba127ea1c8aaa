import { InvalidArgumentError } from '../base/errors.js';
import type { HealthProbe } from './types.js';

/**
 * Parse a health check from Docker-style input: `test` as
 * `["CMD", ...]`, `["CMD-SHELL", "cmd"]`, `["NONE"]`, or berth's
 * `{http: url}` / `{tcp: port}`.
 */
export function parseHealthProbe(test: unknown, field = 'healthcheck.test'): HealthProbe | undefined {
  if (Array.isArray(test) && test.every((t) => typeof t === 'string')) {
    const [kind, ...rest] = test as string[];
    if (kind === 'NONE') return undefined;
    if (kind === 'CMD' && rest.length > 0) return { kind: 'cmd', argv: rest };
    if (kind === 'CMD-SHELL' && rest.length === 1)
      return { kind: 'cmd', argv: ['/bin/sh', '-c', rest[0] as string] };
  }
  if (test && typeof test === 'object' && !Array.isArray(test)) {
    const t = test as Record<string, unknown>;
    if (typeof t.http === 'string' && /^https?:\/\//.test(t.http)) return { kind: 'http', url: t.http };
    if (typeof t.tcp === 'number' && Number.isInteger(t.tcp) && t.tcp > 0 && t.tcp < 65536) {
      return { kind: 'tcp', port: t.tcp };
    }
  }
  throw new InvalidArgumentError(
    `${field}: must be ["CMD", arg...], ["CMD-SHELL", "command"], ["NONE"], {"http": "http://..."} or {"tcp": port}, got ${JSON.stringify(test)}`,
    { field },
  );
}
