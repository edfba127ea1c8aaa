import { InvalidArgumentError, NotFoundError } from '../base/errors.js';
import type { Descriptor, Platform } from './types.js';

const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips64el: 'mips64le',
};

/** The platform this process runs on, in OCI terms (`linux/amd64`, `linux/arm/v7`). */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  if (architecture === 'arm') {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    return {
      os: 'linux',
      architecture,
      variant: `v${typeof v === 'string' || typeof v === 'number' ? v : '7'}`,
    };
  }
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  return { os: 'linux', architecture };
}

/** `linux/arm64`, `linux/arm/v7` → Platform. */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, extra] = s.split('/');
  if (!os || !architecture || extra !== undefined) {
    throw new InvalidArgumentError(
      `platform: ${JSON.stringify(s)} must be os/arch[/variant], e.g. linux/amd64`,
      {
        field: 'platform',
      },
    );
  }
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * The manifest of an index that fits `want`: same os and architecture, and the
 * same variant when both sides name one (arm64 images rarely say `v8`).
 * Exact variant matches win over unspecified ones.
 */
export function pickPlatform(manifests: Descriptor[], want: Platform, what: string): Descriptor {
  const fits = manifests.filter(
    (m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture,
  );
  const exact = fits.find((m) => (m.platform?.variant ?? '') === (want.variant ?? ''));
  const loose = fits.find((m) => !m.platform?.variant || !want.variant);
  const chosen = exact ?? loose;
  if (!chosen) {
    const have = manifests
      .map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown'))
      .filter((p) => p !== 'unknown/unknown')
      .join(', ');
    throw new NotFoundError(
      `${what}: no manifest for platform ${formatPlatform(want)} (available: ${have || 'none'})`,
    );
  }
  return chosen;
}
