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

// A whole number of fen as yuan with thousands separators, without float arithmetic.
export function fmtFen(fen) {
  if (fen === null || fen === undefined) return '—';
  const n = BigInt(Math.trunc(Number(fen)));
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const yuan = (abs / 100n).toString();
  const cents = (abs % 100n).toString().padStart(2, '0');
  return `${neg ? '-' : ''}¥${group(yuan)}.${cents}`;
}

// Thousands separators in an integer's digits (both languages group by three with a comma).
function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

// A decimal as the API sends it (a string such as "35000.00"), grouped, digits kept as sent:
// no float, so no rounding. Anything that is not a plain decimal is shown as it is.
export function fmtDecimal(v) {
  if (v === null || v === undefined || v === '') return '';
  const s = String(v);
  const m = /^(-?)(\d+)(\.\d+)?$/.exec(s);
  return m ? `${m[1]}${group(m[2])}${m[3] || ''}` : s;
}

// Times in one form in both languages, ISO 8601 in China's time: 2026-12-07 14:05:09.
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

// A date field in one form in both languages (ISO 8601, as every date on the pages): a text
// field, not the browser's picker, whose order of day and month follows the browser's locale
// rather than the page's.
export function dateAttrs() {
  return { type: 'text', inputmode: 'numeric', maxlength: 10, pattern: '\\d{4}-\\d{2}-\\d{2}', placeholder: t('common.date_placeholder'), autocomplete: 'off', spellcheck: 'false' };
}

// A date alone (YYYY-MM-DD), from a date or a time.
export function fmtDate(v) {
  if (!v) return '—';
  const s = String(v);
  return /^\d{4}-\d{2}-\d{2}$/.test(s) ? s : fmtTime(s).slice(0, 10);
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

// Items of a list joined with the page language's separator (；or ; ).
export function joinList(parts) {
  return parts.filter((x) => x !== '' && x !== null && x !== undefined).join(t('common.list_sep'));
}

export function statusBadge(status) {
  return h('span.badge', { class: `badge status-${status}` }, tk('status', status));
}

export function laneBadge(lane) {
  if (!lane) return h('span.muted', '—');
  return h('span', { class: `badge lane lane-${lane}` }, tk('lane', lane));
}

// A server message made for people: parser details (`at line 1 column 73`) dropped.
function cleanMessage(s) {
  return String(s || '').replace(/\s*at line \d+ column \d+/g, '').trim();
}

// Problem codes whose server text is a parser's: a sentence of ours instead, in the page's
// language (the field is named beside it).
const PROBLEM_SENTENCES = {
  json_type: 'problem.json_type', not_json: 'problem.not_json', office_code: 'problem.office_code',
  required: 'form.required', number: 'problem.number',
};

export function problemText(p) {
  if (!p) return '';
  const last = String(p.field || '').split('.').pop();
  if (p.code === 'json_type' && last === 'uscc') return t('problem.uscc');
  if (PROBLEM_SENTENCES[p.code]) return t(PROBLEM_SENTENCES[p.code]);
  // A message that names its field by path names it by label instead.
  let text = cleanMessage(pick(p, 'message'));
  if (p.field && text.includes(p.field)) text = text.split(p.field).join(fieldLabel(p.field));
  return text;
}

// A field path as people say it: `items[0].unit_price` is "Item 1 · Unit price"; a path
// without a known label is shown as it is. `labels`: path (items without their index) -> key.
// The filters of the lists, named like their fields.
const labelSources = [() => ({ office: 'filter.office', from: 'filter.from', to: 'filter.to', lane: 'filter.lane', status: 'filter.status', q: 'list.search' })];
export function registerFieldLabels(source) {
  labelSources.push(source);
}
export function fieldLabel(path) {
  if (!path) return t('form.whole');
  const fieldLabels = Object.assign({}, ...labelSources.map((f) => f()));
  const m = /^items\[(\d+)\]\.(.+)$/.exec(path);
  if (m) {
    const key = fieldLabels[`items.${m[2]}`];
    return `${t('form.item', { n: Number(m[1]) + 1 })} · ${key ? t(key) : m[2]}`;
  }
  const key = fieldLabels[path];
  return key ? t(key) : path;
}

// What went wrong, in a sentence of the page's language: the kind of refusal by its code
// (forbidden, not found, …), else the server's own message in that language.
const ERROR_SENTENCES = {
  forbidden: 'error.forbidden', not_found: 'error.not_found_thing', malformed: 'error.malformed',
  unauthenticated: 'error.unauthenticated', unavailable: 'error.unavailable',
};
export function errorText(e) {
  if (e && ERROR_SENTENCES[e.code]) return t(ERROR_SENTENCES[e.code]);
  if (e && e.status === 403) return t('error.forbidden');
  if (e && e.body && (e.body.message_zh || e.body.message_en)) return cleanMessage(pick(e.body, 'message'));
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
//          suggestions: [value] (a text field's datalist),
//          fills: {field, values} (a select that puts values[choice] into another field)}]
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
    for (const f of fields) {
      if (!f.fills || !inputs[f.fills.field]) continue;
      const fill = () => { inputs[f.fills.field].value = f.fills.values[inputs[f.name].value] ?? ''; };
      inputs[f.name].addEventListener('change', fill);
      fill();
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

// A table; on phones each row becomes a card whose cells carry their column's name
// (`data-label`, drawn by the stylesheet).
export function table(headers, rows, opts = {}) {
  const flat = rows.flat ? rows.flat() : rows;
  for (const tr of flat) {
    if (!(tr instanceof Element)) continue;
    [...tr.children].forEach((td, i) => {
      if (headers[i] && typeof headers[i] === 'string' && !td.dataset.label) td.dataset.label = headers[i];
    });
  }
  const wrap = h('div.table-wrap', h('table', { class: `cards ${opts.cls || ''}`.trim() },
    opts.caption ? h('caption.sr-only', opts.caption) : null,
    h('thead', h('tr', headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows)));
  // A table wider than its place scrolls; the keyboard must reach it then (a Tab stop, named
  // by its caption), and only then.
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(() => {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.setAttribute('tabindex', '0');
        wrap.setAttribute('role', 'region');
        if (opts.caption) wrap.setAttribute('aria-label', opts.caption);
      } else {
        wrap.removeAttribute('tabindex');
        wrap.removeAttribute('role');
        wrap.removeAttribute('aria-label');
      }
    }).observe(wrap);
  }
  return wrap;
}

// A cell's value for sorting: `data-sort` if set (a time as sent, an amount in fen), else its
// text. The export takes the text, as shown.
const cellValue = (td) => (td.dataset.sort !== undefined ? td.dataset.sort : td.textContent.trim());

function compareValues(a, b) {
  // Long digit strings (declaration numbers) are beyond a float's precision: by length, then
  // digit by digit.
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  const na = Number(a.replace(/[,¥\s]/g, ''));
  const nb = Number(b.replace(/[,¥\s]/g, ''));
  if (a !== '' && b !== '' && !Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return a.localeCompare(b, currentLang() === 'zh' ? 'zh-CN' : 'en');
}

// CSV of the rows shown (RFC 4180 quoting), UTF-8 with a byte order mark so that Excel reads
// Chinese correctly, offered as a download.
export function downloadCsv(name, headers, rows) {
  const q = (v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const text = [headers, ...rows].map((r) => r.map((v) => q(String(v))).join(',')).join('\r\n');
  const blob = new Blob(['\ufeff', text, '\r\n'], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// A worklist's tools over the rows loaded: sort by a column (click its head), filter by
// free text, the number shown of the number loaded, and CSV export of what is shown.
// `id` names the controls (`${id}-filter`, `${id}-csv`, `${id}-count`).
export function dataTable(id, headers, rows, { caption, csvName, more = false } = {}) {
  const wrap = table(headers, rows, { caption });
  const tbl = wrap.querySelector('table');
  const body = tbl.tBodies[0];
  const all = [...body.rows];
  const count = h('span.muted.small', { id: `${id}-count`, role: 'status' });
  const filter = h('input', { id: `${id}-filter`, type: 'search', autocomplete: 'off', placeholder: t('table.filter_hint') });
  const sort = { col: -1, dir: 1 };
  const shown = () => all.filter((tr) => !tr.hidden);
  const draw = () => {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    for (const tr of all) {
      const text = tr.textContent.toLowerCase();
      tr.hidden = !words.every((w) => text.includes(w));
    }
    if (sort.col >= 0) {
      const sorted = all.slice().sort((a, b) => sort.dir * compareValues(cellValue(a.cells[sort.col]), cellValue(b.cells[sort.col])));
      body.append(...sorted);
    }
    const n = shown().length;
    count.textContent = t(more ? 'table.count_more' : 'table.count', { shown: fmtNumber(n), loaded: fmtNumber(all.length) });
  };
  [...tbl.tHead.rows[0].cells].forEach((th, i) => {
    const label = th.textContent;
    if (!label) return;
    const btn = h('button.sort', { type: 'button', id: `${id}-sort-${i}` }, label, h('span.sort-mark', { 'aria-hidden': 'true' }, ''));
    btn.addEventListener('click', () => {
      sort.dir = sort.col === i ? -sort.dir : 1;
      sort.col = i;
      for (const other of tbl.tHead.rows[0].cells) other.removeAttribute('aria-sort');
      th.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
      for (const m of tbl.querySelectorAll('.sort-mark')) m.textContent = '';
      btn.querySelector('.sort-mark').textContent = sort.dir > 0 ? ' ▲' : ' ▼';
      draw();
    });
    th.replaceChildren(btn);
  });
  filter.addEventListener('input', draw);
  const csv = h('button.btn-secondary', { type: 'button', id: `${id}-csv` }, t('table.csv'));
  csv.addEventListener('click', () => {
    downloadCsv(csvName || `${id}.csv`, headers, shown().map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
  });
  draw();
  return h('div.data-table', { id: `${id}-tools` },
    h('div.table-tools',
      h('label', { for: `${id}-filter` }, t('table.filter')), filter, count, csv),
    wrap);
}
