import { stat } from 'node:fs/promises';
import { InvalidArgumentError } from '../../runtime/base/errors.js';
import { dirOf } from './binds.js';
import type { HaproxyOptions } from './config.js';
import { renderDefault, templateData } from './render.js';
import type { LbState } from './slots.js';
import { type ConfigRenderer, loadTemplate } from './template.js';
import { validateConfigText } from './validate.js';

/**
 * Slot state → config text → a text `haproxy -c` accepted: the renderer (a
 * fixed one, the user's template recompiled when its file changes, or the
 * default generator) and the check against the HAProxy binary with berth's
 * prelude files.
 */
export class ConfigText {
  private renderer: ConfigRenderer | undefined;
  private readonly fixed: boolean;
  /** mtime and size of the template file the renderer was compiled from. */
  private stamp = '';

  constructor(
    private readonly opts: HaproxyOptions,
    renderer: ConfigRenderer | undefined,
    private readonly preludeFiles: () => string[],
  ) {
    this.renderer = renderer;
    this.fixed = renderer !== undefined;
  }

  /** At start: the user template (a broken one fails here), or the default generator. */
  async init(): Promise<void> {
    if (this.renderer !== undefined) return;
    if (this.opts.templatePath !== undefined) await this.refresh();
    else this.renderer = (data) => renderDefault(data);
  }

  /** Recompiles the user template when its file changed (an edit takes effect with the next apply). */
  async refresh(): Promise<void> {
    const path = this.opts.templatePath;
    if (path === undefined || this.fixed) return;
    let stamp = '';
    try {
      const st = await stat(path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      // loadTemplate below reports the missing file with its path
    }
    if (stamp !== '' && stamp === this.stamp && this.renderer !== undefined) return;
    this.renderer = await loadTemplate(path);
    this.stamp = stamp;
  }

  render(state: LbState): string {
    const r = this.renderer;
    if (r === undefined) throw new InvalidArgumentError('haproxy: manager not started');
    return r(
      templateData(state, {
        bindAddress: this.opts.bindAddress,
        timeoutConnectMs: this.opts.timeoutConnectMs,
        timeoutClientMs: this.opts.timeoutClientMs,
        timeoutServerMs: this.opts.timeoutServerMs,
        checkIntervalMs: this.opts.checkIntervalMs,
        hardStopAfterMs: this.opts.hardStopAfterMs,
        exporterListen: this.opts.exporterListen,
      }),
    );
  }

  /** `haproxy -c` on `text`: the candidate to install, or ConfigRejectedError naming the line. */
  validate(text: string): Promise<string> {
    return validateConfigText(text, {
      binary: this.opts.binary,
      preludeFiles: this.preludeFiles(),
      dir: dirOf(this.opts.configPath),
      timeoutMs: this.opts.validateTimeoutMs,
    });
  }
}
