import { readFile } from 'node:fs/promises';
import Handlebars from 'handlebars';
import { InvalidArgumentError, messageOf } from '../../runtime/base/errors.js';
import type { TemplateData } from './render.js';

/** Turns template data into config text. */
export type ConfigRenderer = (data: TemplateData) => string;

/**
 * A user template in Handlebars. Handlebars over Nunjucks: it is the more
 * widely used and more actively released of the two, ships its own
 * TypeScript types, and is logic-less, so a template cannot run arbitrary
 * code inside the agent. Compiled in `strict` mode (a misspelt field is an
 * error, not an empty string in the config) and without HTML escaping.
 * Each renderer has its own Handlebars environment (`create()`), so helpers
 * do not leak between instances.
 */
export function compileTemplate(source: string, name = 'template'): ConfigRenderer {
  const hb = Handlebars.create();
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
  hb.registerHelper('not', (a: unknown) => !a);
  let compiled: Handlebars.TemplateDelegate<TemplateData>;
  try {
    // compile() is lazy; precompile() parses now, so syntax errors surface at load time.
    hb.precompile(source, { strict: true, noEscape: true });
    compiled = hb.compile<TemplateData>(source, { strict: true, noEscape: true });
  } catch (err) {
    throw new InvalidArgumentError(`haproxy template ${name}: ${messageOf(err)}`, {
      field: 'templatePath',
      cause: err,
    });
  }
  return (data) => {
    try {
      return compiled(data);
    } catch (err) {
      throw new InvalidArgumentError(`haproxy template ${name}: ${messageOf(err)}`, {
        field: 'templatePath',
        cause: err,
      });
    }
  };
}

/** Reads and compiles a template file; the error names the file. */
export async function loadTemplate(path: string): Promise<ConfigRenderer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`templatePath: cannot read ${path}: ${messageOf(err)}`, {
      field: 'templatePath',
      cause: err,
    });
  }
  return compileTemplate(text, path);
}
