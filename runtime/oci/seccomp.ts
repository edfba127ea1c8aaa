import type { Arch } from './seccomp-default.js';

const ARCH_NAMES: Record<Arch, string> = { x86_64: 'SCMP_ARCH_X86_64', aarch64: 'SCMP_ARCH_AARCH64' };

/**
 * A Docker-format profile (the `seccomp=<path>` file: `archMap`, rules with
 * `includes`/`excludes` on caps and arches) resolved for one container into
 * the OCI form. Rules whose conditions do not hold are dropped, as dockerd does.
 */
export function fromDockerProfile(
  profile: Record<string, unknown>,
  caps: readonly string[],
  arch: Arch,
): Record<string, unknown> {
  const have = new Set(caps);
  const archName = ARCH_NAMES[arch];
  const out: Record<string, unknown> = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (Array.isArray(profile.architectures)) out.architectures = profile.architectures;
  else if (Array.isArray(profile.archMap)) {
    for (const m of profile.archMap as Array<Record<string, unknown>>) {
      if (m.architecture === archName) {
        out.architectures = [archName, ...(Array.isArray(m.subArchitectures) ? m.subArchitectures : [])];
      }
    }
  }
  const syscalls: Array<Record<string, unknown>> = [];
  for (const r of Array.isArray(profile.syscalls)
    ? (profile.syscalls as Array<Record<string, unknown>>)
    : []) {
    const inc = (r.includes ?? {}) as { caps?: string[]; arches?: string[] };
    const exc = (r.excludes ?? {}) as { caps?: string[]; arches?: string[] };
    const archOk = (list: string[] | undefined) =>
      list?.some((a) => a === arch || a === (arch === 'x86_64' ? 'amd64' : 'arm64'));
    if (inc.arches && !archOk(inc.arches)) continue;
    if (exc.arches && archOk(exc.arches)) continue;
    if (inc.caps && !inc.caps.every((c) => have.has(c))) continue;
    if (exc.caps?.some((c) => have.has(c))) continue;
    const names = Array.isArray(r.names) ? r.names : typeof r.name === 'string' ? [r.name] : [];
    const rule: Record<string, unknown> = { names, action: r.action };
    if (r.errnoRet !== undefined) rule.errnoRet = r.errnoRet;
    if (Array.isArray(r.args) && r.args.length > 0) rule.args = r.args;
    syscalls.push(rule);
  }
  out.syscalls = syscalls;
  return out;
}
