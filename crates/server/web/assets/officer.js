// Officer console: a worklist per duty (review, inspection, tax, release) with filters, and the
// declaration page with the officer's actions, each confirmed before it is taken.
import { t, tk } from './i18n.js';
import { get, post } from './api.js';
import { h, clear, section, emptyState, toast, confirmDialog, errorText } from './ui.js';
import { summary, timeline, taxes, items, parties, risk, documents } from './detail.js';
import { declarationTable, statusSelect } from './portal.js';

// Tabs: [id, label key, status filter, duty that works it]
const TABS = [
  ['review', 'work.review', 'document_review', 'reviewer'],
  ['inspection', 'work.inspection', 'inspection', 'inspector'],
  ['tax', 'work.tax', 'awaiting_assessment', 'tax_officer'],
  ['release', 'work.release', 'paid', 'release_officer'],
  ['guarantee', 'work.guarantee', 'assessed', 'release_officer'],
  ['suspended', 'work.suspended', 'suspended', 'anti_smuggling'],
  ['all', 'work.all', '', null],
];

export async function worklist(el, { params, session }) {
  const duties = session.principal.duties || [];
  const tabs = TABS.filter(([, , , duty]) => !duty || duties.includes(duty) || session.principal.kind === 'hq');
  const tabId = params.get('tab') || tabs[0][0];
  const tab = tabs.find(([id]) => id === tabId) || tabs[0];
  const status = params.has('status') ? params.get('status') : tab[2];
  const lane = params.get('lane') || '';
  const office = params.get('office') || '';
  const from = params.get('from') || '';

  el.append(h('div.page-head', h('h1', t('work.title')),
    h('span.muted', session.principal.office ? t('work.office', { office: session.principal.office }) : t('work.all_offices'))));
  el.append(h('nav.tabs', { 'aria-label': t('work.tabs') }, tabs.map(([id, key]) =>
    h('a', { href: `#/officer?tab=${id}`, 'aria-current': id === tab[0] ? 'page' : null, id: `tab-${id}` }, t(key)))));

  const laneSel = h('select#f-lane', { name: 'lane' }, h('option', { value: '' }, t('filter.any_lane')),
    ['green', 'yellow', 'red', 'blue'].map((l) => h('option', { value: l, selected: l === lane ? true : null }, tk('lane', l))));
  const officeIn = h('input#f-office', { name: 'office', value: office, size: 6, autocomplete: 'off', inputmode: 'numeric' });
  const fromIn = h('input#f-from', { name: 'from', type: 'date', value: from });
  const statusSel = statusSelect('f-status', status);
  const filters = h('form.filters', { role: 'search' },
    h('label', { for: 'f-status' }, t('filter.status')), statusSel,
    h('label', { for: 'f-lane' }, t('filter.lane')), laneSel,
    h('label', { for: 'f-office' }, t('filter.office')), officeIn,
    h('label', { for: 'f-from' }, t('filter.from')), fromIn,
    h('button.btn-secondary', { type: 'submit' }, t('filter.apply')));
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ tab: tab[0], status: statusSel.value });
    if (laneSel.value) q.set('lane', laneSel.value);
    if (officeIn.value.trim()) q.set('office', officeIn.value.trim());
    if (fromIn.value) q.set('from', fromIn.value);
    location.hash = `#/officer?${q}`;
  });

  const body = h('div#worklist');
  const more = h('button.btn-secondary', { type: 'button', hidden: true }, t('list.more'));
  el.append(h('section.card', { 'aria-label': t('work.title') }, filters, body, more));
  const rows = [];
  let cursor = null;
  const load = async () => {
    const q = new URLSearchParams({ limit: '25' });
    if (status) q.set('status', status);
    if (lane) q.set('lane', lane);
    if (office) q.set('office', office);
    if (from) q.set('from', new Date(`${from}T00:00:00+08:00`).toISOString());
    if (cursor) q.set('cursor', cursor);
    const page = await get(`/api/declarations?${q}`);
    rows.push(...page.items);
    cursor = page.next_cursor;
    clear(body).append(rows.length ? declarationTable(rows, (d) => `#/officer/d/${d.id}`) : emptyState(t('work.empty')));
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => load().catch((e) => toast(errorText(e), 'error')));
  await load();
}

function findingFields() {
  return [
    { name: 'result', label: t('result.label'), type: 'select', options: [['conform', t('result.conform')], ['discrepancy', t('result.discrepancy')]] },
    { name: 'kind', label: t('finding.label'), type: 'select', options: ['misclassification', 'undervaluation', 'quantity', 'prohibited_goods', 'other'].map((k) => [k, tk('finding', k)]) },
    { name: 'field', label: t('finding.field') },
    { name: 'note', label: t('finding.note'), type: 'textarea' },
  ];
}

function examinationBody(v) {
  if (v.result === 'conform') return { result: 'conform' };
  return { result: 'discrepancy', findings: [{ kind: v.kind, field: v.field, note: v.note || '—' }] };
}

export async function officerDetail(el, ctx) {
  const d = await get(`/api/declarations/${ctx.id}`);
  if (!ctx.isCurrent()) return;
  const p = ctx.session.principal;
  const duties = p.duties || [];
  const has = (duty) => duties.includes(duty);
  const s = d.state;
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  const take = async (name, body, ok = 'action.done') => {
    try {
      const r = await post(`/api/declarations/${d.id}/${name}`, body);
      toast(t(ok, { status: tk('status', r.status) }));
      reload();
    } catch (e) {
      toast(errorText(e), 'error');
    }
  };
  const btn = (id, key, fn, cls = 'btn-primary') => h('button', { type: 'button', id: `act-${id}`, class: cls, onclick: fn }, t(key));

  const actions = [];
  if (s.status === 'document_review' && has('reviewer')) {
    actions.push(btn('review', 'act.review', async () => {
      const v = await confirmDialog({ title: t('act.review'), fields: findingFields(), confirm: t('act.record') });
      if (v) take('review', examinationBody(v));
    }));
    actions.push(btn('order-inspection', 'act.order_inspection', async () => {
      const v = await confirmDialog({ title: t('act.order_inspection'), fields: [{ name: 'reason', label: t('action.reason'), type: 'textarea', required: true }] });
      if (v) take('inspection-order', { reason: v.reason });
    }, 'btn-secondary'));
  }
  if (s.status === 'inspection' && has('inspector')) {
    actions.push(btn('inspection', 'act.inspection', async () => {
      const v = await confirmDialog({ title: t('act.inspection'), text: t('act.inspection_text'), fields: findingFields(), confirm: t('act.record') });
      if (v) take('inspection', examinationBody(v));
    }));
  }
  if (s.status === 'awaiting_assessment' && has('tax_officer')) {
    actions.push(btn('assess', 'act.assess', async () => {
      if (await confirmDialog({ title: t('act.assess'), text: t('act.assess_text') })) take('assess');
    }));
  }
  if (s.status === 'paid' && has('release_officer')) {
    actions.push(btn('release', 'act.release', async () => {
      if (await confirmDialog({ title: t('act.release'), text: t('act.release_text', { no: s.declaration_no }) })) take('release');
    }));
  }
  if (s.status === 'assessed' && has('release_officer')) {
    actions.push(btn('guarantee', 'act.guarantee', async () => {
      const v = await confirmDialog({ title: t('act.guarantee'), fields: [{ name: 'guarantee_no', label: t('act.guarantee_no'), required: true }] });
      if (v) take('guarantee-release', { guarantee_no: v.guarantee_no });
    }, 'btn-secondary'));
  }
  if (s.status === 'released' && has('release_officer')) {
    if (s.header && s.header.direction === 'export') {
      actions.push(btn('exit', 'act.exit', async () => {
        const v = await confirmDialog({ title: t('act.exit'), fields: [{ name: 'manifest_ref', label: t('act.manifest_ref'), required: true }] });
        if (v) take('exit-confirmation', { manifest_ref: v.manifest_ref });
      }));
    } else {
      actions.push(btn('close', 'act.close', async () => {
        if (await confirmDialog({ title: t('act.close'), text: t('act.close_text') })) take('close');
      }));
    }
  }
  if (s.pending_request && has('reviewer')) {
    const kind = tk('request', s.pending_request.kind);
    actions.push(btn('approve', 'act.approve', async () => {
      const v = await confirmDialog({ title: `${t('act.approve')} — ${kind}`, fields: [{ name: 'reason', label: t('action.reason'), required: true }] });
      if (v) take('request-approval', { reason: v.reason });
    }));
    actions.push(btn('refuse', 'act.refuse', async () => {
      const v = await confirmDialog({ title: `${t('act.refuse')} — ${kind}`, fields: [{ name: 'reason', label: t('action.reason'), required: true }], danger: true });
      if (v) take('request-refusal', { reason: v.reason });
    }, 'btn-danger'));
  }
  if (has('anti_smuggling')) {
    if (s.status === 'suspended') {
      actions.push(btn('unsuspend', 'act.unsuspend', async () => {
        const v = await confirmDialog({ title: t('act.unsuspend'), fields: [{ name: 'reason', label: t('action.reason'), required: true }] });
        if (v) take('unsuspend', { reason: v.reason });
      }));
    } else if (!['rejected', 'withdrawn', 'closed', 'cancelled'].includes(s.status)) {
      actions.push(btn('suspend', 'act.suspend', async () => {
        const v = await confirmDialog({ title: t('act.suspend'), fields: [{ name: 'case_no', label: t('act.case_no'), required: true }, { name: 'reason', label: t('action.reason'), required: true }], danger: true });
        if (v) take('suspend', { case_no: v.case_no, reason: v.reason });
      }, 'btn-danger'));
    }
  }

  el.append(h('div.page-head', h('h1', t('detail.title')), h('a', { href: '#/officer' }, t('nav.back_worklist'))));
  el.append(summary(d));
  el.append(section('detail.actions', actions.length ? h('div.actions', actions) : emptyState(t('act.none'))));
  el.append(h('div.cols',
    h('div', items(d), taxes(d, null), risk(d), documents(d)),
    h('div', parties(d), timeline(d))));
}
