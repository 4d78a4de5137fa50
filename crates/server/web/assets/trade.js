// The HQ dashboard's trade section, from the statistics warehouse (docs/STATISTICS.md): the
// monthly trend of exports and imports, and trade by chapter, partner, trade mode and district
// in USD. A click on a bar or a row drills down: the table below lists that group's trade by
// the next finer dimension. Every table downloads as CSV; the monthly bulletin as CSV or Excel.
import { t, pick } from './i18n.js';
import { get, ApiError } from './api.js';
import { h, section, dataTable, fmtNumber, emptyState, errorText } from './ui.js';

const BREAKDOWNS = [
  { by: 'chapter', title: 'trade.by_chapter', next: 'hs4' },
  { by: 'partner', title: 'trade.by_partner', next: 'chapter' },
  { by: 'trade_mode', title: 'trade.by_mode', next: 'chapter' },
  { by: 'district', title: 'trade.by_district', next: 'partner' },
];

// Dollars from cents, whole dollars with separators.
const usd = (cents) => fmtNumber(Math.round(cents / 100));

function monthsOfYear() {
  const now = new Date();
  const y = now.getFullYear();
  const m = String(now.getMonth() + 1).padStart(2, '0');
  return { from: `${y}-01`, to: `${y}-${m}` };
}

function rowsTable(id, answer, onPick) {
  const headers = [t('trade.code'), t('trade.name'), t('trade.exports_usd'), t('trade.imports_usd'), t('trade.total_usd'), t('trade.items')];
  const rows = answer.rows.map((r) => {
    const tr = h('tr',
      h('td.mono', r.code),
      h('td', pick(r, 'name')),
      h('td.num', { dataset: { sort: String(r.export_usd_cents) } }, usd(r.export_usd_cents)),
      h('td.num', { dataset: { sort: String(r.import_usd_cents) } }, usd(r.import_usd_cents)),
      h('td.num', { dataset: { sort: String(r.export_usd_cents + r.import_usd_cents) } }, usd(r.export_usd_cents + r.import_usd_cents)),
      h('td.num', fmtNumber(r.items)));
    if (onPick) {
      tr.classList.add('clickable');
      tr.setAttribute('tabindex', '0');
      tr.addEventListener('click', () => onPick(r));
      tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') onPick(r); });
    }
    return tr;
  });
  return dataTable(id, headers, rows, { caption: id, csvName: `${id}.csv` });
}

export async function tradeSection(el, { chart, office, drill: listOf }) {
  const { from, to } = monthsOfYear();
  const q = (by, extra = {}) => {
    const p = new URLSearchParams({ by, from, to, limit: '20', ...extra });
    if (office) p.set('office', office);
    return get(`/api/stats/warehouse?${p}`);
  };
  let trend;
  try {
    trend = await q('month');
    if (trend.available === false) {
      el.append(section('trade.title', emptyState(t('trade.no_warehouse'))));
      return;
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      el.append(section('trade.title', emptyState(t('trade.no_warehouse'))));
      return;
    }
    if (e instanceof ApiError && e.status < 500) {
      el.append(section('trade.title', emptyState(errorText(e))));
      return;
    }
    throw e;
  }
  const bulletinMonth = to;
  const links = h('p.table-tools',
    h('span', t('trade.bulletin', { month: bulletinMonth })),
    h('a.btn-secondary#bulletin-csv', { href: `/api/stats/bulletin?month=${bulletinMonth}&format=csv`, download: `bulletin-${bulletinMonth}.csv` }, 'CSV'),
    h('a.btn-secondary#bulletin-xlsx', { href: `/api/stats/bulletin?month=${bulletinMonth}&format=xlsx`, download: `bulletin-${bulletinMonth}.xlsx` }, 'Excel'));
  const trendCanvas = h('div.chart', h('canvas#chart-trade-trend', { role: 'img', 'aria-label': t('trade.trend') }));
  el.append(section('trade.title', h('p.muted', t('trade.period', { from, to })), links, trendCanvas,
    trend.rows.length ? rowsTable('trade-trend', trend, null) : emptyState(t('hq.none'))));
  chart(trendCanvas.firstChild, {
    type: 'line',
    data: {
      labels: trend.rows.map((r) => r.code),
      datasets: [
        { label: t('trade.exports_usd'), data: trend.rows.map((r) => r.export_usd_cents / 100), borderColor: '#8a1c1c' },
        { label: t('trade.imports_usd'), data: trend.rows.map((r) => r.import_usd_cents / 100), borderColor: '#1565c0' },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  });

  const drill = h('div#trade-drill');
  const showDrill = async (b, r) => {
    drill.replaceChildren(h('p.muted', t('trade.loading')));
    try {
      const a = await q(b.next, { filter: `${b.by}:${r.code}` });
      // The declarations behind a chapter or a partner: the list with the same filter, this year.
      const filter = b.by === 'chapter' ? { commodity: r.code } : b.by === 'partner' ? { country: r.code } : null;
      const listLink = filter && listOf
        ? h('p', h('a.drill#trade-declarations', { href: listOf({ ...filter, from: `${from}-01` }) }, t('trade.declarations_of', { code: r.code })))
        : null;
      drill.replaceChildren(section('trade.drill', h('p', t('trade.drill_of', { code: r.code, name: pick(r, 'name') })), listLink,
        a.rows.length ? rowsTable(`trade-drill-${b.by}-${r.code}`, a, null) : emptyState(t('hq.none'))));
      drill.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      drill.replaceChildren(emptyState(errorText(e)));
    }
  };
  const grid = h('div.grid2');
  el.append(grid, drill);
  for (const b of BREAKDOWNS) {
    const a = await q(b.by);
    const c = h('div.chart', h('canvas', { id: `chart-trade-${b.by}`, role: 'img', 'aria-label': t(b.title) }));
    grid.append(section(b.title, c, a.rows.length ? rowsTable(`trade-${b.by}`, a, (r) => showDrill(b, r)) : emptyState(t('hq.none'))));
    chart(c.firstChild, {
      type: 'bar',
      data: {
        labels: a.rows.map((r) => r.code),
        datasets: [
          { label: t('trade.exports_usd'), data: a.rows.map((r) => r.export_usd_cents / 100), backgroundColor: '#8a1c1c' },
          { label: t('trade.imports_usd'), data: a.rows.map((r) => r.import_usd_cents / 100), backgroundColor: '#1565c0' },
        ],
      },
      options: {
        scales: { y: { beginAtZero: true } },
        onClick: (_ev, elements) => { if (elements.length) showDrill(b, a.rows[elements[0].index]); },
      },
    });
  }
}
