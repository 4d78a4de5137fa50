// The application shell: session, navigation by kind of user, hash routes, language switch,
// and the homes of the users without a desk of their own module (carriers, postal operators,
// agencies, administrators). Each kind's navigation names only what access.rs lets it do.
import { t, tk, tkOr, initialLang, loadLang, currentLang, applyStatic } from './i18n.js';
import { api, get, post, ApiError, loadCodeRows } from './api.js';
import { h, clear, toast, relangToast, hideToast, section, emptyState, errorText, problemText, dataTable, codeName, fmtTime, fmtFen, fmtDecimal, fieldLabel } from './ui.js';
import { portalList, portalDetail, portalServices, agencyLicences } from './portal.js';
import { declarationForm, clearUserData } from './form.js';
import { worklist, officerDetail } from './officer.js';
import { dashboard } from './hq.js';
import { taxClaims, forexReport, bankDesk } from './finance.js';
import { agencyMessages } from './exchange.js';
import { guaranteeDesk } from './guarantees.js';
import { attorneyView, caseDesk } from './parties.js';
import { aeoDesk, aeoEnterprise } from './aeo.js';
import { signUpView, enterpriseView, registrationDesk } from './registration.js';
import { paymentDesk } from './bankpay.js';
import { inboxView, startLive, stopLive, renderBadge, hasInbox, concerns } from './inbox.js';

export const session = { principal: null };

const main = () => document.getElementById('main');

function duties(p) {
  return (p && p.duties) || [];
}

function homeOf(p) {
  if (!p) return '#/login';
  switch (p.kind) {
    case 'enterprise': return '#/portal';
    case 'officer': return '#/officer';
    case 'hq': return '#/hq';
    case 'agency': return '#/agency';
    case 'carrier': return '#/carrier';
    case 'postal_operator': return '#/postal';
    case 'admin': return '#/admin';
    default: return '#/welcome';
  }
}

function navItems(p) {
  if (!p) return [];
  switch (p.kind) {
    case 'enterprise':
      return [['#/portal', 'nav.declarations'], ['#/portal/new', 'nav.new'], ['#/portal/services', 'nav.services'], ['#/portal/attorney', 'nav.attorney'], ['#/portal/enterprise', 'nav.enterprise'], ['#/portal/aeo', 'nav.aeo_mine']];
    case 'officer': {
      const items = [['#/officer', 'nav.worklist']];
      if (duties(p).includes('statistician')) items.push(['#/hq', 'nav.dashboard']);
      if (duties(p).includes('anti_smuggling')) items.push(['#/cases', 'nav.cases']);
      if (duties(p).includes('reviewer')) items.push(['#/registrations', 'nav.registrations'], ['#/aeo', 'nav.aeo']);
      return items;
    }
    case 'hq':
      return [['#/hq', 'nav.dashboard'], ['#/officer', 'nav.worklist']];
    case 'agency':
      return [['#/agency', 'nav.agency']];
    case 'carrier':
      return [['#/carrier', 'nav.carrier']];
    case 'postal_operator':
      return [['#/postal', 'nav.postal']];
    case 'admin':
      return [['#/admin', 'nav.admin']];
    default:
      return [];
  }
}

function renderShell() {
  const p = session.principal;
  const nav = clear(document.getElementById('nav'));
  const here = location.hash.split('?')[0] || '#/';
  const items = navItems(p);
  const active = items.map(([href]) => href).filter((href) => here === href || here.startsWith(href + '/')).sort((a, b) => b.length - a.length)[0];
  for (const [href, key] of items) {
    nav.append(h('a', { href, 'aria-current': href === active ? 'page' : null }, t(key)));
  }
  // The notifications inbox, with the number unread (inbox.js keeps it current).
  const inbox = document.getElementById('inbox-link');
  inbox.hidden = !hasInbox(p);
  if (here === '#/inbox') inbox.setAttribute('aria-current', 'page');
  else inbox.removeAttribute('aria-current');
  const who = document.getElementById('who');
  who.textContent = p ? `${p.login} · ${tkOr('kind', p.kind, 'kind.other')}` : '';
  document.getElementById('logout').hidden = !p;
  document.getElementById('lang').textContent = t('lang.switch');
  applyStatic(document.body);
  renderBadge();
  document.title = `${t('app.name')} · ${t('app.tagline')}`;
}

function loginView(el) {
  const err = h('p.error#login-error', { role: 'alert' });
  const login = h('input#login', { name: 'login', autocomplete: 'username', required: true });
  const password = h('input#password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form.card.login', { 'aria-labelledby': 'login-title' },
    h('h1#login-title', t('login.title')),
    h('p.muted', t('login.intro')),
    h('div.field', h('label', { for: 'login' }, t('login.login')), login),
    h('div.field', h('label', { for: 'password' }, t('login.password')), password),
    err,
    h('button.btn-primary#login-submit', { type: 'submit' }, t('login.submit')),
    h('p.muted.small', t('login.hint')),
    h('p.small', h('a#register-link', { href: '#/register' }, t('reg.signup_link'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    try {
      const s = await post('/api/session', { login: login.value.trim(), password: password.value });
      session.principal = s.principal;
      hideToast();
      startLive(s.principal);
      location.hash = homeOf(s.principal);
    } catch (e) {
      err.textContent = e instanceof ApiError && e.status === 401 ? t('login.failed') : errorText(e);
      password.select();
    }
  });
  el.append(h('div.center', form));
  login.focus();
}

// Which ledger an agency keeps, by its name (any case): commerce the licences, tax the refund
// claims, forex the class report, bank users their receipts and payments.
const agencyIs = (p, names) => names.includes(String(p.agency || '').toLowerCase());

async function agencyView(el, ctx) {
  const p = session.principal;
  const parts = [];
  if (agencyIs(p, ['commerce', 'mofcom'])) parts.push(['agency.licences', await agencyLicences(ctx)]);
  if (agencyIs(p, ['tax', 'sat'])) parts.push(['agency.refunds', [await taxClaims()]]);
  if (agencyIs(p, ['forex', 'safe'])) parts.push(['agency.forex', [await forexReport()]]);
  if (agencyIs(p, ['bank'])) parts.push(['agency.bank', await bankDesk(ctx)]);
  if (agencyIs(p, ['bank'])) parts.push(['agency.guarantees', await guaranteeDesk(ctx)]);
  if (agencyIs(p, ['bank'])) parts.push(['agency.payments', await paymentDesk(ctx)]);
  const messages = await agencyMessages();
  if (!ctx.isCurrent()) return;
  const agency = tkOr('agency_name', String(p.agency || '').toLowerCase(), 'agency_name.other');
  el.append(h('h1', t('agency.title')), h('p.muted', t('agency.intro', { agency })));
  for (const [key, content] of parts) el.append(section(key, ...content));
  if (!parts.length) el.append(section('agency.ledger', emptyState(t('eport.coming'))));
  el.append(section('agency.messages', messages));
}

function adminView(el) {
  const out = h('div#audit-report');
  const run = async () => {
    clear(out).append(h('p.muted', t('common.loading')));
    try {
      const r = await get('/api/audit/verify');
      clear(out).append(h('p', { class: r.first_broken ? 'error' : 'ok' },
        r.first_broken ? t('admin.audit_broken', { id: r.first_broken.record_id }) : t('admin.audit_ok', { n: r.records_checked })));
    } catch (e) {
      clear(out).append(h('p.error', errorText(e)));
    }
  };
  el.append(h('h1', t('admin.title')),
    section('admin.audit', h('p.muted', t('admin.audit_intro')), h('button.btn-primary', { type: 'button', onclick: run }, t('admin.audit_run')), out),
    section('admin.users', h('p.muted', t('admin.users_intro')), userForm()),
    section('admin.sessions', revokeForm()));
}

// --- Administration: users (POST /api/users) and sessions (POST /api/users/{login}/revoke-sessions)

const ROLES = ['enterprise', 'officer', 'anti_smuggling', 'hq', 'agency', 'bank', 'carrier', 'postal_operator', 'admin'];
const DUTIES = ['reviewer', 'inspector', 'tax_officer', 'release_officer', 'risk_analyst', 'statistician', 'administrator', 'anti_smuggling'];

// A labelled input with its error line; `errs` and `inputs` collect them by name.
function adminField(prefix, name, key, input, inputs, errs, required = false) {
  const id = `${prefix}-${name}`;
  input.id = id;
  input.name = name;
  const err = h('div.field-error', { id: `${id}-err` });
  input.setAttribute('aria-describedby', err.id);
  inputs[name] = input;
  errs[name] = err;
  return h('div.field', h('label', { for: id }, t(key), required ? h('span.req', { 'aria-hidden': 'true' }, ' *') : null), input, err);
}

// Show an API error on the form's fields (by the problem's first path segment), the rest below.
function showFormError(e, inputs, errs, general) {
  const problems = e instanceof ApiError ? e.problems : [];
  const rest = [];
  let first = null;
  for (const p of problems) {
    const name = String(p.field || '').split(/[.[]/)[0];
    if (errs[name]) {
      errs[name].textContent = problemText(p);
      inputs[name].setAttribute('aria-invalid', 'true');
      first = first || inputs[name];
    } else {
      rest.push(`${fieldLabel(p.field)}: ${problemText(p)}`);
    }
  }
  if (!problems.length) rest.push(errorText(e));
  general.textContent = rest.join(' ');
  if (first) first.focus();
}

function userForm() {
  const inputs = {};
  const errs = {};
  const text = (attrs = {}) => h('input', { type: 'text', autocomplete: 'off', ...attrs });
  const role = h('select', ROLES.map((r) => h('option', { value: r }, tk('role', r))));
  const duties = h('fieldset.duties', h('legend', t('admin.duties')), DUTIES.map((d) => h('label.check',
    h('input', { type: 'checkbox', name: 'duty', value: d }), ' ', tk('duty', d))));
  const general = h('p.error#user-error', { role: 'alert' });
  const submit = h('button.btn-primary#user-submit', { type: 'submit' }, t('admin.create_user'));
  const form = h('form#user-form', { novalidate: true },
    h('div.fields',
      adminField('user', 'login', 'admin.login', text(), inputs, errs, true),
      adminField('user', 'password', 'admin.password', h('input', { type: 'password', autocomplete: 'new-password' }), inputs, errs, true),
      adminField('user', 'role', 'admin.role', role, inputs, errs, true),
      adminField('user', 'office', 'admin.office', text({ inputmode: 'numeric', maxlength: 4 }), inputs, errs),
      adminField('user', 'uscc', 'admin.uscc', text({ maxlength: 18 }), inputs, errs),
      adminField('user', 'agency', 'admin.agency', text(), inputs, errs)),
    duties, general, h('div.actions', submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const [name, err] of Object.entries(errs)) {
      err.textContent = '';
      inputs[name].removeAttribute('aria-invalid');
    }
    general.textContent = '';
    const v = (name) => inputs[name].value.trim();
    const body = {
      login: v('login'), password: inputs.password.value, role: v('role'),
      duties: [...duties.querySelectorAll('input:checked')].map((c) => c.value),
      office: v('office') || null, uscc: v('uscc') || null, agency: v('agency') || null,
    };
    submit.disabled = true;
    try {
      const u = await post('/api/users', body);
      toast(() => t('admin.user_created', { login: u.login || body.login }));
      form.reset();
    } catch (e) {
      showFormError(e, inputs, errs, general);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function revokeForm() {
  const inputs = {};
  const errs = {};
  const general = h('p.error#revoke-error', { role: 'alert' });
  const form = h('form#revoke-form', { novalidate: true },
    h('p.muted', t('admin.sessions_intro')),
    h('div.fields', adminField('revoke', 'login', 'admin.login', h('input', { type: 'text', autocomplete: 'off', required: true }), inputs, errs, true)),
    general, h('div.actions', h('button.btn-danger#revoke-submit', { type: 'submit' }, t('admin.revoke'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    general.textContent = '';
    errs.login.textContent = '';
    const login = inputs.login.value.trim();
    if (!login) {
      errs.login.textContent = t('licence.required');
      inputs.login.focus();
      return;
    }
    try {
      const r = await post(`/api/users/${encodeURIComponent(login)}/revoke-sessions`);
      toast(() => t('admin.revoked', { login, n: r.revoked }));
    } catch (e) {
      showFormError(e, inputs, errs, general);
    }
  });
  return form;
}

// --- Carriers: their manifests (with their bills) and transits; docs/CARGO.md ----------------

const transitOf = (x) => (x.state && x.state.declaration) || {};

async function carrierHome(el, ctx) {
  const [manifests, transits] = await Promise.all([get('/api/manifests?limit=500'), get('/api/transits?limit=500')]);
  const list = Array.isArray(transits) ? transits : transits.items || [];
  await loadCodeRows([...manifests.map((m) => ['offices', m.office]),
    ...list.flatMap((x) => [['offices', transitOf(x).entry_office], ['offices', transitOf(x).destination_office]])].filter(([, c]) => c));
  if (!ctx.isCurrent()) return;
  el.append(h('h1', t('carrier.title')), h('p.muted', t('carrier.intro', { uscc: ctx.session.principal.uscc || '' })));
  const mHeads = [t('carrier.manifest'), t('f.direction'), t('carrier.office'), t('carrier.status'), t('carrier.bills')];
  const mRows = manifests.map((m) => h('tr', { dataset: { manifest: m.manifest_id } },
    h('td', h('a.mono', { href: `#/carrier/m/${encodeURIComponent(m.manifest_id)}` }, m.manifest_id)),
    h('td', tk('direction', m.direction)),
    h('td', codeName('offices', m.office)),
    h('td', h('span.badge', tk('manifest_status', m.status))),
    h('td.num', String(m.bills))));
  el.append(section('carrier.manifests', manifests.length
    ? dataTable('manifests', mHeads, mRows, { caption: t('carrier.manifests'), csvName: 'manifests.csv' })
    : emptyState(t('carrier.no_manifests'))));
  const tHeads = [t('carrier.transit'), t('carrier.status'), t('carrier.entry_office'), t('carrier.destination_office'), t('carrier.vehicle'), t('carrier.departed_at'), t('carrier.deadline')];
  const tRows = list.map((x) => {
    const d = transitOf(x);
    const st = x.state || {};
    return h('tr', { dataset: { transit: x.transit_no } },
      h('td.mono', x.transit_no),
      h('td', h('span.badge', tk('transit_status', st.status))),
      h('td', codeName('offices', d.entry_office)),
      h('td', codeName('offices', d.destination_office)),
      h('td.mono', (d.vehicle && (d.vehicle.plate || d.vehicle.name)) || '—'),
      h('td', { dataset: { sort: st.departed_at || '' } }, st.departed_at ? fmtTime(st.departed_at) : '—'),
      h('td', { dataset: { sort: st.deadline || '' } }, st.deadline ? fmtTime(st.deadline) : '—'));
  });
  el.append(section('carrier.transits', list.length
    ? dataTable('transits', tHeads, tRows, { caption: t('carrier.transits'), csvName: 'transits.csv' })
    : emptyState(t('carrier.no_transits'))));
}

async function manifestPage(el, ctx) {
  const id = decodeURIComponent(ctx.id);
  const r = await get(`/api/manifests/${encodeURIComponent(id)}`);
  const m = r.manifest || {};
  const v = m.voyage || {};
  const b = r.balance || { bills: [] };
  await loadCodeRows([['offices', v.office]].filter(([, c]) => c));
  if (!ctx.isCurrent()) return;
  const means = v.means || {};
  el.append(h('div.page-head', h('h1', t('carrier.manifest_title', { id })), h('a', { href: '#/carrier' }, t('nav.back_list'))));
  el.append(h('div.card', h('dl.kv',
    h('dt', t('carrier.status')), h('dd', h('span.badge#manifest-status', tk('manifest_status', m.status))),
    h('dt', t('f.direction')), h('dd', v.direction ? tk('direction', v.direction) : '—'),
    h('dt', t('carrier.office')), h('dd', codeName('offices', v.office)),
    h('dt', t('carrier.means')), h('dd', [means.name, means.imo || means.flight_no].filter(Boolean).join(' · ') || '—'),
    h('dt', t('carrier.voyage')), h('dd.mono', v.voyage_no || '—'),
    h('dt', t('carrier.arrived_at')), h('dd', m.arrival ? fmtTime(m.arrival.occurred_at) : '—'))));
  const heads = [t('carrier.bill'), t('carrier.packages'), t('carrier.weight'), t('carrier.declared_packages'), t('carrier.written_off'), t('carrier.position')];
  const rows = (b.bills || []).map((x) => h('tr', { dataset: { bill: x.bill_no } },
    h('td.mono', x.bill_no),
    h('td.num', fmtDecimal(x.manifested_packages)),
    h('td.num', fmtDecimal(x.manifested_weight_kg)),
    h('td.num', fmtDecimal(x.declared_packages)),
    h('td.num', fmtDecimal(x.written_off_packages)),
    h('td', tk('bill_position', x.position))));
  el.append(section('carrier.bills_title', rows.length
    ? dataTable('bills', heads, rows, { caption: t('carrier.bills_title'), csvName: `${id}-bills.csv` })
    : emptyState(t('carrier.no_bills'))));
}

// --- Postal operators: the outcomes of their parcel lists ------------------------------------

async function postalHome(el, ctx) {
  const list = await get('/api/postal/outcomes');
  const rows = Array.isArray(list) ? list : list.items || [];
  await loadCodeRows(rows.map((x) => ['offices', x.office]).filter(([, c]) => c));
  if (!ctx.isCurrent()) return;
  el.append(h('h1', t('postal.title')), h('p.muted', t('postal.intro', { uscc: ctx.session.principal.uscc || '' })));
  const heads = [t('postal.reference'), t('postal.list_no'), t('postal.office'), t('postal.outcome'), t('postal.value'), t('postal.payable'), t('postal.decided_at')];
  const trs = rows.map((x) => h('tr', { dataset: { parcel: x.reference } },
    h('td.mono', x.reference),
    h('td.mono', x.list_no || '—'),
    h('td', codeName('offices', x.office)),
    h('td', h('span', { class: `badge postal-${x.outcome}` }, tk('postal_outcome', x.outcome))),
    h('td.num', { dataset: { sort: String(x.value_fen) } }, fmtFen(x.value_fen)),
    h('td.num', { dataset: { sort: String(x.payable_fen) } }, fmtFen(x.payable_fen)),
    h('td', { dataset: { sort: x.decided_at || '' } }, fmtTime(x.decided_at))));
  el.append(section('postal.parcels', rows.length
    ? dataTable('parcels', heads, trs, { caption: t('postal.parcels'), csvName: 'parcels.csv' })
    : emptyState(t('postal.empty'))));
}

// A kind of user this interface has no desk for yet: said so, rather than "page not found".
function welcomeView(el) {
  el.append(h('h1', t('welcome.title')), h('p', t('welcome.text')));
}

function notFound(el) {
  el.append(h('h1', t('error.not_found')), h('p', h('a', { href: homeOf(session.principal) }, t('nav.home'))));
}

// Routes: [pattern, view, kinds allowed]
const ROUTES = [
  [/^#\/login$/, loginView, null],
  [/^#\/portal$/, portalList, ['enterprise']],
  [/^#\/portal\/new$/, declarationForm, ['enterprise']],
  [/^#\/portal\/services$/, portalServices, ['enterprise']],
  [/^#\/portal\/attorney$/, attorneyView, ['enterprise']],
  [/^#\/cases$/, caseDesk, ['officer', 'hq']],
  [/^#\/portal\/enterprise$/, enterpriseView, ['enterprise']],
  [/^#\/registrations$/, registrationDesk, ['officer', 'hq']],
  [/^#\/aeo$/, aeoDesk, ['officer', 'hq']],
  [/^#\/portal\/aeo$/, aeoEnterprise, ['enterprise']],
  [/^#\/register$/, signUpView, null],
  [/^#\/portal\/d\/(\d+)$/, portalDetail, ['enterprise']],
  [/^#\/officer$/, worklist, ['officer', 'hq']],
  [/^#\/officer\/d\/(\d+)$/, officerDetail, ['officer', 'hq']],
  [/^#\/hq$/, dashboard, ['hq', 'officer']],
  [/^#\/agency$/, agencyView, ['agency']],
  [/^#\/admin$/, adminView, ['admin']],
  [/^#\/carrier$/, carrierHome, ['carrier']],
  [/^#\/carrier\/m\/([^/]+)$/, manifestPage, ['carrier']],
  [/^#\/postal$/, postalHome, ['postal_operator']],
  [/^#\/inbox$/, inboxView, ['enterprise', 'officer', 'hq']],
  [/^#\/welcome$/, welcomeView, null],
];

// A new page's heading takes the focus (screen readers announce it; Tab goes on from there),
// unless the view put it somewhere on purpose (the sign-in field, a dialog).
function focusHeading(el) {
  const active = document.activeElement;
  if (active && active !== document.body && el.contains(active) && active.matches('input, select, textarea')) return;
  if (document.getElementById('dialog').open) return;
  const h1 = el.querySelector('h1');
  if (!h1) return;
  h1.setAttribute('tabindex', '-1');
  h1.focus({ preventScroll: true });
}

let routeSeq = 0;
// `live`: a redraw for a notification (the page the user is on, brought up to date): the focus
// and the scroll position stay where they are.
export async function route(opts) {
  const live = !!(opts && opts.live);
  const scrollY = window.scrollY;
  const seq = ++routeSeq;
  const [path, query] = (location.hash || '#/').split('?');
  const params = new URLSearchParams(query || '');
  const p = session.principal;
  if (!p && path !== '#/login' && path !== '#/register') {
    location.replace('#/login');
    return;
  }
  if (p && (path === '#/' || path === '#' || path === '' || path === '#/login')) {
    location.replace(homeOf(p));
    return;
  }
  renderShell();
  const el = clear(main());
  el.removeAttribute('aria-busy');
  delete el.dataset.declaration;
  delete el.dataset.version;
  const found = ROUTES.find(([re]) => re.test(path));
  if (!found || (found[2] && !found[2].includes(p.kind))) {
    notFound(el);
    el.setAttribute('aria-busy', 'false');
    focusHeading(el);
    return;
  }
  const m = path.match(found[0]);
  el.setAttribute('aria-busy', 'true');
  try {
    await found[1](el, { id: m[1], params, session, isCurrent: () => seq === routeSeq });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      session.principal = null;
      location.replace('#/login');
      return;
    }
    // An answer of the service (refused, not found) is said on the page; only a fault of the
    // page itself goes to the console.
    if (!(e instanceof ApiError)) console.error(e);
    el.append(h('p.error', { role: 'alert' }, errorText(e)));
  } finally {
    if (seq === routeSeq) {
      el.setAttribute('aria-busy', 'false');
      if (live) window.scrollTo(0, scrollY);
      else if (path !== '#/login') focusHeading(el);
    }
  }
}

async function start() {
  await loadLang(initialLang());
  session.principal = null;
  // Signed out, the server answers 200 with `{"user": null}` (the cookie is HttpOnly: only the
  // server knows), so asking logs no error.
  try {
    const who = await get('/api/session');
    session.principal = who && who.user === null ? null : who;
  } catch {
    session.principal = null;
  }
  if (session.principal) startLive(session.principal);
  // A notification about the page on screen redraws it (a list, or the declaration concerned),
  // unless the user is in the middle of something there (a dialog, a field being typed in).
  let redraw = null;
  window.addEventListener('jinguan:notification', (ev) => {
    // At most one redraw pending: a burst of news redraws once, and a steady stream of it
    // still redraws (every 0.8 s at most).
    if (redraw || !concerns(location.hash, ev.detail)) return;
    redraw = setTimeout(() => {
      redraw = null;
      // Still signed in and still on a page it concerns (not, say, the sign-in page by now),
      // which does not show that version yet (a step taken on this page is drawn already).
      const item = ev.detail;
      if (!session.principal || !concerns(location.hash, item)) return;
      const m = main();
      const row = m.querySelector(`tr[data-declaration="${item.declaration_id}"]`);
      const shown = Number(m.dataset.declaration) === item.declaration_id ? Number(m.dataset.version)
        : row ? Number(row.dataset.version) : -1;
      if (shown >= item.version) return;
      const active = document.activeElement;
      const busy = document.getElementById('dialog').open
        || (active && main().contains(active) && active.matches('input, select, textarea'));
      if (!busy) route({ live: true });
    }, 800);
  });
  document.getElementById('lang').addEventListener('click', async () => {
    // The page about to be redrawn keeps what was typed in it (the declaration form saves its
    // working copy on this event).
    window.dispatchEvent(new Event('jinguan:before-redraw'));
    await loadLang(currentLang() === 'zh' ? 'en' : 'zh');
    relangToast();
    await route();
    document.getElementById('lang').focus();
  });
  document.getElementById('logout').addEventListener('click', async () => {
    const who = session.principal && session.principal.login;
    try { await api('DELETE', '/api/session'); } catch { /* signed out either way */ }
    if (who) clearUserData(who);
    stopLive();
    session.principal = null;
    toast(() => t('login.signed_out'));
    location.hash = '#/login';
  });
  window.addEventListener('hashchange', route);
  document.getElementById('skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    main().focus();
  });
  route();
}

start();
