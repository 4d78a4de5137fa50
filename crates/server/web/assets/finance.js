// Export tax refund and foreign exchange on the E-Port (docs/EPORT.md "API"): an enterprise
// files and follows its refund claims and sees its foreign-exchange status; the tax agency
// reads the verified claims; a bank records receipts and payments; the foreign-exchange
// agency reads the class report.
import { t, pick } from './i18n.js';
import { get, post, ApiError } from './api.js';
import { h, clear, toast, emptyState, table, dataTable, fmtFen, fmtDecimal, fmtDate, problemText, errorText, dateAttrs, codeName } from './ui.js';

const CLASS_KEYS = { A: 'forex.class_a', B: 'forex.class_b', C: 'forex.class_c' };
const KIND_KEYS = { receipt: 'bank.receipt', payment: 'bank.payment' };

const classBadge = (c) => h('span', { class: `badge forex-class forex-${c}` }, t(CLASS_KEYS[c] || 'forex.class_c'));
const pct = (bp) => `${(Number(bp) / 100).toFixed(2)} %`;
const fen = (v) => h('td.num', { dataset: { sort: String(v) } }, fmtFen(v));

// A form of text inputs (and selects: attrs.options = [[value, key]]), with the errors of the
// API shown on their fields. fields: [name, label key, attrs]. onSubmit(body) posts.
export function apiForm({ id, titleKey, submitKey, fields, onSubmit }) {
  const inputs = {};
  const errs = {};
  const rows = fields.map(([name, key, attrs = {}]) => {
    const fid = `${id}-${name}`;
    const { options, optional, ...rest } = attrs;
    const input = options
      ? h('select', { id: fid, name }, options.map(([v, k]) => h('option', { value: v }, t(k))))
      : h('input', { id: fid, name, type: 'text', autocomplete: 'off', required: !optional, ...rest });
    const err = h('div.field-error', { id: `${fid}-err`, role: 'alert' });
    input.setAttribute('aria-describedby', `${fid}-err`);
    inputs[name] = input;
    errs[name] = err;
    return h('div.field', h('label', { for: fid }, t(key), optional ? null : h('span.req', { 'aria-hidden': 'true' }, ' *')), input, err);
  });
  // What each field holds to start with (a default such as the currency), restored after a
  // successful submission.
  const initial = Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.value]));
  const formErr = h('p.error', { id: `${id}-error`, role: 'alert' });
  const submit = h('button.btn-primary', { id: `${id}-submit`, type: 'submit' }, t(submitKey));
  const form = h('form', { id, novalidate: true, 'aria-labelledby': `${id}-title` },
    h('h3', { id: `${id}-title` }, t(titleKey)), h('div.fields', rows), formErr, h('div.actions', submit));
  const setError = (name, msg) => {
    errs[name].textContent = msg || '';
    if (msg) inputs[name].setAttribute('aria-invalid', 'true');
    else inputs[name].removeAttribute('aria-invalid');
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const name of Object.keys(inputs)) setError(name, '');
    formErr.textContent = '';
    let first = null;
    for (const [name, , attrs = {}] of fields) {
      if (!attrs.optional && !inputs[name].value.trim()) {
        setError(name, t('licence.required'));
        first = first || inputs[name];
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
      await onSubmit(body);
      for (const [name, input] of Object.entries(inputs)) if (input.tagName !== 'SELECT') input.value = initial[name];
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

// --- Export tax refund ------------------------------------------------------------------------

function claimTable(list, { withClaimant = false, id } = {}) {
  if (!list.length) return emptyState(t('refund.empty'));
  const heads = [t('refund.declaration_no'), t('refund.item_no'), withClaimant ? t('refund.claimant') : null,
    t('refund.hs_code'), t('refund.quantity'), t('refund.fob_value_fen'), t('refund.customs_fob'), t('refund.status'),
    t('refund.claimed_at')].filter(Boolean);
  const rows = list.map((c) => h('tr', { dataset: { claim: `${c.declaration_no}/${c.item_no}` } },
    h('td.mono', c.declaration_no),
    h('td.num', String(c.item_no)),
    withClaimant ? h('td.mono', c.claimant) : null,
    h('td.mono', c.hs_code),
    h('td.num', { dataset: { sort: String(c.quantity) } }, fmtDecimal(c.quantity), ' ', codeName('units', c.unit, { unit: true })),
    fen(c.fob_value_fen),
    h('td.num', { dataset: { sort: String(c.customs_fob_value_fen) } }, fmtFen(c.customs_fob_value_fen), h('span.muted', ` (${fmtDecimal(c.fob_value)} ${c.currency})`)),
    h('td', h('span.badge.ok', t('refund.verified'))),
    h('td', fmtDate(c.claimed_at))));
  // The tax agency's list is long: its tools; an enterprise's own is short.
  const el = withClaimant
    ? dataTable('claims', heads, rows, { caption: t('refund.caption'), csvName: 'refund-claims.csv' })
    : table(heads, rows, { caption: t('refund.caption') });
  if (id) el.id = id;
  return el;
}

// The enterprise's claims and the form to file one.
export async function myRefunds(ctx) {
  const body = h('div#my-refunds');
  const load = async () => {
    const list = await get('/api/eport/my-refund-claims');
    if (ctx && !ctx.isCurrent()) return;
    clear(body).append(claimTable(list));
  };
  await load();
  const form = apiForm({
    id: 'refund-form',
    titleKey: 'refund.file',
    submitKey: 'refund.submit',
    fields: [
      ['declaration_no', 'refund.declaration_no', { maxlength: 18, pattern: '[0-9]{18}', inputmode: 'numeric' }],
      ['item_no', 'refund.item_no', { inputmode: 'numeric' }],
      ['hs_code', 'refund.hs_code', { maxlength: 10, pattern: '[0-9]{10}', inputmode: 'numeric' }],
      ['quantity', 'refund.quantity', { inputmode: 'decimal' }],
      ['fob_value', 'refund.fob_yuan', { inputmode: 'decimal' }],
    ],
    onSubmit: async (b) => {
      // Yuan as typed, to fen: digits only, no float arithmetic.
      const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(b.fob_value);
      const fenValue = m ? Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0')) : -1;
      const c = await post('/api/eport/refund-claims', {
        declaration_no: b.declaration_no,
        item_no: Number(b.item_no),
        hs_code: b.hs_code,
        quantity: b.quantity,
        fob_value_fen: fenValue,
      });
      toast(() => t('refund.filed', { no: c.declaration_no, item: c.item_no }));
      await load();
    },
  });
  return [h('p.muted', t('refund.tolerance')), body, form];
}

// Closed exports whose exit no departed manifest proves (closed with free text before exits were
// bound to manifests): no claim on them is verified (docs/CARGO.md "Exit confirmation").
function unprovenTable(page) {
  if (!page.items.length) return emptyState(t('unproven.empty'));
  const heads = [t('refund.declaration_no'), t('unproven.declarant'), t('unproven.manifest_ref'),
    t('unproven.confirmed_by'), t('unproven.confirmed_at'), t('unproven.reason')];
  const rows = page.items.map((u) => h('tr', { dataset: { unproven: u.declaration_no || '' } },
    h('td.mono', u.declaration_no || ''),
    h('td.mono', u.declarant),
    h('td.mono', u.manifest_ref || ''),
    h('td', u.confirmed_by || ''),
    h('td', u.confirmed_at ? fmtDate(u.confirmed_at) : ''),
    h('td', pick(u, 'message'))));
  return table(heads, rows, { caption: t('unproven.caption') });
}

// The tax agency's verified claims, and the exports whose exit is unproven.
export async function taxClaims() {
  const [list, unproven] = await Promise.all([get('/api/eport/refund-claims'), get('/api/exits/unproven')]);
  return h('div#tax-claims', claimTable(list, { withClaimant: true }),
    h('h3', t('unproven.caption')), h('p.muted', t('unproven.text')), h('div#unproven-exits', unprovenTable(unproven)));
}

// --- Foreign exchange -------------------------------------------------------------------------

function figures(m) {
  return [
    [t('forex.export_goods'), fmtFen(m.export_goods_fen)],
    [t('forex.receipts'), fmtFen(m.receipts_fen)],
    [t('forex.import_goods'), fmtFen(m.import_goods_fen)],
    [t('forex.payments'), fmtFen(m.payments_fen)],
    [t('forex.gap'), fmtFen(m.gap_fen)],
    [t('forex.divergence'), pct(m.divergence_bp)],
  ];
}

function policyText(r) {
  return t('forex.policy', {
    a: pct(r.policy.class_a_divergence_bp_max),
    b: pct(r.policy.class_b_divergence_bp_max),
    months: r.policy.persistent_months,
    yuan: fmtFen(r.policy.materiality_fen),
  });
}

// The enterprise's own match status.
export async function myForex() {
  const s = await get('/api/eport/forex/my-status');
  return h('div#my-forex',
    h('p', t('forex.period', { from: s.from, to: s.to }), ' ', classBadge(s.class),
      s.persistent ? h('span.muted', ' ', t('forex.persistent')) : null),
    h('dl.kv', figures(s).flatMap(([k, v]) => [h('dt', k), h('dd.num', v)])),
    h('p.muted.small', policyText(s)));
}

// The foreign-exchange agency's report: enterprises by class with the figures.
export async function forexReport() {
  const r = await get('/api/eport/forex/report');
  const counts = h('p#forex-counts', t('forex.period', { from: r.from, to: r.to }), ' ',
    classBadge('A'), ` ${r.class_a}  `, classBadge('B'), ` ${r.class_b}  `, classBadge('C'), ` ${r.class_c}`);
  const heads = [t('forex.enterprise'), t('forex.class'), t('forex.export_goods'), t('forex.receipts'),
    t('forex.import_goods'), t('forex.payments'), t('forex.gap'), t('forex.divergence')];
  const rows = r.enterprises.map((e) => h('tr', { dataset: { uscc: e.uscc, cls: e.class } },
    h('td', h('span.mono', e.uscc), e.name ? h('div.muted.small', e.name) : null),
    h('td', classBadge(e.class), e.persistent ? h('div.muted.small', t('forex.persistent')) : null),
    fen(e.export_goods_fen), fen(e.receipts_fen), fen(e.import_goods_fen), fen(e.payments_fen), fen(e.gap_fen),
    h('td.num', { dataset: { sort: String(e.divergence_bp) } }, pct(e.divergence_bp))));
  const list = r.enterprises.length ? dataTable('forex', heads, rows, { caption: t('forex.caption'), csvName: 'forex-classes.csv' }) : emptyState(t('forex.empty'));
  return h('div#forex-report', counts, list, h('p.muted.small', policyText(r)));
}

// --- Banks ------------------------------------------------------------------------------------

function recordTable(list) {
  if (!list.length) return emptyState(t('bank.empty'));
  const heads = [t('bank.bank_ref'), t('bank.kind'), t('bank.uscc'), t('bank.amount'), t('bank.amount_fen'),
    t('bank.value_date'), t('bank.declaration_no')];
  const rows = list.map((r) => h('tr', { dataset: { ref: r.bank_ref } },
    h('td.mono', r.bank_ref),
    h('td', t(KIND_KEYS[r.kind] || 'bank.receipt')),
    h('td.mono', r.uscc),
    h('td.num', { dataset: { sort: String(r.amount) } }, `${fmtDecimal(r.amount)} ${r.currency}`),
    fen(r.amount_fen),
    h('td', fmtDate(r.value_date)),
    h('td.mono', r.declaration_no || '—')));
  return dataTable('bank', heads, rows, { caption: t('bank.caption'), csvName: 'bank-records.csv' });
}

// A bank user's records and the form to record one.
export async function bankDesk(ctx) {
  const body = h('div#bank-records');
  const load = async () => {
    const list = await get('/api/eport/bank-records');
    if (ctx && !ctx.isCurrent()) return;
    clear(body).append(recordTable(list));
  };
  await load();
  const form = apiForm({
    id: 'bank-form',
    titleKey: 'bank.record',
    submitKey: 'bank.submit',
    fields: [
      ['kind', 'bank.kind', { options: [['receipt', 'bank.receipt'], ['payment', 'bank.payment']] }],
      ['uscc', 'bank.uscc', { maxlength: 18, pattern: '[0-9A-Z]{18}' }],
      ['amount', 'bank.amount', { inputmode: 'decimal' }],
      ['currency', 'bank.currency', { maxlength: 3, value: 'CNY' }],
      ['value_date', 'bank.value_date', dateAttrs()],
      ['bank_ref', 'bank.bank_ref', { maxlength: 64 }],
      ['declaration_no', 'bank.declaration_no', { optional: true, maxlength: 18, inputmode: 'numeric' }],
    ],
    onSubmit: async (b) => {
      const rec = { ...b };
      if (!rec.declaration_no) delete rec.declaration_no;
      const r = await post('/api/eport/bank-records', rec);
      toast(() => t('bank.recorded', { ref: r.bank_ref }));
      await load();
    },
  });
  return [body, form];
}
