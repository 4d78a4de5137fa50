// One declaration on one screen: summary, timeline, taxes and notices, items, parties,
// risk explanation, documents. Used by the enterprise portal and the officer console; each
// adds its own actions.
import { t, tk, tkOr, pick, currentLang } from './i18n.js';
import { h, fmtFen, fmtTime, fmtDate, fmtDecimal, statusBadge, laneBadge, section, table, emptyState, problemText, codeName, fieldLabel, joinList } from './ui.js';
import { loadCodeRows } from './api.js';

// The coded fields the page names, [table, field] of the header and of each item.
const HEADER_CODES = [
  ['transport_modes', 'transport_mode'], ['trade_modes', 'trade_mode'], ['levy_natures', 'levy_nature'],
  ['countries', 'trading_country'], ['countries', 'dispatch_country'], ['transaction_terms', 'transaction_terms'],
];
const ITEM_CODES = [['units', 'declared_unit'], ['currencies', 'currency'], ['countries', 'origin_country']];

// Look up every code the page shows before it is drawn (so it is drawn once, named); a
// failed lookup leaves the bare code.
export async function loadDetailCodes(d) {
  const hd = (d.state && d.state.header) || {};
  const x = d.declaration || {};
  await loadCodeRows([
    ['offices', hd.declaration_office], ['offices', hd.entry_exit_office],
    ...HEADER_CODES.map(([table, field]) => [table, x[field]]),
    ...(x.items || []).flatMap((it) => ITEM_CODES.map(([table, field]) => [table, it[field]])),
  ].filter(([, code]) => code !== undefined && code !== null && code !== ''));
}

// The declaration on paper: the browser's print, with the print stylesheet (no navigation,
// no actions, one column). A PDF in the official layout needs the server.
export function printButton() {
  return h('button.btn-secondary#print', { type: 'button', onclick: () => window.print() }, t('detail.print'));
}

function dl(pairs) {
  return h('dl.kv', pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) => [h('dt', k), h('dd', v)]));
}

export function actorText(a) {
  if (!a) return '';
  switch (a.kind) {
    case 'enterprise': return `${tk('actor', 'enterprise')} ${a.uscc}`;
    case 'officer': return `${tk('actor', 'officer')} ${a.login} (${a.office})`;
    case 'anti_smuggling': return `${tk('actor', 'anti_smuggling')} ${a.login} (${a.office})`;
    case 'bank': return `${tk('actor', 'bank')} ${a.code}`;
    default: return a.component ? t('actor.system_component', { component: tkOr('component', a.component, 'component.other') }) : tk('actor', 'system');
  }
}

// Who attached a document, from the audit label the service records
// (`enterprise:USCC`, `officer:OFFICE:LOGIN`, `broker:USCC:LOGIN:for:…`), said as actorText says
// an actor; anything else as recorded.
export function uploaderText(label) {
  const p = String(label || '').split(':');
  switch (p[0]) {
    case 'enterprise': return actorText({ kind: 'enterprise', uscc: p[1] });
    case 'officer': case 'anti_smuggling': return actorText({ kind: p[0], office: p[1], login: p[2] });
    case 'broker': return `${tk('actor', 'enterprise')} ${p[1]} · ${p[2] || ''}`.trim();
    default: return String(label || '');
  }
}

function eventDetails(e) {
  const out = [];
  switch (e.type) {
    case 'submitted': out.push(t('event_detail.pre_entry_no', { no: e.pre_entry_no })); break;
    case 'accepted': out.push(t('event_detail.declaration_no', { no: e.declaration_no })); break;
    case 'lane_chosen': out.push(h('span', tk('lane', e.lane), t('common.colon'), joinList((e.reasons || []).map((r) => pick(r, 'message'))))); break;
    case 'rejected': out.push(h('ul', (e.problems || []).map((p) => h('li', h('strong', fieldLabel(p.field)), t('common.colon'), problemText(p))))); break;
    case 'assessed': out.push(joinList((e.notices || []).map((n) => `${tk('tax', n.tax)} ${fmtFen(n.amount_fen)}`))); break;
    case 'notice_paid': out.push(t('event_detail.notice', { no: e.notice_no })); break;
    case 'document_review_recorded':
    case 'inspection_recorded': out.push(resultText(e.result)); break;
    case 'released_against_guarantee': out.push(t('event_detail.guarantee', { no: e.guarantee_no })); break;
    case 'exit_confirmed': out.push(t('event_detail.manifest', { no: e.manifest_ref })); break;
    case 'suspended': out.push(`${e.case_no}: ${e.reason}`); break;
    case 'amendment_requested': out.push(e.reason, h('ul', (e.changes || []).map((c) => h('li', fieldLabel(c.field), ' → ', c.value)))); break;
    case 'request_approved':
    case 'request_refused': out.push(`${tk('request', e.kind)}: ${e.reason}`); break;
    default: if (e.reason) out.push(e.reason);
  }
  return out;
}

function resultText(r) {
  if (!r) return '';
  if (r.result === 'conform' || r === 'conform') return t('result.conform');
  const findings = (r.findings || []).map((f) => `${tk('finding', f.kind)}${f.field ? ` (${f.field})` : ''}${t('common.colon')}${f.note}`);
  return `${t('result.discrepancy')} — ${joinList(findings)}`;
}

export function timeline(d) {
  return section('detail.timeline', h('ol.timeline', d.events.map(({ seq, event }) =>
    h('li', { class: `ev ev-${event.type}` },
      h('div.ev-head', h('strong', tk('event', event.type)), h('time', { datetime: event.at }, fmtTime(event.at))),
      h('div.ev-actor.muted', actorText(event.actor)),
      h('div.ev-body', eventDetails(event)),
      h('span.sr-only', `#${seq}`)))));
}

export function summary(d) {
  const s = d.state;
  const hd = s.header || {};
  return h('div.summary.card',
    h('div.summary-main',
      h('div', h('span.muted', t('detail.declaration_no')), h('div.big#declaration-no', s.declaration_no || '—')),
      h('div', h('span.muted', t('detail.pre_entry_no')), h('div.mono', hd.pre_entry_no || '—')),
      h('div', h('span.muted', t('detail.status')), h('div#status', statusBadge(s.status))),
      h('div', h('span.muted', t('detail.lane')), h('div#lane', laneBadge(s.lane)))),
    dl([
      [t('f.direction'), hd.direction ? tk('direction', hd.direction) : ''],
      [t('f.declaration_office'), codeName('offices', hd.declaration_office)],
      [t('f.entry_exit_office'), codeName('offices', hd.entry_exit_office)],
      [t('detail.declarant'), hd.declarant],
      [t('detail.submitted_at'), fmtTime(s.submitted_at)],
      [t('detail.accepted_at'), s.accepted_at ? fmtTime(s.accepted_at) : ''],
      [t('detail.released_at'), s.released_at ? fmtTime(s.released_at) : ''],
      [t('detail.guarantee_no'), s.guarantee_no],
      [t('detail.pending_request'), s.pending_request ? tk('request', s.pending_request.kind) : ''],
      [t('detail.suspended_from'), s.suspended_from ? tk('status', s.suspended_from) : ''],
    ]));
}

// Notices with their state; `payButton(notice)` adds the enterprise's pay action.
export function taxes(d, payButton) {
  // Each notice's due date, late payment surcharge so far and amount due today (docs/TAX.md).
  const view = (n) => (d.notice_views || []).find((v) => v.notice_no === n.notice_no) || {};
  // A notice a re-assessment replaced can no longer be paid: marked as such (docs/TAX.md).
  const superseded = (n) => ((d.state.notices || []).find((x) => (x.notice || {}).notice_no === n.notice_no) || {}).superseded_at;
  const rows = d.notices.map((n) => h('tr', { dataset: { noticeRow: n.notice_no } },
    h('td.mono', n.notice_no),
    h('td', tk('tax', n.tax)),
    h('td.num', fmtFen(n.amount_fen)),
    h('td', fmtTime(n.issued_at)),
    h('td', view(n).due_on || ''),
    h('td.num', fmtFen(view(n).surcharge_fen ?? 0)),
    h('td.num', fmtFen(view(n).amount_due_fen ?? n.amount_fen)),
    h('td', noticeState(n, superseded(n))),
    h('td', !n.paid_at && !superseded(n) && payButton ? payButton(n) : '')));
  const content = [];
  content.push(h('h3', t('detail.notices')));
  content.push(d.notices.length
    ? table([t('tax.notice_no'), t('tax.kind'), t('tax.amount'), t('tax.issued_at'), t('tax.due_on'), t('tax.surcharge'), t('tax.amount_due'), t('tax.state'), ''], rows, { caption: t('detail.notices') })
    : emptyState(t('detail.no_notices')));
  const a = d.tax;
  if (a) {
    content.push(h('h3', t('detail.breakdown')));
    content.push(dl([
      [t('tax.customs_value'), fmtFen(a.customs_value_total_fen)],
      [t('tax.total_payable'), h('strong#total-payable', fmtFen(a.total_payable_fen))],
      [t('tax.terms'), a.transaction_terms],
      [t('tax.rates'), joinList((a.exchange_rates || []).map((r) => t('tax.rate_line', { currency: r.currency, yuan: r.yuan_per_unit, date: fmtDate(r.rate_date) })))],
    ]));
    content.push(table([t('item.no'), t('f.commodity_code'), t('tax.measures'), t('tax.customs_value')],
      (a.items || []).map((it) => h('tr',
        h('td', it.item_no),
        h('td.mono', it.commodity_code),
        h('td', (it.measures || []).map((m) => h('div', measureText(m)))),
        h('td.num', fmtFen(it.customs_value_fen)))), { caption: t('detail.breakdown') }));
    const steps = [...(a.header_steps || []), ...(a.items || []).flatMap((it) => it.steps || [])];
    content.push(h('details', h('summary', t('tax.steps')),
      h('ol.steps', steps.map((s) => h('li', h('strong', pick(s, 'label')), ' ', h('span.mono', s.formula))))));
  } else {
    content.push(h('p.muted', t('detail.no_breakdown')));
  }
  return section('detail.taxes', ...content);
}

function noticeState(n, supersededAt) {
  if (n.paid_at) return h('span.badge.status-paid', t('tax.paid_at', { at: fmtTime(n.paid_at) }));
  if (supersededAt) return h('span.badge.status-cancelled.superseded', t('tax.superseded_at', { at: fmtTime(supersededAt) }));
  return h('span.badge.status-assessed', t('tax.unpaid'));
}

// The legal basis of a measure is written by the tariff in one language or as "English /
// 中文": the part in the page's language, or none (the measure and its rate say enough).
function reasonIn(reason) {
  const cjk = (x) => /[\u4e00-\u9fff]/.test(x);
  const parts = String(reason || '').split(' / ').map((x) => x.trim()).filter(Boolean);
  const want = currentLang() === 'zh';
  return parts.find((x) => cjk(x) === want) || '';
}

function measureText(m) {
  const why = reasonIn(m.reason);
  return t(why ? 'tax.measure_line' : 'tax.measure_line_short', { measure: tk('measure', m.kind), rate: m.rate, reason: why });
}

export function items(d) {
  const its = (d.declaration && d.declaration.items) || [];
  return section('detail.items', table(
    [t('item.no'), t('f.commodity_code'), t('f.name'), t('f.specification'), t('f.declared_quantity'), t('f.unit_price'), t('f.total_price'), t('f.currency'), t('f.origin_country')],
    its.map((it) => h('tr',
      h('td', it.item_no), h('td.mono', it.commodity_code), h('td', it.name), h('td.spec', it.specification),
      h('td.num', fmtDecimal(it.declared_quantity ?? ''), ' ', codeName('units', it.declared_unit, { unit: true })), h('td.num', fmtDecimal(it.unit_price)), h('td.num', fmtDecimal(it.total_price)),
      h('td', codeName('currencies', it.currency)), h('td', codeName('countries', it.origin_country)))), { caption: t('detail.items') }));
}

// The mutual-recognition line (docs/PARTIES.md): an export by an advanced-certified
// enterprise to a country whose customs recognises China's AEO programme.
function mutualRecognition(d) {
  const m = d.mutual_recognition;
  if (!m) return [];
  return [h('p.notice#mutual-recognition', t('aeo.mutual_recognition', { partner: pick(m, 'name'), since: m.since }))];
}

export function parties(d) {
  const x = d.declaration || {};
  const party = (p) => (p ? [p.name, p.uscc || p.code, p.customs_code].filter(Boolean).join(' · ') : '');
  return section('detail.parties', ...mutualRecognition(d), dl([
    [t('f.trader'), party(x.trader)],
    [t('f.overseas_party'), party(x.overseas_party)],
    [t('f.owner'), party(x.owner)],
    [t('f.agent'), party(x.agent)],
    [t('f.transport_mode'), codeName('transport_modes', x.transport_mode)],
    [t('f.vessel'), [x.vessel, x.voyage_no].filter(Boolean).join(' / ')],
    [t('f.bill_no'), x.bill_no],
    [t('f.trade_mode'), codeName('trade_modes', x.trade_mode)],
    [t('f.levy_nature'), codeName('levy_natures', x.levy_nature)],
    [t('f.trading_country'), codeName('countries', x.trading_country)],
    [t('f.dispatch_country'), codeName('countries', x.dispatch_country)],
    [t('f.transaction_terms'), codeName('transaction_terms', x.transaction_terms)],
    [t('f.packages'), fmtDecimal(x.packages)],
    [t('f.gross_weight_kg'), fmtDecimal(x.gross_weight_kg)],
    [t('f.net_weight_kg'), fmtDecimal(x.net_weight_kg)],
    [t('f.contract_no'), x.contract_no],
    [t('f.declaration_date'), x.declaration_date ? fmtDate(x.declaration_date) : ''],
  ]));
}

// What the risk engine weighed (officers only: the server sends no explanation to enterprises).
function explanation(x) {
  if (!x) return null;
  const out = [];
  const rules = x.rules_fired || [];
  if (rules.length) {
    out.push(h('h3', t('detail.rules_fired', { rule_set: x.rule_set || '' })), h('ul.explanation', rules.map((r) => h('li',
      h('code', `${r.id}@${r.version}`), ` ${tk('lane', r.lane)} · P${r.priority}`, r.decisive ? ` · ${t('detail.decisive')}` : '',
      ' — ', pick(r, 'message'), r.item_no ? ` (#${r.item_no})` : '',
      (r.values || []).length ? h('div.mono', r.values.map((v) => `${v.field} = ${v.value}`).join('; ')) : null))));
  }
  const hits = x.watch_hits || [];
  if (hits.length) {
    out.push(h('h3', t('detail.watch_hits')), h('ul.explanation', hits.map((w) => h('li',
      h('code', `${(w.entry || {}).kind || ''}`), ` ${(w.entry || {}).value || ''} — ${w.matched_field || ''} — ${(w.entry || {}).case || ''}`))));
  }
  const prices = x.price_findings || [];
  if (prices.length) {
    out.push(h('h3', t('detail.price_findings')), h('ul.explanation', prices.map((f) => h('li',
      t('detail.price_line', {
        item: f.item_no, price: fmtDecimal(f.unit_price_cny), percent: f.percent_of_median,
        median: fmtDecimal((f.reference || {}).median_cny), threshold: fmtDecimal(f.threshold_cny),
      })))));
  }
  const s = x.sampling;
  if (s) {
    out.push(h('p.muted', t('detail.sampling', { draw: s.draw_ppm, class: s.credit_class, red: s.red_ppm, yellow: s.red_ppm + s.yellow_ppm, seed: s.seed })));
  }
  return out;
}

export function risk(d) {
  const lanes = d.events.filter(({ event }) => event.type === 'lane_chosen');
  const findings = d.state.findings || [];
  return section('detail.risk',
    lanes.length ? lanes.map(({ event }) => h('div', h('p', laneBadge(event.lane)),
      h('ul', (event.reasons || []).map((r) => h('li', h('code', r.code), ' ', pick(r, 'message')))),
      explanation(event.explanation))) : emptyState(t('detail.no_lane')),
    findings.length ? [h('h3', t('detail.findings')), h('ul', findings.map((f) => h('li', `${tk('finding', f.kind)}${f.field ? ` (${f.field})` : ''}${t('common.colon')}${f.note}`)))] : null);
}

export function documents(d) {
  const x = d.declaration || {};
  const docs = x.documents || [];
  return section('detail.documents',
    x.licence_no ? h('p', t('f.licence_no'), ': ', h('span.mono', x.licence_no)) : null,
    docs.length ? h('ul', docs.map((doc) => h('li', h('span.mono', doc.code), ' ', doc.number))) : emptyState(t('detail.no_documents')));
}

// The documents attached to the declaration (GET/POST /api/declarations/{id}/attachments):
// each with its size, checksum and who attached it, downloadable; a file input to attach one
// (PDF, PNG, JPEG or XML, at most 5 MB) for those who may.
const ATTACH_TYPES = { pdf: 'application/pdf', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', xml: 'application/xml' };
export function attachmentsSection(d, { canAttach = true } = {}) {
  const list = h('div#attachments-list');
  const err = h('p.error#attachment-error', { role: 'alert', hidden: true });
  const draw = async () => {
    const r = await fetch(`/api/declarations/${d.id}/attachments`, { credentials: 'same-origin' });
    const docs = r.ok ? await r.json() : [];
    list.replaceChildren(docs.length
      ? table([t('attach.name'), t('attach.size'), t('attach.by'), t('attach.at'), t('attach.sha256')], docs.map((a) => h('tr',
        h('td', h('a', { href: `/api/declarations/${d.id}/attachments/${a.id}`, download: a.name }, a.name)),
        h('td.num', `${(a.size / 1024).toLocaleString(currentLang() === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: 1 })} KB`),
        h('td', uploaderText(a.uploaded_by)),
        h('td', fmtTime(a.uploaded_at)),
        h('td.mono.small', { title: a.sha256 }, `${a.sha256.slice(0, 12)}…`))), { cls: 'compact', caption: t('attach.title') })
      : emptyState(t('attach.none')));
  };
  const input = h('input#attachment-file', { type: 'file', accept: '.pdf,.png,.jpg,.jpeg,.xml,application/pdf,image/png,image/jpeg,application/xml' });
  input.addEventListener('change', async () => {
    const f = input.files[0];
    if (!f) return;
    err.hidden = true;
    const ext = (f.name.split('.').pop() || '').toLowerCase();
    const type = f.type || ATTACH_TYPES[ext] || 'application/octet-stream';
    const r = await fetch(`/api/declarations/${d.id}/attachments?name=${encodeURIComponent(f.name)}`, {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': type }, body: await f.arrayBuffer(),
    });
    input.value = '';
    if (!r.ok) {
      const body = await r.json().catch(() => null);
      const e = (body && body.error) || {};
      const problems = e.problems && e.problems.length ? e.problems : [e];
      err.replaceChildren(...problems.map((p) => h('span', { class: 'block' }, problemText(p))));
      err.hidden = false;
      return;
    }
    await draw();
  });
  const upload = canAttach ? h('div.field', h('label', { for: 'attachment-file' }, t('attach.add')), input, h('p.muted.small', t('attach.hint'))) : null;
  const s = section('attach.title', list, upload, err);
  s.id = 'attachments';
  draw().catch(() => list.replaceChildren(emptyState(t('attach.none'))));
  return s;
}

// The printed declaration's heading, as on the official form (中华人民共和国海关进口/出口货物报关单),
// with its numbers in the boxes the form puts them in; shown only on paper (app.css @media print).
export function printTitle(d) {
  const x = d.declaration || {};
  const hd = (d.state && d.state.header) || {};
  const exp = hd.direction === 'export' || x.direction === 'export';
  return h('div.print-only.print-title',
    h('p.print-form-name', exp ? '中华人民共和国海关出口货物报关单' : '中华人民共和国海关进口货物报关单'),
    h('p.print-form-name-en', exp ? 'Customs Declaration for Export Goods of the People\'s Republic of China' : 'Customs Declaration for Import Goods of the People\'s Republic of China'),
    h('table.print-numbers', h('tbody', h('tr',
      h('th', '预录入编号 Pre-entry No.'), h('td.mono', hd.pre_entry_no || ''),
      h('th', '海关编号 Declaration No.'), h('td.mono', (d.state && d.state.declaration_no) || '')))));
}
