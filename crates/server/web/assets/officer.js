// Officer console: a worklist per duty (review, inspection, tax, release) with filters, and the
// declaration page with the officer's actions, each confirmed before it is taken.
import { t, tk } from './i18n.js';
import { get, post, ApiError } from './api.js';
import { h, clear, section, emptyState, toast, confirmDialog, errorText, dateAttrs, problemText, fieldLabel } from './ui.js';
import { summary, timeline, taxes, items, parties, risk, documents, loadDetailCodes, printButton, attachmentsSection, printTitle } from './detail.js';
import { serverList } from './lists.js';
import { versionHistory, refunds, correctionDialog } from './versions.js';

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

  el.append(h('div.page-head', h('h1', t('work.title')),
    h('span.muted', session.principal.office ? t('work.office', { office: session.principal.office }) : t('work.all_offices'))));
  el.append(h('nav.tabs', { 'aria-label': t('work.tabs') }, tabs.map(([id, key]) =>
    h('a', { href: `#/officer?tab=${id}`, 'aria-current': id === tab[0] ? 'page' : null, id: `tab-${id}` }, t(key)))));

  await serverList(el, { id: 'worklist', hashBase: '#/officer', params, keep: { tab: tab[0] }, fields: ['status', 'lane', 'office', 'commodity', 'country'], statusDefault: tab[2], hrefOf: (d) => `#/officer/d/${d.id}`, session, emptyKey: 'work.empty' });
}

const FINDING_KINDS = ['misclassification', 'undervaluation', 'quantity', 'prohibited_goods', 'other'];
// Findings one examination records at most (the clearance service's own limit is higher).
const FINDINGS_SHOWN_MAX = 10;

// The result of a document review or an inspection: conform, or a discrepancy with one or more
// findings (kind, the field concerned, a note), each added with a button and checked before the
// dialog closes. Resolves to the request body, or null if cancelled.
function examinationDialog({ title, text }) {
  const dlg = document.getElementById('dialog');
  clear(dlg);
  return new Promise((resolve) => {
    const result = h('select#dlg-result', { name: 'result' },
      h('option', { value: 'conform' }, t('result.conform')),
      h('option', { value: 'discrepancy' }, t('result.discrepancy')));
    const list = h('ol.findings#dlg-findings');
    const err = h('p.error#dlg-error', { role: 'alert' });
    const add = h('button.btn-secondary#dlg-add-finding', { type: 'button' }, t('finding.add'));
    const findingsBox = h('fieldset.findings-box', { hidden: true }, h('legend', t('finding.list')), list, add);
    const renumber = () => {
      [...list.children].forEach((li, i) => {
        li.querySelector('h3').textContent = t('finding.n', { n: i + 1 });
        for (const name of ['kind', 'field', 'note']) {
          const input = li.querySelector(`[name="${name}"]`);
          const label = li.querySelector(`label[data-for="${name}"]`);
          input.id = `dlg-${name}-${i}`;
          label.htmlFor = input.id;
        }
      });
      add.disabled = list.children.length >= FINDINGS_SHOWN_MAX;
    };
    const addFinding = () => {
      const kind = h('select', { name: 'kind' }, FINDING_KINDS.map((k) => h('option', { value: k }, tk('finding', k))));
      const field = h('input', { name: 'field', type: 'text', autocomplete: 'off', spellcheck: 'false' });
      const note = h('textarea', { name: 'note', rows: 2, required: true });
      const remove = h('button.btn-link', { type: 'button' }, t('finding.remove'));
      const li = h('li.finding', h('h3', ''),
        h('div.field', h('label', { dataset: { for: 'kind' } }, t('finding.label')), kind),
        h('div.field', h('label', { dataset: { for: 'field' } }, t('finding.field')), field),
        h('div.field', h('label', { dataset: { for: 'note' } }, t('finding.note'), h('span.req', { 'aria-hidden': 'true' }, ' *')), note),
        remove);
      remove.addEventListener('click', () => {
        li.remove();
        renumber();
        (list.querySelector('select') || add).focus();
      });
      list.append(li);
      renumber();
      return kind;
    };
    add.addEventListener('click', () => addFinding().focus());
    result.addEventListener('change', () => {
      const discrepancy = result.value === 'discrepancy';
      findingsBox.hidden = !discrepancy;
      if (discrepancy && !list.children.length) addFinding();
      err.textContent = '';
    });
    const cancel = h('button.btn-secondary', { type: 'button' }, t('action.cancel'));
    const ok = h('button.btn-primary#dialog-confirm', { type: 'submit' }, t('act.record'));
    const form = h('form', { method: 'dialog', novalidate: true },
      h('h2#dialog-title', title), text ? h('p', text) : null,
      h('div.field', h('label', { for: 'dlg-result' }, t('result.label')), result),
      findingsBox, err, h('div.actions', cancel, ok));
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
      if (result.value === 'conform') {
        finish({ result: 'conform' });
        return;
      }
      const findings = [...list.children].map((li) => ({
        kind: li.querySelector('[name="kind"]').value,
        field: li.querySelector('[name="field"]').value.trim(),
        note: li.querySelector('[name="note"]').value.trim(),
      }));
      const blank = [...list.children].find((li) => !li.querySelector('[name="note"]').value.trim());
      if (!findings.length || blank) {
        err.textContent = t('finding.note_required');
        if (blank) blank.querySelector('[name="note"]').focus();
        else add.focus();
        return;
      }
      finish({ result: 'discrepancy', findings });
    });
    dlg.showModal();
    result.focus();
  });
}

export async function officerDetail(el, ctx) {
  const [d, versions] = await Promise.all([get(`/api/declarations/${ctx.id}`), get(`/api/declarations/${ctx.id}/versions`).catch(() => [])]);
  await loadDetailCodes(d);
  if (!ctx.isCurrent()) return;
  // Which declaration and version the page shows (a notification about a newer one redraws it).
  Object.assign(el.dataset, { declaration: String(d.id), version: String(d.version) });
  const p = ctx.session.principal;
  const duties = p.duties || [];
  const has = (duty) => duties.includes(duty);
  const s = d.state;
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  const take = async (name, body, ok = 'action.done') => {
    try {
      const r = await post(`/api/declarations/${d.id}/${name}`, body);
      toast(() => t(ok, { status: tk('status', r.status) }));
      reload();
    } catch (e) {
      toast(() => errorText(e), 'error');
    }
  };
  const btn = (id, key, fn, cls = 'btn-primary') => h('button', { type: 'button', id: `act-${id}`, class: cls, onclick: fn }, t(key));

  // What the service would accept in this state (clearance::decide): while a request of the
  // declarant waits for a decision, every step of the clearance waits too; only the decision
  // on the request (and a suspension) is offered.
  const waiting = !!s.pending_request;
  const actions = [];
  if (!waiting && s.status === 'document_review' && has('reviewer')) {
    actions.push(btn('review', 'act.review', async () => {
      const body = await examinationDialog({ title: t('act.review') });
      if (body) take('review', body);
    }));
    actions.push(btn('order-inspection', 'act.order_inspection', async () => {
      const v = await confirmDialog({ title: t('act.order_inspection'), fields: [{ name: 'reason', label: t('action.reason'), type: 'textarea', required: true }] });
      if (v) take('inspection-order', { reason: v.reason });
    }, 'btn-secondary'));
  }
  if (!waiting && s.status === 'inspection' && has('inspector')) {
    actions.push(btn('inspection', 'act.inspection', async () => {
      const body = await examinationDialog({ title: t('act.inspection'), text: t('act.inspection_text') });
      if (body) take('inspection', body);
    }));
  }
  if (!waiting && s.status === 'awaiting_assessment' && has('tax_officer')) {
    actions.push(btn('assess', 'act.assess', async () => {
      if (await confirmDialog({ title: t('act.assess'), text: t('act.assess_text') })) take('assess');
    }));
  }
  if (!waiting && s.status === 'paid' && has('release_officer')) {
    actions.push(btn('release', 'act.release', async () => {
      if (await confirmDialog({ title: t('act.release'), text: t('act.release_text', { no: s.declaration_no }) })) take('release');
    }));
  }
  if (!waiting && s.status === 'assessed' && has('release_officer')) {
    actions.push(btn('guarantee', 'act.guarantee', async () => {
      const v = await confirmDialog({ title: t('act.guarantee'), fields: [{ name: 'guarantee_no', label: t('act.guarantee_no'), required: true }] });
      if (v) take('guarantee-release', { guarantee_no: v.guarantee_no });
    }, 'btn-secondary'));
  }
  if (!waiting && s.status === 'released' && has('release_officer')) {
    if (s.header && s.header.direction === 'export') {
      actions.push(btn('exit', 'act.exit', async () => {
        const v = await confirmDialog({ title: t('act.exit'), text: t('act.exit_text'), fields: [{ name: 'manifest_ref', label: t('act.manifest_ref'), required: true }] });
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
  // An officer's correction from a finding makes a new version, re-assessed (docs/TAX.md).
  if (!waiting && has('reviewer') && !['rejected', 'withdrawn', 'cancelled', 'closed', 'suspended'].includes(s.status)) {
    actions.push(btn('correction', 'act.correction', async () => {
      const body = await correctionDialog();
      if (body) take('correction', body);
    }, 'btn-secondary'));
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

  el.append(printTitle(d));
  el.append(h('div.page-head', h('h1', t('detail.title')),
    h('div.actions', printButton(), h('a', { href: '#/officer' }, t('nav.back_worklist')))));
  el.append(summary(d));
  el.append(section('detail.actions',
    waiting ? h('p.warning#request-waiting', t('act.request_waiting', { kind: tk('request', s.pending_request.kind) })) : null,
    actions.length ? h('div.actions', actions) : emptyState(t('act.none'))));
  // The goods take the page's whole width; the rest shares it below.
  el.append(items(d));
  // A tax officer decides a refund once requested (taxpayer's) or as found (customs-found).
  const refundActions = (r) => (has('tax_officer') && (r.status === 'requested' || (r.status === 'open' && r.record.origin === 'customs_found'))
    ? [h('button.btn-primary', { type: 'button', 'data-refund-approve': r.record.refund_no, onclick: async () => {
      const v = await confirmDialog({ title: t('taxrefund.approve'), text: r.record.refund_no, fields: [{ name: 'reason', label: t('action.reason'), required: true }] });
      if (v) take('refund-approval', { refund_no: r.record.refund_no, reason: v.reason });
    } }, t('taxrefund.approve')),
    h('button.btn-danger', { type: 'button', 'data-refund-refuse': r.record.refund_no, onclick: async () => {
      const v = await confirmDialog({ title: t('taxrefund.refuse'), text: r.record.refund_no, fields: [{ name: 'reason', label: t('action.reason'), required: true }], danger: true });
      if (v) take('refund-refusal', { refund_no: r.record.refund_no, reason: v.reason });
    } }, t('taxrefund.refuse'))]
    : null);
  el.append(h('div.cols',
    h('div', taxes(d, null), refunds(d, refundActions), risk(d), documents(d), attachmentsSection(d)),
    h('div', parties(d), versionHistory(versions), timeline(d))));
}
