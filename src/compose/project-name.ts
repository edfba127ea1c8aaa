import { basename } from 'node:path';
import { ComposeError, type Pos } from './errors.js';

/** compose-go's NormalizeProjectName: lowercase, keep [a-z0-9_-], no leading `_` or `-`. */
export function normalizeProjectName(s: string): string {
  return (s.toLowerCase().match(/[a-z0-9_-]/g) ?? []).join('').replace(/^[_-]+/, '');
}

export interface NameSources {
  /** `-p` / the loader's projectName. */
  explicit?: string;
  /** COMPOSE_PROJECT_NAME from the environment or the env files. */
  fromEnv?: string;
  /** The last `name:` of the files, interpolated. */
  fromFile?: { value: string; pos: Pos };
  projectDir: string;
}

/**
 * The project name in Compose's order: `-p`, then COMPOSE_PROJECT_NAME (both
 * must already be normalized), then `name:` in the files, then the project
 * directory's name (both normalized).
 */
export function projectName(src: NameSources): string {
  for (const [given, where] of [
    [src.explicit, 'the project name'],
    [src.fromEnv, 'COMPOSE_PROJECT_NAME'],
  ] as const) {
    if (given === undefined || given === '') continue;
    if (normalizeProjectName(given) !== given) {
      throw new ComposeError(
        undefined,
        '',
        `invalid ${where} "${given}": lowercase letters, digits, "-" and "_" only, starting with a letter or digit`,
      );
    }
    return given;
  }
  const fromFile = src.fromFile === undefined ? '' : normalizeProjectName(src.fromFile.value);
  if (fromFile !== '') return fromFile;
  const fromDir = normalizeProjectName(basename(src.projectDir));
  if (fromDir === '') {
    throw new ComposeError(
      src.fromFile?.pos,
      src.fromFile === undefined ? '' : 'name',
      `no usable project name (directory "${basename(src.projectDir)}"): set name: or -p`,
    );
  }
  return fromDir;
}
