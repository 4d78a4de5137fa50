// Small helpers for building pages: elements, formatting, badges, toasts, confirmation dialogs.
import { t, tk, currentLang, pick } from './i18n.js';
import { codeRow, knownCodeRow } from './api.js';

// h('tag.class#id', {attr: value, onclick: fn}, ...children)
export function h(spec, attrs, ...children) {
  const m = spec.match(/^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i);
  const el = document.createElement((m && m[1]) || 'div');
  ((m && m[2]) || '').replace(/([.#])([\w-]+)/g, (_, kind, name) => {
    if (kind === '.') el.classList.add(name);
    else el.id = name;
    return '';
  });
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const locale = () => (currentLang() === 'zh' ? 'zh-CN' : 'en-GB');

export function fmtFen(fen) {
  if (fen === null || fen === undefined) return '—';
  const yuan = Number(fen) / 100;
  return '¥' + yuan.toLocaleString(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(locale(), { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtSeconds(s) {
  if (s === null || s === undefined) return '—';
  if (s < 60) return t('unit.seconds', { n: s });
  if (s < 3600) return t('unit.minutes', { n: (s / 60).toFixed(1) });
  return t('unit.hours', { n: (s / 3600).toFixed(1) });
}

export function fmtNumber(n) {
  return Number(n).toLocaleString(locale());
}

export function statusBadge(status) {
  return h('span.badge', { class: `badge status-${status}` }, tk('status', status));
}

export function laneBadge(lane) {
  if (!lane) return h('span.muted', '—');
  return h('span', { class: `badge lane lane-${lane}` }, tk('lane', lane));
}

export function problemText(p) {
  return pick(p, 'message');
}

export function errorText(e) {
  if (e && e.body && (e.body.message_zh || e.body.message_en)) return pick(e.body, 'message');
  return t('error.network');
}

// A toast's text is a function of the language (`() => t('key', vars)`), drawn when shown and
// again if the language changes while it is up; a plain string is shown as it is, and hidden
// at a language change (it cannot follow).
let toastTimer;
let toastText = null;
export function toast(msg, kind = 'ok') {
  const el = document.getElementById('toast');
  toastText = msg;
  el.className = `show ${kind}`;
  el.textContent = typeof msg === 'function' ? msg() : msg;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = ''; toastText = null; }, 5000);
}

// After the language changed: the toast up (or fading) says its text in the new language.
export function relangToast() {
  const el = document.getElementById('toast');
  if (typeof toastText === 'function') {
    el.textContent = toastText();
  } else {
    hideToast();
  }
}

// Take the toast down at once (its message no longer applies: a sign-in after "signed out").
export function hideToast() {
  const el = document.getElementById('toast');
  clearTimeout(toastTimer);
  el.className = '';
  el.textContent = '';
  toastText = null;
}

// A code of a reference table with its name in the page's language (`5 航空运输`, `5 Air
// transport`): named at once if the code was looked up before (`loadCodeRows`), else when the
// lookup answers; the bare code if it fails or the table has no such code. `unit`: the name
// only, the code in its title (a unit after a quantity).
export function codeName(table, code, { unit = false } = {}) {
  if (code === undefined || code === null || code === '') return '';
  const el = h('span.code-name', { dataset: { table, code: String(code) } });
  const draw = (row) => {
    const name = row ? pick(row, 'name') : '';
    if (unit && name) {
      el.title = String(code);
      clear(el).append(h('span.code-label', name));
    } else {
      append(clear(el), [h('span.mono', String(code)), name ? [' ', h('span.code-label', name)] : null]);
    }
  };
  const known = knownCodeRow(table, code);
  draw(known || null);
  if (known === undefined) codeRow(table, code).then(draw);
  return el;
}

// A modal confirmation with optional fields. Resolves to the field values, or null if cancelled.
// fields: [{name, label, type: 'text'|'select'|'textarea', options: [[value, label]], required, value,
//          suggestions: [value] (a text field's datalist)}]
export function confirmDialog({ title, text, fields = [], confirm, danger = false }) {
  const dlg = document.getElementById('dialog');
  clear(dlg);
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog' });
    const inputs = {};
    const body = [h('h2#dialog-title', title)];
    if (text) body.push(h('p', text));
    for (const f of fields) {
      const id = `dlg-${f.name}`;
      let input;
      if (f.type === 'select') {
        input = h('select', { id, name: f.name }, f.options.map(([v, l]) => h('option', { value: v }, l)));
      } else if (f.type === 'textarea') {
        input = h('textarea', { id, name: f.name, rows: 3 });
      } else {
        input = h('input', { id, name: f.name, type: 'text', autocomplete: 'off' });
      }
      let list = null;
      if (f.suggestions && f.suggestions.length) {
        list = h('datalist', { id: `${id}-list` }, f.suggestions.map((v) => h('option', { value: v })));
        input.setAttribute('list', list.id);
      }
      if (f.value !== undefined) input.value = f.value;
      if (f.required) input.required = true;
      inputs[f.name] = input;
      body.push(h('div.field', h('label', { for: id }, f.label, f.required ? h('span.req', { 'aria-hidden': 'true' }, ' *') : null), input, list));
    }
    const cancel = h('button.btn-secondary', { type: 'button', value: 'cancel' }, t('action.cancel'));
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'btn-danger' : 'btn-primary', id: 'dialog-confirm' }, confirm || t('action.confirm'));
    body.push(h('div.actions', cancel, ok));
    form.append(...body);
    dlg.append(form);
    dlg.setAttribute('aria-labelledby', 'dialog-title');
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (dlg.open) dlg.close();
      resolve(v);
    };
    cancel.addEventListener('click', () => finish(null));
    dlg.addEventListener('cancel', () => finish(null), { once: true });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      const values = {};
      for (const [k, el] of Object.entries(inputs)) values[k] = el.value.trim();
      finish(values);
    });
    dlg.showModal();
    const first = fields.length ? inputs[fields[0].name] : ok;
    first.focus();
  });
}

export function section(titleKey, ...content) {
  const id = `s-${titleKey.replace(/\W/g, '-')}`;
  return h('section.card', { 'aria-labelledby': id }, h('h2', { id }, t(titleKey)), ...content);
}

export function emptyState(text) {
  return h('p.empty', text);
}

export function table(headers, rows, opts = {}) {
  return h('div.table-wrap', h('table', { class: opts.cls || '' },
    opts.caption ? h('caption.sr-only', opts.caption) : null,
    h('thead', h('tr', headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows)));
}
