/**
 * Confirmation before every action (stop, restart, scale, roll back): a
 * native modal <dialog>, so the browser traps focus inside it, Escape cancels
 * and focus returns where it was; the confirm button has focus, so Enter
 * confirms. An optional input (the replica count of a scale) is checked
 * before the dialog closes and its error is shown beside it.
 */
import { focusKey, h, restoreFocus } from './dom.js';

export interface ConfirmOptions {
  title: string;
  body: string;
  confirm: string;
  /** Destructive actions get the warning colour. */
  danger?: boolean;
  input?: { label: string; value: string; check(v: string): string | undefined };
}

/** Resolves to the input's value (or '' without input) when confirmed, undefined when cancelled. */
export function confirmAction(opts: ConfirmOptions): Promise<string | undefined> {
  const before = document.activeElement as HTMLElement | null;
  return new Promise((resolve) => {
    const error = h('p', { class: 'dialog-error', role: 'alert' });
    const input = opts.input
      ? h('input', {
          type: 'text',
          inputmode: 'numeric',
          value: opts.input.value,
          'aria-label': opts.input.label,
        })
      : undefined;
    const ok = h(
      'button',
      { type: 'submit', class: opts.danger ? 'danger' : 'primary', value: 'ok' },
      opts.confirm,
    );
    const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
    const form = h(
      'form',
      { method: 'dialog' },
      h('h2', null, opts.title),
      h('p', null, opts.body),
      input ? h('label', null, opts.input?.label ?? '', ' ', input) : null,
      error,
      h('div', { class: 'dialog-buttons' }, cancel, ok),
    );
    const dlg = h('dialog', { class: 'confirm', 'aria-label': opts.title }, form);
    let result: string | undefined;
    form.addEventListener('submit', (ev) => {
      if (input && opts.input) {
        const why = opts.input.check(input.value.trim());
        if (why) {
          ev.preventDefault();
          error.textContent = why;
          input.focus();
          return;
        }
        result = input.value.trim();
      } else {
        result = '';
      }
    });
    cancel.addEventListener('click', () => dlg.close());
    // The opener may be redrawn while the dialog is open (a container event): keep where it was.
    const key = focusKey(before);
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (before?.isConnected) before.focus();
      else restoreFocus(key);
      resolve(result);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    (input ?? ok).focus();
  });
}

/** A short notice at the bottom of the page (the result of an action, or why it failed). */
export function notify(message: string, kind: 'ok' | 'error' = 'ok'): void {
  let area = document.getElementById('notices');
  if (!area) {
    area = h('div', { id: 'notices', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(area);
  }
  const n = h('div', { class: `notice ${kind}` }, message);
  area.appendChild(n);
  setTimeout(() => n.remove(), kind === 'error' ? 10_000 : 4000);
}
