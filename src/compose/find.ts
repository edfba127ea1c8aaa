import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The file names Compose looks for, in its order, when no file is named. */
export const DEFAULT_COMPOSE_FILES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yaml',
  'docker-compose.yml',
];

/** The first default Compose file in `dir` or the nearest parent that has one, as `docker compose` finds it. */
export function findComposeFile(dir: string): string | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    for (const name of DEFAULT_COMPOSE_FILES) if (existsSync(join(d, name))) return join(d, name);
    if (dirname(d) === d) return undefined;
  }
}
