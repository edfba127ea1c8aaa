import { join } from 'node:path';

/**
 * berth's per-user cache (`${BERTH_CACHE:-~/.cache/berth}`), where set-up
 * puts the pinned Node.js, the Go-built test tools, the demo images and the
 * image build's stripped addons. The same rule as .ci/setup.sh, src/bin/berth.js
 * (compile cache) and src/bin/find-node.sh, which cannot import this file.
 */
export function berthCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_CACHE || join(env.HOME || '/root', '.cache', 'berth');
}
