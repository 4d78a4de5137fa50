// The E-Port exchange in the pages (docs/EXCHANGE.md): the messages an agency received on its
// signed feed (agency desk), and the health of the exchange per agency (HQ dashboard).
import { t, tk, tkMaybe } from './i18n.js';
import { get, ApiError } from './api.js';
import { h, fmtTime, fmtSeconds, fmtNumber, table, dataTable, emptyState, errorText, problemText } from './ui.js';

// Rows the desk shows, newest first.
const ROWS_SHOWN = 50;

function payloadOf(e) {
  try {
    return JSON.parse(e.payload);
  } catch {
    return {};
  }
}

// The newest messages addressed to the user's agency (`/api/exchange/recent`): looking at them
// here acknowledges nothing (an agency's system reads on from its own feed cursor).
export async function agencyMessages() {
  let page;
  try {
    page = await get(`/api/exchange/recent?limit=${ROWS_SHOWN}`);
  } catch (e) {
    const why = e instanceof ApiError && e.problems.length ? e.problems.map(problemText).join(' ') : errorText(e);
    return h('div#agency-messages', h('p.muted', t('messages.unavailable'), ' ', why));
  }
  const list = page.messages || [];
  if (!list.length) return h('div#agency-messages', emptyState(t('messages.empty')));
  const shown = list.slice().reverse();
  const rows = shown.map((e) => {
    const p = payloadOf(e);
    const sig = e.signature ? `${e.signature.algorithm} ${e.signature.key_id}` : t('messages.unsigned');
    return h('tr', { dataset: { message: e.id, declaration: p.declaration_no || '' } },
      h('td.mono', e.id),
      h('td', tk('msg', e.kind)),
      h('td', fmtTime(e.created_at)),
      h('td.mono', p.declaration_no || p.licence_no || '—'),
      h('td.mono', p.declarant || p.holder || '—'),
      h('td.num', String((p.items || []).length || (p.quantity ? 1 : 0))),
      h('td.mono.small', sig));
  });
  return h('div#agency-messages',
    h('p.muted.small', t('messages.note', { shown: fmtNumber(shown.length) })),
    dataTable('messages', [t('messages.id'), t('messages.kind'), t('messages.created_at'), t('messages.declaration_no'),
      t('messages.enterprise'), t('messages.items'), t('messages.signature')], rows, { caption: t('agency.messages'), csvName: 'agency-messages.csv' }));
}

// The exchange's health from the dashboard summary (`exchange`: outbox counts per agency).
export function exchangeHealth(x) {
  const state = !x || !x.outbox
    ? h('span.badge.status-suspended', t('hq.exchange_no_outbox'))
    : x.signing_key
      ? h('span.badge.status-released', t('hq.exchange_served', { key: x.signing_key }))
      : h('span.badge.status-assessed', t('hq.exchange_not_served'));
  const agencies = (x && x.agencies) || [];
  const rows = agencies.map((a) => h('tr', { dataset: { agency: a.agency } },
    h('td', tkMaybe('agency_name', String(a.agency).toLowerCase()) ? [tkMaybe('agency_name', String(a.agency).toLowerCase()), ' ', h('span.mono.muted', a.agency)] : h('span.mono', a.agency)),
    h('td.num.sent', fmtNumber(a.sent)),
    h('td.num.acknowledged', fmtNumber(a.acknowledged)),
    h('td.num.waiting', fmtNumber(a.waiting)),
    h('td.num', fmtNumber(a.unpublished)),
    h('td.num', fmtSeconds(a.oldest_unpublished_seconds))));
  return h('div#exchange-health',
    h('p#exchange-state', state),
    agencies.length
      ? table([t('hq.exchange_agency'), t('hq.exchange_sent'), t('hq.exchange_acknowledged'), t('hq.exchange_waiting'),
        t('hq.exchange_unpublished'), t('hq.exchange_oldest')], rows, { cls: 'compact', caption: t('hq.exchange') })
      : emptyState(t('hq.exchange_nothing')),
    h('p.muted.small', t('hq.exchange_text')));
}
