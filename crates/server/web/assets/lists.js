// The declarations lists (the trader's "my declarations", the officers' worklists) searched,
// sorted and paged by the service (GET /api/declarations with q, sort, page): free text,
// filters with a date range, sortable column headers, page numbers with the total, CSV and
// .xlsx export of the same query (GET /api/declarations/export), and saved filters kept in
// this browser (localStorage). The state lives in the page's address (#/…?q=…&sort=…&page=…),
// so a dashboard chart can link to a filtered list and the back button works.
import { t, tk, currentLang } from './i18n.js';
import { ApiError } from './api.js';
import { h, clear, emptyState, fmtNumber, dateAttrs, fieldLabel, problemText, errorText, toast } from './ui.js';
import { declarationPage, declarationRows, statusSelect } from './portal.js';

// The parameters a list keeps in the address and sends to the service.
export const LIST_KEYS = ['q', 'status', 'lane', 'office', 'declarant', 'commodity', 'country', 'from', 'to', 'sort', 'page'];
const PER_PAGE = 20;
// A refused parameter is named by its filter's label.
const FILTER_LABELS = {
  q: 'list.search', status: 'filter.status', lane: 'filter.lane', office: 'filter.office',
  commodity: 'filter.commodity', country: 'filter.country', from: 'filter.from', to: 'filter.to',
};
// Column → the service's sort key (null: not sortable).
const COLUMNS = [
  ['list.number', 'declaration_no'],
  ['f.direction', 'direction'],
  ['f.declaration_office', 'declaration_office'],
  ['detail.declarant', 'declarant'],
  ['detail.status', 'status'],
  ['detail.lane', 'lane'],
  ['detail.submitted_at', 'submitted_at'],
];

// A day (YYYY-MM-DD) as the start of that day in China's time; `next`: of the day after (an
// inclusive "to" date). Anything else is sent as typed, for the service to say what is wrong.
function dayStart(v, next = false) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
  const d = new Date(`${v}T00:00:00+08:00`);
  if (next) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}

// The service's query of a list's state (`fixed`: what the page always asks, such as a tab's status).
export function serviceQuery(state, extra = {}) {
  const q = new URLSearchParams();
  for (const k of LIST_KEYS) {
    const v = state.get(k);
    if (!v) continue;
    if (k === 'from') q.set('from', dayStart(v));
    else if (k === 'to') q.set('to', dayStart(v, true));
    else q.set(k, v);
  }
  if (!q.has('sort')) q.set('sort', '-submitted_at');
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

function savedKey(login, listId) {
  return `jinguan.filters.${login}.${listId}`;
}

function readSaved(login, listId) {
  try {
    return JSON.parse(localStorage.getItem(savedKey(login, listId)) || '[]');
  } catch {
    return [];
  }
}

// A searchable, sortable, paged list. `hashBase`: the page's address without its query;
// `params`: the address's parameters; `keep`: parameters of the page itself kept on every
// change (a tab); `fields`: which filters to offer besides the text and dates; `statusDefault`:
// the status asked when the address names none.
export async function serverList(el, { id, hashBase, params, keep = {}, fields = [], statusDefault = '', hrefOf, session, emptyKey = 'list.empty' }) {
  const state = new URLSearchParams();
  for (const k of LIST_KEYS) if (params.get(k)) state.set(k, params.get(k));
  if (!params.has('status') && statusDefault) state.set('status', statusDefault);
  const go = (next) => {
    const q = new URLSearchParams(keep);
    for (const k of LIST_KEYS) if (next.get(k)) q.set(k, next.get(k));
    if (!params.has('status') && statusDefault && !next.has('status')) q.set('status', '');
    location.hash = `${hashBase}?${q}`;
  };

  // The filter form.
  const qIn = h('input', { id: `${id}-q`, name: 'q', type: 'search', value: state.get('q') || '', autocomplete: 'off', placeholder: t('list.search_hint') });
  const fromIn = h('input', { id: `${id}-from`, name: 'from', ...dateAttrs(), value: state.get('from') || '' });
  const toIn = h('input', { id: `${id}-to`, name: 'to', ...dateAttrs(), value: state.get('to') || '' });
  const inputs = { q: qIn, from: fromIn, to: toIn };
  const parts = [h('div.field', h('label', { for: `${id}-q` }, t('list.search')), qIn)];
  if (fields.includes('status')) {
    inputs.status = statusSelect(`${id}-status`, state.get('status') || '');
    parts.push(h('div.field', h('label', { for: `${id}-status` }, t('filter.status')), inputs.status));
  }
  if (fields.includes('lane')) {
    inputs.lane = h('select', { id: `${id}-lane`, name: 'lane' }, h('option', { value: '' }, t('filter.any_lane')),
      ['green', 'yellow', 'red', 'blue'].map((l) => h('option', { value: l, selected: l === state.get('lane') ? true : null }, tk('lane', l))));
    parts.push(h('div.field', h('label', { for: `${id}-lane` }, t('filter.lane')), inputs.lane));
  }
  if (fields.includes('office')) {
    inputs.office = h('input', { id: `${id}-office`, name: 'office', value: state.get('office') || '', size: 6, autocomplete: 'off', inputmode: 'numeric' });
    parts.push(h('div.field', h('label', { for: `${id}-office` }, t('filter.office')), inputs.office));
  }
  // The dashboard's drill-down filters: a commodity code (its first digits) and a trading country.
  if (fields.includes('commodity')) {
    inputs.commodity = h('input', { id: `${id}-commodity`, name: 'commodity', value: state.get('commodity') || '', size: 10, maxlength: 10, autocomplete: 'off', inputmode: 'numeric' });
    parts.push(h('div.field', h('label', { for: `${id}-commodity` }, t('filter.commodity')), inputs.commodity));
  }
  if (fields.includes('country')) {
    inputs.country = h('input', { id: `${id}-country`, name: 'country', value: state.get('country') || '', size: 4, maxlength: 3, autocomplete: 'off' });
    parts.push(h('div.field', h('label', { for: `${id}-country` }, t('filter.country')), inputs.country));
  }
  parts.push(h('div.field', h('label', { for: `${id}-from` }, t('filter.from')), fromIn));
  parts.push(h('div.field', h('label', { for: `${id}-to` }, t('filter.to')), toIn));
  const form = h('form.filters.list-filters', { role: 'search', id: `${id}-filters` }, parts,
    h('button.btn-secondary', { type: 'submit', id: `${id}-apply` }, t('filter.apply')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [k, input] of Object.entries(inputs)) if (input.value.trim()) next.set(k, input.value.trim());
    if (state.get('sort')) next.set('sort', state.get('sort'));
    if (inputs.status && !inputs.status.value) next.set('status', '');
    go(next);
  });

  // Saved filters (this browser only).
  const login = session.principal.login;
  const savedSel = h('select', { id: `${id}-saved` }, h('option', { value: '' }, t('list.saved_pick')));
  const fillSaved = () => {
    clear(savedSel).append(h('option', { value: '' }, t('list.saved_pick')),
      readSaved(login, id).map((s, i) => h('option', { value: String(i) }, s.name)));
  };
  fillSaved();
  savedSel.addEventListener('change', () => {
    const s = readSaved(login, id)[Number(savedSel.value)];
    if (s) go(new URLSearchParams(s.query));
  });
  const saveBtn = h('button.btn-link', { type: 'button', id: `${id}-save` }, t('list.save_filter'));
  saveBtn.addEventListener('click', () => {
    const name = (qIn.value.trim() || [...state.entries()].filter(([k]) => k !== 'page' && k !== 'sort').map(([, v]) => v).join(' ') || t('list.all')).slice(0, 40);
    const list = readSaved(login, id).filter((s) => s.name !== name);
    const query = new URLSearchParams(state);
    query.delete('page');
    list.unshift({ name, query: query.toString() });
    localStorage.setItem(savedKey(login, id), JSON.stringify(list.slice(0, 10)));
    fillSaved();
    toast(() => t('list.saved_done', { name }));
  });
  const savedBox = h('div.saved-filters', h('label', { for: `${id}-saved` }, t('list.saved')), savedSel, saveBtn);

  const body = h('div', { id });
  el.append(h('section.card', { 'aria-label': t('list.caption') }, form, savedBox, body));

  const query = serviceQuery(state, { limit: String(PER_PAGE), page: state.get('page') || '1' });
  let page;
  try {
    page = await declarationPage(query);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status >= 500 || e.status === 401) throw e;
    for (const p of e.problems) if (inputs[p.field]) inputs[p.field].setAttribute('aria-invalid', 'true');
    const label = (f) => (FILTER_LABELS[f] ? t(FILTER_LABELS[f]) : fieldLabel(f));
    const problems = e.problems.length ? e.problems.map((p) => h('li', p.field ? [h('strong', label(p.field)), t('common.colon')] : null, problemText(p))) : [h('li', errorText(e))];
    body.append(h('div.error-summary', { id: `${id}-error`, role: 'alert' }, h('h2', t('hq.filter_problem')), h('ul', problems)));
    return;
  }

  // Export of the same query (all its pages), in the page's language.
  const exportQ = serviceQuery(state, { lang: currentLang() === 'zh' ? 'zh' : 'en' });
  const csvQ = new URLSearchParams(exportQ);
  csvQ.set('format', 'csv');
  const xlsxQ = new URLSearchParams(exportQ);
  xlsxQ.set('format', 'xlsx');
  const total = h('p.list-total', { id: `${id}-total`, role: 'status' }, t('list.total', { total: fmtNumber(page.total), page: fmtNumber(page.total ? page.page : 0), pages: fmtNumber(page.pages) }));
  const exports = h('div.list-export',
    h('a.btn-secondary', { id: `${id}-export-csv`, href: `/api/declarations/export?${csvQ}`, download: '' }, t('list.export_csv')),
    h('a.btn-secondary', { id: `${id}-export-xlsx`, href: `/api/declarations/export?${xlsxQ}`, download: '' }, t('list.export_xlsx')));
  body.append(h('div.table-tools', total, exports));
  if (!page.items.length) {
    body.append(emptyState(t(emptyKey)));
    return;
  }

  // The table: each header a button that sorts by its column on the service.
  const sort = state.get('sort') || '-submitted_at';
  const desc = sort.startsWith('-');
  const sortKey = desc ? sort.slice(1) : sort;
  const heads = COLUMNS.map(([key, col]) => {
    const active = col === sortKey;
    const btn = h('button.sort', { type: 'button', id: `${id}-sort-${col}` }, t(key),
      h('span.sort-mark', { 'aria-hidden': 'true' }, active ? (desc ? ' ▼' : ' ▲') : ''));
    btn.addEventListener('click', () => {
      const next = new URLSearchParams(state);
      next.set('sort', active && !desc ? `-${col}` : col);
      next.delete('page');
      go(next);
    });
    const th = h('th', { scope: 'col', 'aria-sort': active ? (desc ? 'descending' : 'ascending') : null }, btn);
    return [th, t(key)];
  });
  const rows = declarationRows(page.items, hrefOf);
  for (const tr of rows) [...tr.children].forEach((td, i) => { td.dataset.label = heads[i][1]; });
  body.append(h('div.table-wrap', h('table.cards', { id: `${id}-table` },
    h('caption.sr-only', t('list.caption')),
    h('thead', h('tr', heads.map(([th]) => th))),
    h('tbody', rows))));

  // Page numbers: the first, the last, and two either side of the current one.
  if (page.pages > 1) {
    const cur = page.page;
    const nums = [...new Set([1, cur - 2, cur - 1, cur, cur + 1, cur + 2, page.pages])].filter((n) => n >= 1 && n <= page.pages).sort((a, b) => a - b);
    const link = (n, label, rel) => {
      const next = new URLSearchParams(state);
      next.set('page', String(n));
      const q = new URLSearchParams(keep);
      for (const k of LIST_KEYS) if (next.get(k)) q.set(k, next.get(k));
      if (!params.has('status') && statusDefault && !next.has('status')) q.set('status', '');
      return h('a', { href: `${hashBase}?${q}`, rel, 'aria-current': n === cur && !rel ? 'page' : null, 'aria-label': rel ? null : t('list.page_n', { n }) }, label);
    };
    const items = [];
    if (cur > 1) items.push(link(cur - 1, t('list.prev'), 'prev'));
    let last = 0;
    for (const n of nums) {
      if (n > last + 1) items.push(h('span.gap', { 'aria-hidden': 'true' }, '…'));
      items.push(link(n, fmtNumber(n)));
      last = n;
    }
    if (cur < page.pages) items.push(link(cur + 1, t('list.next'), 'next'));
    body.append(h('nav.pager', { id: `${id}-pager`, 'aria-label': t('list.pages') }, items));
  }
}
