import type { Pos } from './errors.js';
import type { ComposeHealthcheck, ComposeService, ComposeUpdateConfig } from './types.js';

/** deploy as one file states it: only what was written, defaults come after the merge. */
export interface DeployDraft {
  replicas?: number;
  limits?: { cpus?: number; memory?: number; pids?: number };
  updateConfig?: Partial<ComposeUpdateConfig>;
  rollbackConfig?: Partial<ComposeUpdateConfig>;
  restartPolicy?: {
    condition?: 'none' | 'on-failure' | 'any';
    delayMs?: number;
    maxAttempts?: number;
    windowMs?: number;
  };
}

/** The fields one file sets on one service, before multi-file merging and defaults. */
export type DraftFields = Partial<Omit<ComposeService, 'deploy' | 'healthcheck' | 'name'>> & {
  deploy?: DeployDraft;
  healthcheck?: Partial<ComposeHealthcheck>;
};

export interface ServiceDraft {
  fields: DraftFields;
  /** Where each key (`image`, `depends_on.db`, `deploy.replicas`) was last written, for checks after the merge. */
  pos: Map<string, Pos>;
}
