// Enterprise portal: my declarations (with my drafts, kept by the server), one declaration with its timeline, taxes
// and payment through a bank (initiated here, confirmed by the bank's user), amendment / cancellation, and
// the E-Port services, with the licence ledger (also the commerce agency's, on its desk).
import { t, tk } from './i18n.js';
import { get, post, ApiError, loadCodeRows } from './api.js';
import { h, clear, fmtFen, fmtTime, fmtDate, fmtDecimal, statusBadge, laneBadge, section, table, dataTable, emptyState, toast, confirmDialog, errorText, problemText, codeName, fieldLabel, dateAttrs } from './ui.js';
import { summary, timeline, taxes, items, parties, documents, loadDetailCodes, printButton, attachmentsSection, printTitle } from './detail.js';
import { listDrafts, deleteDraft } from './form.js';
import { myRefunds, myForex } from './finance.js';
import { versionHistory, refunds } from './versions.js';
import { serverList } from './lists.js';

const STATUSES = ['submitted', 'rejected', 'accepted', 'document_review', 'inspection', 'awaiting_assessment', 'assessed', 'paid', 'released', 'closed', 'withdrawn', 'cancelled', 'suspended'];

export function statusSelect(id, value) {
  return h('select', { id, name: 'status' },
    h('option', { value: '' }, t('filter.any_status')),
    STATUSES.map((s) => h('option', { value: s, selected: s === value ? true : null }, tk('status', s))));
}

export function declarationRows(items, hrefOf) {
  // Each row says which declaration and version it shows (a notification about a newer
  // version redraws the list: app.js).
  return items.map((d) => h('tr', { dataset: { declaration: String(d.id), version: String(d.version) } },
    h('td', h('a', { href: hrefOf(d), class: 'mono' }, d.declaration_no || d.pre_entry_no)),
    h('td', tk('direction', d.direction)),
    h('td', codeName('offices', d.declaration_office)),
    h('td.mono', d.declarant),
    h('td', statusBadge(d.status)),
    h('td', laneBadge(d.lane)),
    h('td', { dataset: { sort: d.submitted_at || '' } }, fmtTime(d.submitted_at))));
}

// A page of declarations, listed: their offices' names looked up first.
export async function declarationPage(query) {
  const page = await get(`/api/declarations?${query}`);
  await loadCodeRows(page.items.map((d) => ['offices', d.declaration_office]).filter(([, c]) => c));
  return page;
}

// The declarations loaded, with sorting, a filter, the count and CSV export (`more`: the
// server has more than loaded).
export function declarationTable(items, hrefOf, { id = 'declarations', more = false } = {}) {
  return dataTable(id, [t('list.number'), t('f.direction'), t('f.declaration_office'), t('detail.declarant'), t('detail.status'), t('detail.lane'), t('detail.submitted_at')],
    declarationRows(items, hrefOf), { caption: t('list.caption'), csvName: `${id}.csv`, more });
}

export async function portalList(el, { params, session }) {
  el.append(h('div.page-head', h('h1', t('portal.title')),
    h('a.btn-primary#new-declaration', { href: '#/portal/new' }, t('nav.new'))));

  // Drafts, kept by the server: the user's own, with the time each was last saved.
  const drafts = await listDrafts();
  if (drafts.length) {
    el.append(section('portal.drafts', h('p.muted.small', t('portal.drafts_note')), h('ul.drafts#drafts', drafts.map((d) => h('li', { dataset: { draft: String(d.id) } },
      h('a', { href: `#/portal/new?draft=${d.id}` }, d.title || t('portal.untitled')),
      h('span.muted', ` ${t('portal.saved_at', { at: fmtTime(d.updated_at) })} `),
      h('button.btn-link', { type: 'button', 'aria-label': `${t('action.delete')} ${d.title || t('portal.untitled')}`, onclick: async () => {
        if (await confirmDialog({ title: t('portal.delete_draft'), text: d.title || t('portal.untitled'), danger: true, confirm: t('action.delete') })) {
          try {
            await deleteDraft(d.id);
            toast(() => t('portal.draft_deleted'));
          } catch (e) {
            toast(() => errorText(e), 'error');
          }
          window.dispatchEvent(new HashChangeEvent('hashchange'));
        }
      } }, t('action.delete')))))));
  }

  el.append(h('h2.list-title#s-portal-mine', t('portal.mine')));
  await serverList(el, { id: 'mine', hashBase: '#/portal', params, fields: ['status'], hrefOf: (d) => `#/portal/d/${d.id}`, session });
}

// The statuses in which the declarant may ask (clearance::decide): an amendment or a
// cancellation from acceptance until release; an amendment approved after assessment makes a
// new version, re-assessed (docs/TAX.md "Re-assessment").
const AMENDABLE = ['accepted', 'document_review', 'inspection', 'awaiting_assessment', 'assessed', 'paid', 'released'];
const CANCELLABLE = AMENDABLE;

// The fields an amendment may name, from the declaration as filed: items first, then the
// header; each [path, label with its value as filed] ("Item 1 · Unit price (350.0000)").
function fieldChoices(x) {
  if (!x) return [];
  const scalar = (v) => v !== null && typeof v !== 'object';
  const choice = (path, v) => [path, `${fieldLabel(path)} (${v})`];
  const items = (x.items || []).flatMap((it, i) => Object.keys(it).filter((k) => k !== 'item_no' && scalar(it[k])).map((k) => choice(`items[${i}].${k}`, it[k])));
  const header = Object.keys(x).filter((k) => scalar(x[k])).map((k) => choice(k, x[k]));
  return [...items, ...header];
}

// The filed value of each field an amendment may name, by path.
function filedValues(x) {
  return Object.fromEntries(fieldChoices(x).map(([path]) => {
    const m = /^items\[(\d+)\]\.(.+)$/.exec(path);
    const v = m ? ((x.items || [])[Number(m[1])] || {})[m[2]] : x[path];
    return [path, v === undefined || v === null ? '' : String(v)];
  }));
}

async function step(id, name, body, okKey) {
  try {
    const r = await post(`/api/declarations/${id}/${name}`, body);
    toast(() => t(okKey, { status: tk('status', r.status) }));
    return true;
  } catch (e) {
    toast(() => errorText(e), 'error');
    return false;
  }
}

export async function portalDetail(el, ctx) {
  const [d, versions] = await Promise.all([get(`/api/declarations/${ctx.id}`), get(`/api/declarations/${ctx.id}/versions`).catch(() => [])]);
  await loadDetailCodes(d);
  if (!ctx.isCurrent()) return;
  // Which declaration and version the page shows (a notification about a newer one redraws it).
  Object.assign(el.dataset, { declaration: String(d.id), version: String(d.version) });
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  const s = d.state;

  // Payment goes through a bank (docs/TAX.md): the enterprise initiates it, naming its bank, and
  // sees the amount due today (tax plus late payment surcharge); the bank's user confirms it.
  const pay = (n) => (s.pending_request ? null : h('button.btn-primary', { type: 'button', 'data-notice': n.notice_no, onclick: async () => {
    const view = (d.notice_views || []).find((v) => v.notice_no === n.notice_no) || {};
    const v = await confirmDialog({
      title: t('pay.title'),
      text: t('pay.text', { notice: n.notice_no, amount: fmtFen(view.amount_due_fen ?? n.amount_fen), tax: tk('tax', n.tax), due: view.due_on || '' }),
      fields: [{ name: 'bank', label: t('pay.bank'), required: true, value: n.payment ? n.payment.bank : 'bank-boc' }],
      confirm: t('pay.confirm'),
    });
    if (!v) return;
    try {
      const r = await post(`/api/notices/${encodeURIComponent(n.notice_no)}/payment-initiation`, { bank: v.bank });
      toast(() => t('pay.done', { bank: r.initiated_bank, amount: fmtFen(r.amount_due_fen) }));
      reload();
    } catch (e) {
      toast(() => errorText(e), 'error');
    }
  } }, t('pay.button')));

  const actions = [];
  // No withdrawal: a filing is reviewed at once and never waits before acceptance; after it,
  // the enterprise asks for a cancellation.
  if (AMENDABLE.includes(s.status) && !s.pending_request) {
    actions.push(h('button.btn-secondary#request-amendment', { type: 'button', onclick: async () => {
      const v = await confirmDialog({
        title: t('action.amendment'),
        fields: [
          // The value as filed is put in the new value's field, to be corrected.
          { name: 'field', label: t('amend.field'), type: 'select', required: true, value: 'items[0].unit_price', options: fieldChoices(d.declaration), fills: { field: 'value', values: filedValues(d.declaration) } },
          { name: 'value', label: t('amend.value'), required: true },
          { name: 'reason', label: t('action.reason'), type: 'textarea', required: true },
        ],
      });
      if (v && await step(d.id, 'amendment-request', { reason: v.reason, changes: [{ field: v.field, value: v.value }] }, 'action.done')) reload();
    } }, t('action.amendment')));
  }
  if (CANCELLABLE.includes(s.status) && !s.pending_request) {
    actions.push(h('button.btn-danger#request-cancellation', { type: 'button', onclick: async () => {
      const v = await confirmDialog({ title: t('action.cancellation'), fields: [{ name: 'reason', label: t('action.reason'), type: 'textarea', required: true }], danger: true });
      if (v && await step(d.id, 'cancellation-request', { reason: v.reason }, 'action.done')) reload();
    } }, t('action.cancellation')));
  }

  el.append(printTitle(d));
  el.append(h('div.page-head', h('h1', t('detail.title')),
    h('div.actions', printButton(), h('a.btn-secondary#copy-declaration', { href: `#/portal/new?copy=${d.id}` }, t('detail.copy')), h('a', { href: '#/portal' }, t('nav.back_list')))));
  el.append(summary(d));
  if (actions.length) el.append(h('div.actions.card', { role: 'group', 'aria-label': t('detail.actions') }, actions));
  // The goods take the page's whole width; the timeline and the rest share it below.
  el.append(items(d));
  // A refund the enterprise's own amendment found is refunded on its request, within the period.
  const refundAction = (r) => (r.status === 'open' && r.record.origin === 'taxpayer'
    ? h('button.btn-primary', { type: 'button', 'data-refund-request': r.record.refund_no, onclick: async () => {
      if (!await confirmDialog({ title: t('taxrefund.request'), text: t('taxrefund.request_text', { no: r.record.refund_no, amount: fmtFen(r.record.amount_fen) }) })) return;
      if (await step(d.id, 'refund-request', { refund_no: r.record.refund_no }, 'action.done')) reload();
    } }, t('taxrefund.request'))
    : null);
  el.append(h('div.cols',
    h('div', taxes(d, pay), refunds(d, refundAction), parties(d), documents(d), attachmentsSection(d)),
    h('div', versionHistory(versions), timeline(d))));
}

export async function portalServices(el, ctx) {
  const [mine, refunds, forex] = await Promise.all([myLicences(), myRefunds(ctx), myForex()]);
  if (!ctx.isCurrent()) return;
  el.append(h('h1', t('services.title')), h('p.muted', t('services.intro')));
  el.append(section('services.licences', h('p', t('services.licences_text')), mine));
  el.append(section('services.refunds', h('p', t('services.refunds_text')), ...refunds),
    section('services.forex', h('p', t('services.forex_text')), forex));
}

// --- The E-Port licence ledger (docs/EPORT.md "API") ---------------------------------------

const qty = (v) => h('td.num', { dataset: { sort: String(v) } }, fmtDecimal(v));

function licenceRows(list, withHolder) {
  return list.map((l) => h('tr', { dataset: { licence: l.licence_no } },
    h('td.mono', l.licence_no),
    h('td', tk('direction', l.kind)),
    withHolder ? h('td.mono', l.holder) : null,
    h('td.mono', l.commodity),
    h('td.num', { dataset: { sort: String(l.quantity) } }, fmtDecimal(l.quantity), ' ', codeName('units', l.unit, { unit: true })),
    h('td.num.remaining', { dataset: { sort: String(l.remaining) } }, fmtDecimal(l.remaining)),
    qty(l.reserved),
    qty(l.written_off),
    h('td', `${fmtDate(l.valid_from)} – ${fmtDate(l.valid_to)}`)));
}

export function licenceTable(list, { withHolder = false, id } = {}) {
  if (!list.length) return emptyState(t('licence.empty'));
  const heads = [t('licence.no'), t('licence.kind'), withHolder ? t('licence.holder') : null, t('licence.commodity'),
    t('licence.quantity'), t('licence.remaining'), t('licence.reserved'), t('licence.written_off'), t('licence.validity')].filter(Boolean);
  const el = withHolder
    ? dataTable('licences', heads, licenceRows(list, withHolder), { caption: t('licence.caption'), csvName: 'licences.csv' })
    : table(heads, licenceRows(list, withHolder), { caption: t('licence.caption') });
  if (id) el.id = id;
  return el;
}

// The form fields: [name, label key, input attributes].
const FIELDS = [
  ['licence_no', 'licence.no', { maxlength: 64 }],
  ['kind', 'licence.kind', null],
  ['holder', 'licence.holder', { maxlength: 18, pattern: '[0-9A-Z]{18}' }],
  ['commodity', 'licence.commodity', { pattern: '[0-9]{2,10}(,[0-9]{2,10})*', inputmode: 'numeric' }],
  ['unit', 'licence.unit', { pattern: '[0-9]{3}', inputmode: 'numeric' }],
  ['quantity', 'licence.quantity', { inputmode: 'decimal' }],
  ['valid_from', 'licence.valid_from', 'date'],
  ['valid_to', 'licence.valid_to', 'date'],
];

function issueForm(onIssued) {
  const inputs = {};
  const errs = {};
  const fields = FIELDS.map(([name, key, attrs]) => {
    const id = `lic-${name}`;
    const input = name === 'kind'
      ? h('select', { id, name, required: true },
        h('option', { value: 'import' }, t('direction.import')),
        h('option', { value: 'export' }, t('direction.export')),
        h('option', { value: 'tariff_quota' }, t('direction.tariff_quota')))
      : h('input', { id, name, type: 'text', autocomplete: 'off', required: true, ...(attrs === 'date' ? dateAttrs() : attrs || {}) });
    const err = h('div.field-error', { id: `${id}-err`, role: 'alert' });
    input.setAttribute('aria-describedby', `${id}-err`);
    inputs[name] = input;
    errs[name] = err;
    return h('div.field', h('label', { for: id }, t(key), h('span.req', { 'aria-hidden': 'true' }, ' *')), input, err);
  });
  const formErr = h('p.error#lic-error', { role: 'alert' });
  const submit = h('button.btn-primary#lic-submit', { type: 'submit' }, t('licence.issue_submit'));
  const form = h('form#licence-form', { novalidate: true, 'aria-labelledby': 'lic-title' },
    h('h3#lic-title', t('licence.issue')),
    h('div.fields', fields), formErr, h('div.actions', submit));

  const setError = (name, msg) => {
    errs[name].textContent = msg || '';
    if (msg) inputs[name].setAttribute('aria-invalid', 'true');
    else inputs[name].removeAttribute('aria-invalid');
  };
  const reset = () => {
    for (const name of Object.keys(inputs)) setError(name, '');
    formErr.textContent = '';
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    reset();
    let first = null;
    for (const [name, input] of Object.entries(inputs)) {
      if (!input.value.trim()) {
        setError(name, t('licence.required'));
        first = first || input;
      }
    }
    if (first) {
      first.focus();
      return;
    }
    const body = {};
    for (const [name, input] of Object.entries(inputs)) body[name] = input.value.trim();
    submit.disabled = true;
    try {
      const l = await post('/api/eport/licences', body);
      toast(() => t('licence.issued', { no: l.licence_no }));
      for (const [name, input] of Object.entries(inputs)) if (name !== 'kind') input.value = '';
      await onIssued();
    } catch (e) {
      const problems = e instanceof ApiError ? e.problems : [];
      const general = [];
      for (const p of problems) {
        const name = String(p.field || '').split(/[.[]/)[0];
        if (inputs[name]) {
          setError(name, problemText(p));
          first = first || inputs[name];
        } else {
          general.push(problemText(p));
        }
      }
      if (!problems.length) general.push(errorText(e));
      formErr.textContent = general.join(' ');
      if (first) first.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// The commerce agency's ledger and the form to issue a licence.
export async function agencyLicences(ctx) {
  const body = h('div#agency-licences');
  const load = async () => {
    const list = await get('/api/eport/licences');
    if (ctx && !ctx.isCurrent()) return;
    clear(body).append(licenceTable(list, { withHolder: true }));
  };
  await load();
  return [body, issueForm(load)];
}

// The enterprise's own licences.
export async function myLicences() {
  const list = await get('/api/eport/my-licences');
  return h('div#my-licences', licenceTable(list));
}
