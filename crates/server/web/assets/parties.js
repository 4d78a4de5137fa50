// Parties and enforcement (docs/PARTIES.md): the power-of-attorney screen of enterprises
// (consignees grant, list and revoke; brokers see the authorities they hold, choose the
// consignee they file for, and their filings) and the case desk of anti-smuggling officers.
import { t } from './i18n.js';
import { get, post } from './api.js';
import { h, clear, toast, emptyState, table, fmtDate, fmtFen, statusBadge, section } from './ui.js';
import { apiForm } from './finance.js';

const STANDING_KEYS = {
  live: 'attorney.standing_live', revoked: 'attorney.standing_revoked',
  expired: 'attorney.standing_expired', not_yet_valid: 'attorney.standing_not_yet_valid',
};
const list = (s) => s.split(/[\s,，]+/).filter(Boolean);

function authorityRows(items, { revoke, file }) {
  if (!items.length) return emptyState(t('attorney.empty'));
  const heads = [t('attorney.id'), t('attorney.grantor'), t('attorney.broker'), t('attorney.scope'),
    t('attorney.period'), t('attorney.used'), t('attorney.standing'), ''];
  return table(heads, items.map((a) => h('tr', { dataset: { authority: String(a.id) } },
    h('td.mono', String(a.id)), h('td.mono', a.grantor), h('td.mono', a.broker),
    h('td', `${a.scope.trade_modes.join(' ') || '*'} · ${a.scope.offices.join(' ') || '*'}`),
    h('td', `${fmtDate(a.scope.valid_from)} – ${fmtDate(a.scope.valid_to)}`),
    h('td', `${a.used_declarations} · ${fmtFen(a.used_value_fen)}`),
    h('td', t(STANDING_KEYS[a.standing] || 'attorney.standing_live')),
    h('td', revoke && a.standing === 'live'
      ? h('button.btn-secondary', { type: 'button', onclick: () => revoke(a) }, t('attorney.revoke'))
      : file && a.standing === 'live'
        ? h('a', { href: `#/portal/new?for=${a.grantor}` }, t('attorney.file_for'))
        : null))));
}

// The enterprise's powers of attorney: those it granted (with the grant form) and, for a
// broker, those it holds and the declarations it filed under them.
export async function attorneyView(el, ctx) {
  el.append(h('div.page-head', h('h1', t('attorney.title'))));
  const granted = h('div#attorney-granted');
  const received = h('div#attorney-received');
  const filed = h('div#attorney-filed');
  const load = async () => {
    const v = await get('/api/authorities');
    const mine = await get('/api/authorities/declarations');
    if (ctx && !ctx.isCurrent()) return;
    clear(granted).append(authorityRows(v.granted, {
      revoke: async (a) => {
        await post(`/api/authorities/${a.id}/revoke`, {});
        toast(() => t('attorney.revoked', { id: a.id }));
        await load();
      },
    }));
    clear(received).append(authorityRows(v.received, { file: true }));
    clear(filed).append(mine.length
      ? table([t('attorney.declaration'), t('attorney.grantor'), t('attorney.status')],
        mine.map((d) => h('tr', h('td', h('a', { href: `#/portal/d/${d.id}` }, d.declaration_no || d.pre_entry_no)),
          h('td.mono', d.declarant), h('td', statusBadge(d.status)))))
      : emptyState(t('attorney.none_filed')));
  };
  await load();
  const form = apiForm({
    id: 'attorney-form',
    titleKey: 'attorney.grant',
    submitKey: 'attorney.submit',
    fields: [
      ['broker', 'attorney.broker', { maxlength: 18 }],
      ['trade_modes', 'attorney.trade_modes', { optional: true, maxlength: 200 }],
      ['offices', 'attorney.offices', { optional: true, maxlength: 200 }],
      ['valid_from', 'attorney.valid_from', { type: 'date' }],
      ['valid_to', 'attorney.valid_to', { type: 'date' }],
      ['max_declarations', 'attorney.max_declarations', { optional: true, inputmode: 'numeric' }],
    ],
    onSubmit: async (b) => {
      const a = await post('/api/authorities', {
        broker: b.broker,
        trade_modes: list(b.trade_modes),
        offices: list(b.offices),
        valid_from: b.valid_from,
        valid_to: b.valid_to,
        max_declarations: b.max_declarations ? Number(b.max_declarations) : null,
      });
      toast(() => t('attorney.granted', { id: a.id }));
      await load();
    },
  });
  el.append(section('attorney.granted_title', granted, form),
    section('attorney.received_title', received), section('attorney.filed_title', filed));
}

const STEP_FIELDS = {
  link: [['kind', 'cases.link_kind', { options: [['declaration', 'cases.kind_declaration'], ['enterprise', 'cases.kind_enterprise'], ['person', 'cases.kind_person']] }],
    ['reference', 'cases.reference'], ['note', 'cases.note', { optional: true }]],
  seize: [['goods', 'cases.goods'], ['quantity', 'cases.quantity', { inputmode: 'decimal' }], ['unit', 'cases.unit'],
    ['place', 'cases.place'], ['custody', 'cases.custody']],
  penalize: [['party', 'cases.party', { maxlength: 18 }], ['kind', 'cases.penalty_kind', { options: [['smuggling', 'cases.kind_smuggling'], ['violation', 'cases.kind_violation']] }],
    ['amount_fen', 'cases.amount_fen', { inputmode: 'numeric' }], ['basis', 'cases.basis']],
  record_payment: [['penalty', 'cases.penalty_no', { inputmode: 'numeric' }], ['bank', 'cases.bank'],
    ['reference', 'cases.reference'], ['amount_fen', 'cases.amount_fen', { inputmode: 'numeric' }]],
  hearing: [['held_on', 'cases.held_on', { type: 'date' }], ['notes', 'cases.notes']],
  close: [['conclusion', 'cases.conclusion']],
};
const STEP_TITLES = {
  link: 'cases.step_link', seize: 'cases.step_seize', penalize: 'cases.step_penalize',
  record_payment: 'cases.step_record_payment', hearing: 'cases.step_hearing', close: 'cases.step_close',
};
const NUMERIC = new Set(['amount_fen', 'penalty']);

function caseCard(c, reload) {
  const facts = [
    [t('cases.origin'), `${t(`cases.origin_${c.origin}`)} · ${c.origin_ref}`],
    [t('cases.summary'), c.summary],
    [t('cases.links'), c.links.map((l) => `${t(`cases.kind_${l.kind}`)} ${l.reference}`).join('; ') || '—'],
    [t('cases.seizures'), c.seizures.map((s) => `${s.quantity} ${s.unit} ${s.goods} @ ${s.place} (${s.custody})`).join('; ') || '—'],
    [t('cases.penalties'), c.penalties.map((p) => `${p.party} ${fmtFen(p.amount_fen)} ${p.payment ? t('cases.paid') : t('cases.unpaid')}${p.credit ? ` · ${p.credit.from} → ${p.credit.to}` : ''}`).join('; ') || '—'],
    [t('cases.hearings'), c.hearings.map((x) => `${fmtDate(x.held_on)} ${x.notes}`).join('; ') || '—'],
  ];
  const body = [h('dl.facts', facts.flatMap(([k, v]) => [h('dt', k), h('dd', v)]))];
  if (c.status === 'open') {
    for (const [step, fields] of Object.entries(STEP_FIELDS)) {
      body.push(apiForm({
        id: `case-${c.id}-${step}`,
        titleKey: STEP_TITLES[step],
        submitKey: 'cases.record',
        fields,
        onSubmit: async (b) => {
          for (const k of Object.keys(b)) if (NUMERIC.has(k)) b[k] = Number(b[k]);
          await post(`/api/cases/${c.id}/steps`, { step, expected_version: c.version, ...b });
          toast(() => t('cases.recorded', { no: c.case_no }));
          await reload();
        },
      }));
    }
  }
  return h('section.card', { dataset: { case: c.case_no } },
    h('h2', `${c.case_no} · ${t(c.status === 'open' ? 'cases.open_status' : 'cases.closed_status')}`), ...body);
}

// The case desk: the cases of the officer's offices, the form to open one, each case's steps.
export async function caseDesk(el, ctx) {
  el.append(h('div.page-head', h('h1', t('cases.title'))));
  const listing = h('div#case-list');
  const load = async () => {
    const cases = await get('/api/cases');
    if (ctx && !ctx.isCurrent()) return;
    clear(listing).append(...(cases.length ? cases.map((c) => caseCard(c, load)) : [emptyState(t('cases.empty'))]));
  };
  const form = apiForm({
    id: 'case-open',
    titleKey: 'cases.open',
    submitKey: 'cases.open_submit',
    fields: [
      ['office', 'cases.office', { maxlength: 4 }],
      ['origin', 'cases.origin', { options: [['risk_hit', 'cases.origin_risk_hit'], ['inspection_finding', 'cases.origin_inspection_finding'],
        ['intelligence', 'cases.origin_intelligence'], ['referral', 'cases.origin_referral']] }],
      ['origin_ref', 'cases.origin_ref'],
      ['summary', 'cases.summary'],
    ],
    onSubmit: async (b) => {
      const c = await post('/api/cases', b);
      toast(() => t('cases.opened', { no: c.case_no }));
      await load();
    },
  });
  el.append(form, listing);
  await load();
}
