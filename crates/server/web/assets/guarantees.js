// The guarantee ledger on the bank desk (docs/TAX.md "Guarantees"): the guarantees the bank
// issued with what is reserved, claimed and left, and the form to register one.
import { t } from './i18n.js';
import { get, post } from './api.js';
import { h, clear, toast, emptyState, dataTable, fmtFen, fmtDate } from './ui.js';
import { apiForm } from './finance.js';

const KIND_KEYS = { general: 'guarantee.kind_general', bank_guarantee: 'guarantee.kind_bank' };
const PURPOSE_KEYS = { release: 'guarantee.purpose_release', transit: 'guarantee.purpose_transit' };
const fen = (v) => h('td.num', { dataset: { sort: String(v) } }, fmtFen(v));

// "1234.5" → 123450 fen; anything else is sent as typed, for the server to refuse on its field.
function toFen(text) {
  const m = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text);
  return m ? Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0')) : text;
}

function guaranteeTable(list) {
  if (!list.length) return emptyState(t('guarantee.empty'));
  const heads = [t('guarantee.id'), t('guarantee.kind'), t('guarantee.holder'), t('guarantee.amount'),
    t('guarantee.reserved'), t('guarantee.claimed'), t('guarantee.balance'), t('guarantee.valid'),
    t('guarantee.offices'), t('guarantee.purposes')];
  const rows = list.map((g) => h('tr', { dataset: { guarantee: g.terms.id } },
    h('td.mono', g.terms.id),
    h('td', t(KIND_KEYS[g.terms.kind] || 'guarantee.kind_general')),
    h('td.mono', g.terms.holder),
    fen(g.terms.amount_fen), fen(g.reserved_fen), fen(g.claimed_fen), fen(g.balance_fen),
    h('td', `${fmtDate(g.terms.valid_from)} – ${fmtDate(g.terms.valid_to)}`),
    h('td.mono', g.terms.offices.join(' ')),
    h('td', g.terms.purposes.map((p) => t(PURPOSE_KEYS[p] || 'guarantee.purpose_release')).join(', '))));
  return dataTable('guarantees', heads, rows, { caption: t('guarantee.caption'), csvName: 'guarantees.csv' });
}

// A bank user's guarantees and the form to register one.
export async function guaranteeDesk(ctx) {
  const body = h('div#bank-guarantees');
  const load = async () => {
    const list = await get('/api/guarantees');
    if (ctx && !ctx.isCurrent()) return;
    clear(body).append(guaranteeTable(list));
  };
  await load();
  const form = apiForm({
    id: 'guarantee-form',
    titleKey: 'guarantee.register',
    submitKey: 'guarantee.submit',
    fields: [
      ['id', 'guarantee.id', { maxlength: 64 }],
      ['kind', 'guarantee.kind', { options: [['general', 'guarantee.kind_general'], ['bank_guarantee', 'guarantee.kind_bank']] }],
      ['holder', 'guarantee.holder', { maxlength: 18, pattern: '[0-9A-Z]{18}' }],
      ['amount_fen', 'guarantee.amount', { inputmode: 'decimal' }],
      ['valid_from', 'guarantee.valid_from', { type: 'date' }],
      ['valid_to', 'guarantee.valid_to', { type: 'date' }],
      ['offices', 'guarantee.offices', { maxlength: 400, value: '0000' }],
      ['purposes', 'guarantee.purposes', { options: [['release,transit', 'guarantee.purposes_both'],
        ['release', 'guarantee.purpose_release'], ['transit', 'guarantee.purpose_transit']] }],
    ],
    onSubmit: async (b) => {
      const g = await post('/api/guarantees', {
        ...b,
        amount_fen: toFen(b.amount_fen),
        offices: b.offices.split(/[\s,，]+/).filter(Boolean),
        purposes: b.purposes.split(','),
      });
      toast(() => t('guarantee.registered', { id: g.terms.id }));
      await load();
    },
  });
  return [body, form];
}
