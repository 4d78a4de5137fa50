// Payments on the bank desk (docs/TAX.md "Payment through the bank"): the bank's user looks a
// notice up (tax, late payment surcharge, amount due today), confirms its payment with the
// bank's own reference and the amount collected, and reconciles a day's payments (every
// mismatch listed). No endpoint lists the payments waiting: the declarant gives the bank the
// notice number when it initiates the payment.
import { t } from './i18n.js';
import { get, post } from './api.js';
import { h, clear, toast, emptyState, table, fmtFen, fmtDate, fmtTime, dateAttrs } from './ui.js';
import { apiForm } from './finance.js';

const TAX_KEYS = {
  duty: 'tax.duty', vat: 'tax.vat', consumption_tax: 'tax.consumption_tax', anti_dumping_duty: 'tax.anti_dumping_duty',
  countervailing_duty: 'tax.countervailing_duty', safeguard_duty: 'tax.safeguard_duty',
  late_declaration_fee: 'tax.late_declaration_fee', recovery_surcharge: 'tax.recovery_surcharge',
};
const MISMATCH_KEYS = {
  paid_without_confirmation: 'bankpay.mismatch_paid_without_confirmation',
  confirmation_without_payment: 'bankpay.mismatch_confirmation_without_payment',
  differs: 'bankpay.mismatch_differs',
  duplicate_reference: 'bankpay.mismatch_duplicate_reference',
};

// "1234.5" → 123450 fen; anything else is sent as typed, for the server to refuse on its field.
function toFen(text) {
  const m = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text);
  return m ? Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0')) : text;
}
const yuan = (fen) => (fen / 100).toFixed(2);

function noticeView(v) {
  const rows = [
    [t('tax.notice_no'), h('span.mono', v.notice_no)],
    [t('bank.declaration_no'), v.declaration_no || ''],
    [t('tax.kind'), TAX_KEYS[v.tax] ? t(TAX_KEYS[v.tax]) : v.tax],
    [t('bankpay.tax'), fmtFen(v.tax_fen)],
    [t('tax.due_on'), fmtDate(v.due_on)],
    [t('tax.surcharge'), h('span#bankpay-surcharge', fmtFen(v.surcharge_fen), v.surcharge_days ? ` (${t('version.surcharge_days', { days: v.surcharge_days })})` : '')],
    [t('tax.amount_due'), h('strong#bankpay-amount-due', fmtFen(v.amount_due_fen))],
    [t('bankpay.initiated'), v.initiated_bank || t('bankpay.not_initiated')],
    [t('tax.state'), v.paid_at ? t('tax.paid_at', { at: fmtTime(v.paid_at) }) : t('tax.unpaid')],
  ];
  return h('dl.kv', rows.flatMap(([k, x]) => [h('dt', k), h('dd', x)]));
}

function mismatchText(m) {
  const what = t(MISMATCH_KEYS[m.kind] || 'bankpay.mismatch_differs');
  const notice = m.notice_no || (m.paid && m.paid.notice_no) || '';
  const extra = m.kind === 'differs' ? ` ${m.paid.notice_no} ${fmtFen(m.paid.amount_fen)} ≠ ${m.bank.notice_no} ${fmtFen(m.bank.amount_fen)}` : '';
  return h('li', { dataset: { kind: m.kind } }, h('strong', what), ' ', h('span.mono', m.reference), notice ? ` · ${notice}` : '', extra);
}

function reconciliationView(r) {
  return [
    h('p', h('span', { class: `badge ${r.balanced ? 'status-paid' : 'status-rejected'}`, id: 'bankpay-balanced' }, t(r.balanced ? 'bankpay.balanced' : 'bankpay.unbalanced')),
      ' ', t('bankpay.totals', { day: fmtDate(r.day), paid: fmtFen(r.paid_fen), confirmed: fmtFen(r.confirmed_fen) })),
    r.paid.length
      ? table([t('tax.notice_no'), t('bank.bank_ref'), t('tax.amount')], r.paid.map((p) => h('tr', { dataset: { ref: p.reference } },
        h('td.mono', p.notice_no), h('td.mono', p.reference), h('td.num', fmtFen(p.amount_fen)))), { caption: t('bankpay.paid_caption') })
      : emptyState(t('bankpay.none_paid')),
    r.mismatches.length ? [h('h4', t('bankpay.mismatches')), h('ul#bankpay-mismatches', r.mismatches.map(mismatchText))] : h('p.muted', t('bankpay.no_mismatch')),
  ];
}

// A bank user's payments: look up, confirm, reconcile.
export async function paymentDesk(ctx) {
  const notice = h('div#bankpay-notice');
  const recon = h('div#bankpay-reconciliation');
  const reconcile = async (day) => {
    const r = await get(`/api/bank/reconciliation${day ? `?day=${encodeURIComponent(day)}` : ''}`);
    if (ctx && !ctx.isCurrent()) return;
    clear(recon).append(...reconciliationView(r));
  };
  await reconcile('');
  let confirmForm = null;
  const lookup = apiForm({
    id: 'bankpay-lookup',
    titleKey: 'bankpay.lookup',
    submitKey: 'bankpay.lookup_submit',
    fields: [['notice_no', 'tax.notice_no', { maxlength: 64 }]],
    onSubmit: async (b) => {
      const v = await get(`/api/notices/${encodeURIComponent(b.notice_no)}`);
      clear(notice).append(noticeView(v));
      // The confirmation is filled with the notice and the amount due today.
      confirmForm.querySelector('[name="notice_no"]').value = v.notice_no;
      confirmForm.querySelector('[name="amount_fen"]').value = yuan(v.amount_due_fen);
      confirmForm.querySelector('[name="reference"]').focus();
    },
  });
  confirmForm = apiForm({
    id: 'bankpay-form',
    titleKey: 'bankpay.confirm',
    submitKey: 'bankpay.confirm_submit',
    fields: [
      ['notice_no', 'tax.notice_no', { maxlength: 64 }],
      ['reference', 'bank.bank_ref', { maxlength: 64 }],
      ['amount_fen', 'bankpay.amount', { inputmode: 'decimal' }],
    ],
    onSubmit: async (b) => {
      const r = await post('/api/bank/payments', { ...b, amount_fen: toFen(b.amount_fen) });
      toast(() => t('bankpay.confirmed', { notice: r.notice_no, amount: fmtFen(r.paid_fen), ref: r.reference }));
      clear(notice);
      await reconcile('');
    },
  });
  const reconForm = apiForm({
    id: 'bankpay-recon',
    titleKey: 'bankpay.reconciliation',
    submitKey: 'bankpay.reconcile',
    fields: [['day', 'bankpay.day', { ...dateAttrs(), optional: true }]],
    onSubmit: async (b) => reconcile(b.day),
  });
  return [h('p.muted', t('bankpay.intro')), lookup, notice, confirmForm, reconForm, recon];
}
