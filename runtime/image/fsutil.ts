import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export function tmpName(dir: string, prefix: string): string {
  return join(dir, `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}
