import { InvalidArgumentError } from '../../runtime/base/errors.js';

/** Where a node sits in a Compose file: 1-based line and column. */
export interface Pos {
  /** The file as the user named it (what `-f` got), so the message points where they look. */
  file: string;
  line: number;
  col: number;
}

/**
 * A Compose file refused: `file:line:col: key.path: reason`. It is an
 * InvalidArgumentError so the API answers 400; `field` is the key path.
 */
export class ComposeError extends InvalidArgumentError {
  readonly pos: Pos | undefined;
  readonly keyPath: string;
  readonly reason: string;
  constructor(pos: Pos | undefined, keyPath: string, reason: string) {
    const where = pos === undefined ? '' : `${pos.file}:${pos.line}:${pos.col}: `;
    super(`${where}${keyPath === '' ? '' : `${keyPath}: `}${reason}`, { field: keyPath });
    this.pos = pos;
    this.keyPath = keyPath;
    this.reason = reason;
  }
}
