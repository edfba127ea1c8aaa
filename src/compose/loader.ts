import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDotenv } from './dotenv.js';
import { ComposeError } from './errors.js';
import { finalizeProject } from './finalize.js';
import { mergeFiles } from './merge.js';
import { projectName } from './project-name.js';
import { readFile } from './read-file.js';
import { readComposeText } from './read-text.js';
import { NodeReader } from './reader.js';
import type { ComposeProject } from './types.js';
import { parseYamlTree } from './yaml-tree.js';

export interface LoadOptions {
  /** Compose files, merged in order; relative to the process's directory. */
  files: string[];
  /** Where relative paths and `.env` are found; default: the first file's directory. */
  projectDir?: string;
  /** `--env-file`s; when given, the project's `.env` is not read. */
  envFiles?: string[];
  /** The environment interpolation sees before the env files; default process.env. It wins over env files. */
  env?: Record<string, string | undefined>;
  /** Active profiles; default COMPOSE_PROFILES (comma separated). */
  profiles?: string[];
  /** `-p`: wins over COMPOSE_PROJECT_NAME, `name:` and the directory. */
  projectName?: string;
  /** The files' texts, in the order of `files` (the agent loads what a client sent); default: read from disk. */
  contents?: string[];
}

/**
 * Loads Compose files into berth's normalized project model, the way
 * `docker compose config` does (compose-go, tested against it), refusing
 * every key berth's schema does not support with file:line:col.
 */
export function loadProject(opts: LoadOptions): ComposeProject {
  const first = opts.files[0];
  if (first === undefined) throw new ComposeError(undefined, '', 'no Compose file given');
  const abs = opts.files.map((f) => resolve(f));
  const workingDir = resolve(opts.projectDir ?? dirname(abs[0] ?? first));
  const env = projectEnv(opts, workingDir);
  const profiles =
    opts.profiles ??
    (env.COMPOSE_PROFILES ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
  const trees = opts.files.map((f, i) => {
    let text: string;
    try {
      text = opts.contents?.[i] ?? readComposeText(abs[i] ?? f);
    } catch (e) {
      throw new ComposeError(undefined, '', `cannot read ${f}: ${(e as Error).message}`);
    }
    return parseYamlTree(text, f);
  });
  const plain = new NodeReader((k) => env[k]);
  let fromFile: { value: string; pos: (typeof trees)[number]['pos'] } | undefined;
  for (const t of trees) {
    const n = t.entries.get('name');
    if (n !== undefined) fromFile = { value: plain.str(n.value, 'name'), pos: n.value.pos };
  }
  const name = projectName({
    explicit: opts.projectName,
    fromEnv: env.COMPOSE_PROJECT_NAME,
    fromFile,
    projectDir: workingDir,
  });
  // Files may use ${COMPOSE_PROJECT_NAME}: Compose sets it to the resolved name.
  const lookup = (k: string): string | undefined => (k === 'COMPOSE_PROJECT_NAME' ? name : env[k]);
  const reader = new NodeReader(lookup);
  const drafts = trees.map((t) => readFile(reader, t, workingDir));
  return finalizeProject({
    merged: mergeFiles(drafts),
    name,
    workingDir,
    files: abs,
    profiles,
    lookup,
    filePos: trees[0]?.pos ?? { file: first, line: 1, col: 1 },
  });
}

/** The process environment over the env files (later files over earlier), as compose-go builds it. */
function projectEnv(opts: LoadOptions, workingDir: string): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? process.env)) if (v !== undefined) base[k] = v;
  const files =
    opts.envFiles?.map((f) => resolve(f)) ?? [resolve(workingDir, '.env')].filter((f) => existsSync(f));
  const fromFiles: Record<string, string> = {};
  for (const f of files) {
    let text: string;
    try {
      text = readComposeText(f);
    } catch (e) {
      throw new ComposeError(undefined, '', `cannot read env file ${f}: ${(e as Error).message}`);
    }
    try {
      Object.assign(
        fromFiles,
        parseDotenv(text, (k) => base[k] ?? fromFiles[k]),
      );
    } catch (e) {
      throw new ComposeError(undefined, '', `${f}: ${(e as Error).message}`);
    }
  }
  return { ...fromFiles, ...base };
}
