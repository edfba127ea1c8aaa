import { InvalidArgumentError } from '../base/errors.js';
import { bad } from './fields.js';
import type { SeccompChoice } from './types.js';

/** `no-new-privileges[:true|false]` and `seccomp=unconfined|<path>`; a profile file is read here, once. */
export async function parseSecurityOpts(
  list: string[],
  readProfile: (path: string) => Promise<string>,
): Promise<{ noNewPrivileges: boolean; seccomp: SeccompChoice }> {
  let noNewPrivileges = true;
  let seccomp: SeccompChoice = { mode: 'default' };
  for (const [i, o] of list.entries()) {
    const field = `securityOpt[${i}]`;
    const nnp = /^no-new-privileges(?:[:=](true|false))?$/.exec(o);
    if (nnp) {
      noNewPrivileges = nnp[1] !== 'false';
      continue;
    }
    const sc = /^seccomp[:=](.+)$/.exec(o);
    if (sc) {
      const v = sc[1] ?? '';
      if (v === 'unconfined') seccomp = { mode: 'unconfined' };
      else {
        if (!v.startsWith('/'))
          throw bad(
            field,
            `seccomp profile path ${JSON.stringify(v)} must be absolute (or use seccomp=unconfined)`,
          );
        let profile: unknown;
        try {
          profile = JSON.parse(await readProfile(v));
        } catch (err) {
          throw new InvalidArgumentError(
            `${field}: cannot read seccomp profile ${v}: ${(err as Error).message}`,
            {
              field,
              cause: err,
            },
          );
        }
        if (
          !profile ||
          typeof profile !== 'object' ||
          typeof (profile as Record<string, unknown>).defaultAction !== 'string'
        ) {
          throw bad(field, `seccomp profile ${v} has no defaultAction: not a seccomp profile`);
        }
        seccomp = { mode: 'custom', profile: profile as Record<string, unknown> };
      }
      continue;
    }
    throw bad(
      field,
      `unsupported ${JSON.stringify(o)}: berth knows no-new-privileges[:true|false] and seccomp=unconfined|<path>`,
    );
  }
  return { noNewPrivileges, seccomp };
}
