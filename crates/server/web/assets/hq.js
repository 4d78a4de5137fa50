// HQ dashboard: volumes today and this month, lane mix, clearance times (median, p90), top
// commodities and partners, by office; charts by Chart.js (vendored, see vendor/README.md);
// every chart has a table beside it with the same figures; and the exchange's health.
import { t, tk, pick } from './i18n.js';
import { get, ApiError } from './api.js';
import { h, section, table, fmtNumber, fmtSeconds, emptyState, problemText, errorText, fieldLabel, dateAttrs } from './ui.js';
import { exchangeHealth } from './exchange.js';
import { tradeSection } from './trade.js';

const LANE_COLOURS = { green: '#2e7d32', yellow: '#f9a825', red: '#c62828', blue: '#1565c0' };
const charts = [];

function chart(canvas, config) {
  if (typeof window.Chart !== 'function') return;
  config.options = { animation: false, responsive: true, maintainAspectRatio: false, ...config.options };
  charts.push(new window.Chart(canvas, config));
}

function kpi(id, label, value, note) {
  return h('div.kpi', { id }, h('div.kpi-label', label), h('div.kpi-value', value), note ? h('div.kpi-note.muted', note) : null);
}

function canvas(id, label) {
  return h('div.chart', h('canvas', { id, role: 'img', 'aria-label': label }));
}

export async function dashboard(el, { params, session }) {
  while (charts.length) charts.pop().destroy();
  const office = params.get('office') || '';
  const from = params.get('from') || '';
  const to = params.get('to') || '';
  const q = new URLSearchParams();
  if (office) q.set('office', office);
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  const officeIn = h('input#s-office', { name: 'office', value: office, size: 6, inputmode: 'numeric', autocomplete: 'off' });
  const fromIn = h('input#s-from', { name: 'from', ...dateAttrs(), value: from });
  const toIn = h('input#s-to', { name: 'to', ...dateAttrs(), value: to });
  const filters = h('form.filters', { role: 'search' },
    h('label', { for: 's-office' }, t('filter.office')), officeIn,
    h('label', { for: 's-from' }, t('filter.from')), fromIn,
    h('label', { for: 's-to' }, t('filter.to')), toIn,
    h('button.btn-secondary', { type: 'submit' }, t('filter.apply')));
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const n = new URLSearchParams();
    if (officeIn.value.trim()) n.set('office', officeIn.value.trim());
    if (fromIn.value) n.set('from', fromIn.value);
    if (toIn.value) n.set('to', toIn.value);
    location.hash = `#/hq?${n}`;
  });

  // A filter the service refuses is said beside the filters, which stay for correcting it.
  const filterError = h('div.error-summary#filter-error', { role: 'alert', hidden: true });
  let s;
  try {
    s = await get(`/api/stats/summary?${q}`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status >= 500 || e.status === 401) throw e;
    const inputs = { office: officeIn, from: fromIn, to: toIn };
    const problems = e.problems.length ? e.problems : [{ field: '', message_zh: errorText(e), message_en: errorText(e) }];
    for (const p of problems) if (inputs[p.field]) inputs[p.field].setAttribute('aria-invalid', 'true');
    filterError.append(h('h2', t('hq.filter_problem')), h('ul', problems.map((p) => h('li',
      p.field ? [h('strong', inputs[p.field] ? t(`filter.${p.field}`) : fieldLabel(p.field)), t('common.colon')] : null,
      problemText(p)))));
    filterError.hidden = false;
    el.append(h('div.page-head', h('h1', t('hq.title'))), h('div.card', filters), filterError);
    return;
  }

  el.append(h('div.page-head', h('h1', t('hq.title')),
    h('span.muted', s.office ? t('hq.scope_office', { office: s.office }) : session.principal.office ? t('hq.scope_office', { office: session.principal.office }) : t('hq.scope_all'))));
  el.append(h('div.card', filters));

  el.append(h('div.kpis',
    kpi('kpi-today', t('hq.today'), fmtNumber(s.today.declarations), t('hq.released_n', { n: fmtNumber(s.today.released) })),
    kpi('kpi-month', t('hq.month'), fmtNumber(s.month.declarations), t('hq.released_n', { n: fmtNumber(s.month.released) })),
    kpi('kpi-rejected', t('hq.rejected'), fmtNumber(s.period.rejected), t('hq.in_period')),
    kpi('kpi-median', t('hq.median'), fmtSeconds(s.clearance.median_seconds), t('hq.released_n', { n: fmtNumber(s.clearance.count) })),
    kpi('kpi-p90', t('hq.p90'), fmtSeconds(s.clearance.p90_seconds), t('hq.in_period'))));

  // Drill-down: each chart's bar or slice, and each row of the tables beside them, opens the
  // declarations list filtered the same way (the period and office of the dashboard): by lane,
  // status, office, commodity code (`commodity`: any goods line's code begins with it) or
  // trading country (`country`). The trade section's chapters and partners link the same way.
  const drill = (extra) => {
    const n = new URLSearchParams({ tab: 'all', status: '' });
    if (office) n.set('office', office);
    if (from) n.set('from', from);
    if (to) n.set('to', to);
    for (const [k, v] of Object.entries(extra)) n.set(k, v);
    return `#/officer?${n}`;
  };
  const onPick = (values) => (ev, elements) => {
    if (elements && elements.length) location.hash = values(elements[0].index);
  };
  const lanes = ['green', 'yellow', 'red', 'blue'];
  const laneCanvas = canvas('chart-lanes', t('hq.lane_mix'));
  const statusCanvas = canvas('chart-status', t('hq.by_status'));
  const commCanvas = canvas('chart-commodities', t('hq.top_commodities'));
  const partnerCanvas = canvas('chart-partners', t('hq.top_partners'));
  const officeCanvas = canvas('chart-offices', t('hq.by_office'));

  el.append(h('div.grid2',
    section('hq.lane_mix', laneCanvas, table([t('detail.lane'), t('hq.count')], lanes.map((l) => h('tr', h('td', h('a', { href: drill({ lane: l }), class: 'drill' }, tk('lane', l))), h('td.num', fmtNumber(s.lane_mix[l] || 0)))), { cls: 'compact' })),
    section('hq.by_status', statusCanvas, h('ul.drill-links#status-drill', Object.keys(s.by_status).map((x) => h('li', h('a', { href: drill({ status: x }), class: 'drill' }, `${tk('status', x)} ${fmtNumber(s.by_status[x])}`)))))));
  el.append(h('div.grid2',
    section('hq.top_commodities', commCanvas, s.top_commodities.length ? table([t('f.commodity_code'), t('hq.description'), t('hq.items')],
      s.top_commodities.map((c) => h('tr', h('td.mono', h('a', { href: drill({ commodity: c.commodity_code }), class: 'drill' }, c.commodity_code)), h('td', pick(c, 'description')), h('td.num', fmtNumber(c.items)))), { cls: 'compact' }) : emptyState(t('hq.none'))),
    section('hq.top_partners', partnerCanvas, s.top_partners.length ? table([t('hq.country'), t('hq.count')],
      s.top_partners.map((c) => h('tr', h('td', h('a', { href: drill({ country: c.country }), class: 'drill' }, `${c.country} ${pick(c, 'name')}`)), h('td.num', fmtNumber(c.declarations)))), { cls: 'compact' }) : emptyState(t('hq.none')))));
  el.append(h('div.grid2',
    section('hq.by_office', officeCanvas, table([t('filter.office'), t('hq.declarations'), t('hq.released'), t('hq.median')],
      s.by_office.map((o) => h('tr', h('td', h('a', { href: drill({ office: o.office }), class: 'drill' }, `${o.office} ${pick(o, 'name')}`)), h('td.num', fmtNumber(o.declarations)), h('td.num', fmtNumber(o.released)), h('td.num', fmtSeconds(o.median_clearance_seconds)))), { cls: 'compact' })),
    section('hq.exchange', exchangeHealth(s.exchange))));

  chart(laneCanvas.firstChild, {
    type: 'doughnut',
    data: { labels: lanes.map((l) => tk('lane', l)), datasets: [{ data: lanes.map((l) => s.lane_mix[l] || 0), backgroundColor: lanes.map((l) => LANE_COLOURS[l]) }] },
    options: { onClick: onPick((i) => drill({ lane: lanes[i] })), plugins: { legend: { position: 'right' } } },
  });
  const statuses = Object.keys(s.by_status);
  chart(statusCanvas.firstChild, {
    type: 'bar',
    data: { labels: statuses.map((x) => tk('status', x)), datasets: [{ label: t('hq.count'), data: statuses.map((x) => s.by_status[x]), backgroundColor: '#8a1c1c' }] },
    options: { onClick: onPick((i) => drill({ status: statuses[i] })), plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  chart(commCanvas.firstChild, {
    type: 'bar',
    data: { labels: s.top_commodities.map((c) => c.commodity_code), datasets: [{ label: t('hq.items'), data: s.top_commodities.map((c) => c.items), backgroundColor: '#b8860b' }] },
    options: { indexAxis: 'y', onClick: onPick((i) => drill({ commodity: s.top_commodities[i].commodity_code })), plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  chart(partnerCanvas.firstChild, {
    type: 'bar',
    data: { labels: s.top_partners.map((c) => c.country), datasets: [{ label: t('hq.count'), data: s.top_partners.map((c) => c.declarations), backgroundColor: '#1565c0' }] },
    options: { onClick: onPick((i) => drill({ country: s.top_partners[i].country })), plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  chart(officeCanvas.firstChild, {
    type: 'bar',
    data: {
      labels: s.by_office.map((o) => o.office),
      datasets: [
        { label: t('hq.declarations'), data: s.by_office.map((o) => o.declarations), backgroundColor: '#8a1c1c' },
        { label: t('hq.released'), data: s.by_office.map((o) => o.released), backgroundColor: '#2e7d32' },
      ],
    },
    options: { onClick: onPick((i) => drill({ office: s.by_office[i].office })), scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  await tradeSection(el, { chart, office, drill });
}
