// Declaration versions, re-assessment and refunds on the declaration detail (docs/TAX.md
// "Versions and re-assessment", "Refunds"): every version with who, when, why and the field
// differences before → after; risk's re-evaluation (officers only: the server sends none to
// the enterprise); the re-assessment of each version per tax with its consequence and legal
// basis, the notices it issued and those it superseded; the refunds with their actions.
import { t, pick } from './i18n.js';
import { h, fmtFen, fmtTime, fmtDate, section, table, emptyState, fieldLabel, laneBadge, confirmDialog } from './ui.js';
import { actorText } from './detail.js';

const TAX_KEYS = {
  duty: 'tax.duty', vat: 'tax.vat', consumption_tax: 'tax.consumption_tax', anti_dumping_duty: 'tax.anti_dumping_duty',
  countervailing_duty: 'tax.countervailing_duty', safeguard_duty: 'tax.safeguard_duty',
  late_declaration_fee: 'tax.late_declaration_fee', recovery_surcharge: 'tax.recovery_surcharge',
};
const taxName = (k) => (TAX_KEYS[k] ? t(TAX_KEYS[k]) : k);

const SOURCE_KEYS = { filing: 'version.source_filing', amendment: 'version.source_amendment', officer_correction: 'version.source_correction' };
const OUTCOME_KEYS = {
  no_change: 'version.outcome_no_change', reissued: 'version.outcome_reissued', supplementary: 'version.outcome_supplementary',
  recovery: 'version.outcome_recovery', refund: 'version.outcome_refund', time_barred: 'version.outcome_time_barred',
};
const KIND_KEYS = { customs_value: 'correction.kind_customs_value', classification: 'correction.kind_classification', origin: 'correction.kind_origin', quantity: 'correction.kind_quantity' };
const STATUS_KEYS = { open: 'taxrefund.status_open', requested: 'taxrefund.status_requested', approved: 'taxrefund.status_approved', refused: 'taxrefund.status_refused', superseded: 'taxrefund.status_superseded' };
const ORIGIN_KEYS = { customs_found: 'taxrefund.origin_customs', taxpayer: 'taxrefund.origin_taxpayer' };

const show = (v) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const fenCell = (v) => h('td.num', fmtFen(v || 0));
const basisText = (b) => (b ? h('span.basis', pick(b, 'basis'), b.source ? h('span.muted', ` (${b.source})`) : null) : '');

function sourceText(v) {
  const src = v.source || { source: 'filing' };
  const name = t(SOURCE_KEYS[src.source] || 'version.source_filing');
  if (src.source === 'amendment') {
    return [name, h('div.muted', t('version.requested_approved', { requested: actorText(src.requested_by), approved: actorText(src.approved_by) }))];
  }
  if (src.source === 'officer_correction') {
    return [`${name} — ${t(KIND_KEYS[src.kind] || 'correction.kind_customs_value')}`, h('div.muted', actorText(src.officer))];
  }
  return [name];
}

function changesTable(changes) {
  if (!changes || !changes.length) return null;
  return table([t('version.field'), t('version.before'), t('version.after')],
    changes.map((c) => h('tr.change', { dataset: { path: c.path } },
      h('td', fieldLabel(c.path), h('div.mono.muted', c.path)),
      h('td.mono.before', show(c.before)), h('td.mono.after', show(c.after)))), { caption: t('version.changes') });
}

function riskText(r) {
  if (!r) return null;
  return h('div.version-risk', h('h4', t('version.risk')), r.lane ? laneBadge(r.lane) : null,
    h('ul', (r.reasons || []).map((x) => h('li', h('code', x.code || ''), ' ', pick(x, 'message')))));
}

function reassessmentView(a) {
  if (!a) return h('p.muted', t('version.no_reassessment'));
  const out = [h('h4', t('version.reassessment', { day: fmtDate(a.decided_on) }))];
  out.push(table([t('tax.kind'), t('version.paid'), t('version.unpaid'), t('version.due'), t('version.difference'), t('version.outcome'), t('version.last_day'), t('version.basis')],
    (a.lines || []).map((l) => h('tr', { dataset: { outcome: l.outcome, tax: l.tax } },
      h('td', taxName(l.tax)), fenCell(l.paid_fen), fenCell(l.unpaid_fen), fenCell(l.due_fen), fenCell(l.amount_fen),
      h('td', h('span', { class: `badge outcome-${l.outcome}` }, t(OUTCOME_KEYS[l.outcome] || 'version.outcome_no_change'))),
      h('td', l.last_day ? fmtDate(l.last_day) : ''), h('td', basisText(l.basis)))), { caption: t('version.reassessment_caption') }));
  if ((a.notices || []).length) {
    out.push(h('h4', t('version.notices')), h('ul.version-notices', a.notices.map((n) => h('li',
      h('span.mono', n.notice.notice_no), ` ${taxName(n.notice.tax)} ${fmtFen(n.notice.amount_fen)} — `,
      t(OUTCOME_KEYS[n.outcome] || 'version.outcome_no_change'),
      n.surcharge_days ? ` (${t('version.surcharge_days', { days: n.surcharge_days })})` : '',
      n.basis ? [' · ', basisText(n.basis)] : null))));
  }
  if ((a.superseded || []).length) {
    out.push(h('h4', t('version.superseded')), h('ul.version-superseded', a.superseded.map((no) => h('li', h('span.mono', no), ' ', h('span.badge.status-cancelled', t('version.superseded_mark'))))));
  }
  if ((a.refunds || []).length) {
    out.push(h('p', t('version.refunds_found', { list: a.refunds.map((r) => `${r.refund_no} ${fmtFen(r.amount_fen)}`).join(', ') })));
  }
  return out;
}

// Every version, oldest first, as GET /api/declarations/{id}/versions gives it.
export function versionHistory(list) {
  const vs = list || [];
  return section('detail.versions', vs.length <= 1 ? emptyState(t('version.only_filing')) : null,
    h('ol.versions#versions', vs.map((v) => h('li.version', { dataset: { version: String(v.version) } },
      h('div.ev-head', h('strong', t('version.n', { n: v.version })), ' ', h('span', sourceText(v)),
        h('time', { datetime: v.at }, fmtTime(v.at))),
      h('div.muted', actorText(v.actor)),
      v.source && v.source.reason ? h('p.version-reason', t('version.reason', { reason: v.source.reason })) : null,
      changesTable(v.changes),
      v.version > 1 && v.risk_relevant ? h('p.muted', t('version.risk_relevant')) : null,
      riskText(v.risk),
      v.version > 1 ? reassessmentView(v.reassessment) : null))));
}

// The refunds re-assessment found (`state.refunds`); `actions(refund)` adds the buttons the
// caller may use (the enterprise's request, a tax officer's decision).
export function refunds(d, actions) {
  const list = d.state.refunds || [];
  if (!list.length) return null;
  const rows = list.map((r) => h('tr', { dataset: { refund: r.record.refund_no, status: r.status } },
    h('td.mono', r.record.refund_no), h('td', taxName(r.record.tax)), fenCell(r.record.amount_fen),
    h('td', t(ORIGIN_KEYS[r.record.origin] || 'taxrefund.origin_taxpayer')),
    h('td', fmtDate(r.record.paid_on)), h('td', r.record.last_day ? fmtDate(r.record.last_day) : ''),
    h('td', h('span', { class: `badge refund-${r.status}` }, t(STATUS_KEYS[r.status] || 'taxrefund.status_open'))),
    h('td.num', r.interest_fen ? t('taxrefund.interest_line', { amount: fmtFen(r.interest_fen), days: r.interest_days }) : ''),
    h('td', r.reason || '', r.decided_by ? h('div.muted', actorText(r.decided_by)) : null),
    h('td', basisText(r.record.basis)),
    h('td', actions ? actions(r) : '')));
  return section('detail.refunds', table([t('taxrefund.no'), t('tax.kind'), t('tax.amount'), t('taxrefund.origin'), t('taxrefund.paid_on'),
    t('taxrefund.last_day'), t('taxrefund.status'), t('taxrefund.interest'), t('taxrefund.decision'), t('version.basis'), ''], rows, { caption: t('detail.refunds') }));
}

// An officer's correction from a finding (step `correction`): the kind, the reason, the
// changes as path = value lines, and whether the finding is the taxpayer's breach.
export async function correctionDialog() {
  const v = await confirmDialog({
    title: t('correction.title'),
    text: t('correction.text'),
    fields: [
      { name: 'kind', label: t('correction.kind'), type: 'select', required: true, value: 'customs_value', options: Object.entries(KIND_KEYS).map(([k, key]) => [k, t(key)]) },
      { name: 'changes', label: t('correction.changes'), type: 'textarea', required: true },
      { name: 'reason', label: t('action.reason'), type: 'textarea', required: true },
      { name: 'breach', label: t('correction.breach'), type: 'select', value: 'false', options: [['false', t('correction.breach_no')], ['true', t('correction.breach_yes')]] },
    ],
  });
  if (!v) return null;
  const changes = v.changes.split(/\n+/).map((l) => l.trim()).filter(Boolean).map((l) => {
    const at = l.indexOf('=');
    return at < 0 ? { field: l, value: '' } : { field: l.slice(0, at).trim(), value: l.slice(at + 1).trim() };
  });
  return { kind: v.kind, reason: v.reason, changes, taxpayer_breach: v.breach === 'true' };
}
