/**
 * Restart policies as Docker defines them, decided without systemd:
 * - `no`: never restart.
 * - `on-failure[:N]`: restart when the exit code is non-zero, at most N times
 *   (unlimited without N).
 * - `always`: restart whatever the exit code, unless the user stopped it.
 * - `unless-stopped`: like `always`, and also not brought back at agent start
 *   when the user had stopped it (`always` containers the user stopped come
 *   back on agent restart, as in Docker).
 */
export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';

export interface RestartPolicy {
  name: RestartPolicyName;
  /** For on-failure: most restarts; 0 = unlimited. */
  maxRetries: number;
}
