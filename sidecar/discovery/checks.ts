/**
 * The checks a container's labels ask for (SERVICE_[<port>_]CHECK_*): what
 * the registrator resolves them to and the prober runs, in their own module
 * so neither imports the other.
 */

export type CheckStatus = 'passing' | 'warning' | 'critical';

/**
 * A check asked for with SERVICE_[<port>_]CHECK_*, resolved against the
 * instance's address and port as Registrator's Consul backend does.
 */
export type CheckSpec = (
  | { kind: 'http' | 'https'; url: string; interval: string; timeout?: string; method?: string }
  | { kind: 'tcp'; address: string; interval: string; timeout?: string }
  | { kind: 'script'; script: string; interval: string }
  | { kind: 'ttl'; ttl: string }
) & { initialStatus?: CheckStatus };

/** The checks berth runs itself (the Catalog holds one TTL check per instance, fed with the results). */
export type ProbedCheck = Extract<CheckSpec, { kind: 'http' | 'https' | 'tcp' }>;

export function isProbed(check: CheckSpec | undefined): check is ProbedCheck {
  return check !== undefined && (check.kind === 'http' || check.kind === 'https' || check.kind === 'tcp');
}
