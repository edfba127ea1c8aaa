import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Binaries built from the Go module proxy by `.ci/setup.sh test`, cached by version. */
export type BuiltTool = 'consul' | 'helm' | 'compose-go' | 'cadvisor';

const VERSION_KEYS: Record<BuiltTool, string> = {
  consul: 'CONSUL_VERSION',
  helm: 'HELM_VERSION',
  'compose-go': 'COMPOSE_GO_VERSION',
  cadvisor: 'CADVISOR_VERSION',
};

/** test/tools/versions.env, the one place the pinned versions live (setup.sh reads it too). */
export function versionsEnvPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'versions.env');
}

/** KEY=value lines of versions.env; comments and blank lines ignored. */
export function readVersions(path = versionsEnvPath()): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)=["']?([^"'\s]*)["']?$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

export function cacheDir(): string {
  const env = process.env.BERTH_CACHE;
  return env !== undefined && env !== '' ? env : join(homedir(), '.cache', 'berth');
}

/** Absolute path of the built binary, e.g. ~/.cache/berth/bin/consul-1.22.3; throws with the fix when missing. */
export function toolPath(name: BuiltTool): string {
  const key = VERSION_KEYS[name];
  const version = readVersions()[key];
  if (version === undefined || version === '') {
    throw new Error(`toolPath(${name}): ${key} is not set in ${versionsEnvPath()}`);
  }
  const path = join(cacheDir(), 'bin', `${name}-${version}`);
  if (!existsSync(path)) {
    throw new Error(
      `${name} ${version} is not built: ${path} is missing. Run \`bash .ci/setup.sh test\` (builds it with Go, cached by version).`,
    );
  }
  return path;
}
