import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolPath } from '../../harness/tools.js';

/** One corpus case: a folder with its Compose files and an optional case.json saying how to load them. */
export interface CaseSpec {
  files: string[];
  env: Record<string, string>;
  envFiles?: string[];
  profiles?: string[];
  projectName?: string;
  projectDir?: string;
}

export function readCase(dir: string): CaseSpec {
  const p = join(dir, 'case.json');
  const raw = existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Partial<CaseSpec>) : {};
  return { files: ['compose.yaml'], env: {}, ...raw };
}

/** The loader options berth gets for a case: absolute paths, the case's environment only. */
export function berthOptions(dir: string, spec: CaseSpec) {
  return {
    files: spec.files.map((f) => join(dir, f)),
    env: spec.env,
    ...(spec.envFiles === undefined ? {} : { envFiles: spec.envFiles.map((f) => join(dir, f)) }),
    ...(spec.profiles === undefined ? {} : { profiles: spec.profiles }),
    ...(spec.projectName === undefined ? {} : { projectName: spec.projectName }),
    ...(spec.projectDir === undefined ? {} : { projectDir: join(dir, spec.projectDir) }),
  };
}

export type OracleResult = { ok: true; project: Record<string, unknown> } | { ok: false; error: string };

/** compose-go (test/tools/compose-go) on the same files with the same environment (and nothing else of ours). */
export function runComposeGo(dir: string, spec: CaseSpec): OracleResult {
  const args: string[] = [];
  for (const f of spec.files) args.push('-f', join(dir, f));
  for (const f of spec.envFiles ?? []) args.push('--env-file', join(dir, f));
  for (const p of spec.profiles ?? []) args.push('--profile', p);
  if (spec.projectName !== undefined) args.push('-p', spec.projectName);
  if (spec.projectDir !== undefined) args.push('--project-directory', join(dir, spec.projectDir));
  try {
    const out = execFileSync(toolPath('compose-go'), args, {
      cwd: dir,
      env: spec.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { ok: true, project: JSON.parse(out) as Record<string, unknown> };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { ok: false, error: (err.stderr ?? err.message).trim() };
  }
}
