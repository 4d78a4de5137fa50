// The application shell: session, navigation by kind of user, hash routes, language switch.
import { t, tk, initialLang, loadLang, currentLang, applyStatic } from './i18n.js';
import { api, get, post, ApiError } from './api.js';
import { h, clear, toast, relangToast, hideToast, section, emptyState, errorText } from './ui.js';
import { portalList, portalDetail, portalServices, agencyLicences } from './portal.js';
import { declarationForm } from './form.js';
import { worklist, officerDetail } from './officer.js';
import { dashboard } from './hq.js';
import { taxClaims, forexReport, bankDesk } from './finance.js';
import { agencyMessages } from './exchange.js';

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
    default: return '#/admin';
  }
}

function navItems(p) {
  if (!p) return [];
  switch (p.kind) {
    case 'enterprise':
      return [['#/portal', 'nav.declarations'], ['#/portal/new', 'nav.new'], ['#/portal/services', 'nav.services']];
    case 'officer': {
      const items = [['#/officer', 'nav.worklist']];
      if (duties(p).includes('statistician')) items.push(['#/hq', 'nav.dashboard']);
      return items;
    }
    case 'hq':
      return [['#/hq', 'nav.dashboard'], ['#/officer', 'nav.worklist']];
    case 'agency':
      return [['#/agency', 'nav.agency']];
    default:
      return [['#/admin', 'nav.admin']];
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
  const who = document.getElementById('who');
  who.textContent = p ? `${p.login} · ${tk('kind', p.kind)}` : '';
  document.getElementById('logout').hidden = !p;
  document.getElementById('lang').textContent = t('lang.switch');
  applyStatic(document.body);
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
    h('p.muted.small', t('login.hint')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    try {
      const s = await post('/api/session', { login: login.value.trim(), password: password.value });
      session.principal = s.principal;
      hideToast();
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
  const messages = await agencyMessages();
  if (!ctx.isCurrent()) return;
  el.append(h('h1', t('agency.title')), h('p.muted', t('agency.intro', { agency: p.agency || '' })));
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
    section('admin.audit', h('p.muted', t('admin.audit_intro')), h('button.btn-primary', { type: 'button', onclick: run }, t('admin.audit_run')), out));
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
  [/^#\/portal\/d\/(\d+)$/, portalDetail, ['enterprise']],
  [/^#\/officer$/, worklist, ['officer', 'hq']],
  [/^#\/officer\/d\/(\d+)$/, officerDetail, ['officer', 'hq']],
  [/^#\/hq$/, dashboard, ['hq', 'officer']],
  [/^#\/agency$/, agencyView, ['agency']],
  [/^#\/admin$/, adminView, ['admin']],
];

let routeSeq = 0;
export async function route() {
  const seq = ++routeSeq;
  const [path, query] = (location.hash || '#/').split('?');
  const params = new URLSearchParams(query || '');
  const p = session.principal;
  if (!p && path !== '#/login') {
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
  const found = ROUTES.find(([re]) => re.test(path));
  if (!found || (found[2] && !found[2].includes(p.kind))) {
    notFound(el);
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
    console.error(e);
    el.append(h('p.error', { role: 'alert' }, errorText(e)));
  } finally {
    if (seq === routeSeq) el.setAttribute('aria-busy', 'false');
  }
}

async function start() {
  await loadLang(initialLang());
  try {
    session.principal = await get('/api/session');
  } catch {
    session.principal = null;
  }
  document.getElementById('lang').addEventListener('click', async () => {
    await loadLang(currentLang() === 'zh' ? 'en' : 'zh');
    relangToast();
    route();
  });
  document.getElementById('logout').addEventListener('click', async () => {
    try { await api('DELETE', '/api/session'); } catch { /* signed out either way */ }
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
