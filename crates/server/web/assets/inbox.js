// Notifications (issue 20 item 6): what happened to the declarations the user may see, live.
//
// - One EventSource per page load on GET /api/notifications/stream (server-sent events): each
//   `notification` is counted in the header's badge, said in a toast, and announced to the page
//   (`jinguan:notification`), which redraws a list or the declaration it concerns. The browser
//   reconnects by itself with Last-Event-ID; if the stream cannot be had at all (refused,
//   no EventSource), GET /api/notifications?after= is polled instead.
// - The inbox page (#/inbox): the newest first, older pages on demand, the unread marked.
// - What was read is kept per user by the server (PUT /api/notifications/read: the cursor read
//   up to; every list gives it as `read_up_to`), so the badge is the same in every browser.
import { t, tk, pick } from './i18n.js';
import { api, get, ApiError } from './api.js';
import { h, emptyState, fmtTime, toast, errorText } from './ui.js';

const POLL_MS = 10000;
const BADGE_MAX = 99;

const live = {
  login: null,
  kind: null,
  source: null,
  timer: null,
  cursor: null,
  // The read marker kept by the server (null: nothing marked read yet).
  marker: null,
  // Unread items by id (a reconnection may bring an item again).
  unread: new Map(),
  // Items seen since the page loaded, newest last (the inbox page shows them at once).
  recent: [],
};

// The server's read marker as last heard (a number), or null before the first mark.
const toMarker = (v) => (v !== null && v !== undefined && /^\d+$/.test(String(v)) ? Number(v) : null);
function readMarker() {
  return live.marker;
}

// A marker heard from the server: what it covers is no longer unread.
function applyMarker(v) {
  const m = toMarker(v);
  if (m === null) return;
  live.marker = live.marker === null ? m : Math.max(live.marker, m);
  for (const [id, item] of live.unread) {
    if (Number(item.cursor) <= live.marker) live.unread.delete(id);
  }
  renderBadge();
}

async function setReadMarker(cursor) {
  if (!live.login || cursor === null || cursor === undefined) return;
  const r = await api('PUT', '/api/notifications/read', { up_to: String(cursor) });
  applyMarker(r.read_up_to);
}

// Whether the kind of user sees declarations (the others have an empty inbox: no badge).
export function hasInbox(p) {
  return !!p && ['enterprise', 'officer', 'hq'].includes(p.kind);
}

// The header's badge: the number unread, said to screen readers with the link's name.
export function renderBadge() {
  const link = document.getElementById('inbox-link');
  if (!link) return;
  const n = live.unread.size;
  const badge = link.querySelector('.count');
  const text = n > BADGE_MAX ? `${BADGE_MAX}+` : String(n);
  if (badge) {
    badge.textContent = text;
    badge.hidden = n === 0;
  }
  // The count is part of the link's visible name (axe: label-content-name-mismatch); its
  // title says what it counts.
  link.removeAttribute('aria-label');
  if (badge) badge.title = n ? t('inbox.link_unread', { n: text }) : '';
}

function take(item, announce) {
  if (live.recent.some((x) => x.id === item.id)) return;
  live.recent.push(item);
  if (live.recent.length > 200) live.recent.shift();
  const marker = readMarker();
  if (marker === null || Number(item.cursor) > marker) live.unread.set(item.id, item);
  renderBadge();
  if (announce) {
    // The page it concerns redraws itself; elsewhere a toast says it.
    if (!concerns(location.hash, item)) toast(() => pick(item, 'message'));
    window.dispatchEvent(new CustomEvent('jinguan:notification', { detail: item }));
  }
}

async function poll() {
  if (!live.login) return;
  try {
    const page = await get(`/api/notifications?after=${live.cursor}&limit=200`);
    for (const item of page.items) take(item, true);
    live.cursor = page.cursor;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) stopLive();
  }
}

function startPolling() {
  if (live.timer) return;
  live.timer = setInterval(poll, POLL_MS);
}

// Start following the user's notifications (after sign-in or on load); idempotent.
export async function startLive(p) {
  if (!hasInbox(p)) {
    stopLive();
    return;
  }
  if (live.login === p.login && (live.source || live.timer)) return;
  stopLive();
  live.login = p.login;
  live.kind = p.kind;
  live.marker = null;
  // The unread since the server's read marker; without one, the newest page counts as unread.
  let page;
  try {
    const { read_up_to: marker } = await get('/api/notifications/read');
    live.marker = toMarker(marker);
    page = await get(live.marker === null ? '/api/notifications?limit=50' : `/api/notifications?after=${live.marker}&limit=200`);
  } catch {
    return;
  }
  if (live.login !== p.login) return;
  for (const item of page.items) take(item, false);
  live.cursor = page.cursor;
  if (typeof window.EventSource !== 'function') {
    startPolling();
    return;
  }
  const es = new EventSource(`/api/notifications/stream?after=${encodeURIComponent(live.cursor)}`);
  live.source = es;
  es.addEventListener('notification', (ev) => {
    try {
      take(JSON.parse(ev.data), true);
    } catch { /* a malformed event is skipped */ }
    if (ev.lastEventId) live.cursor = ev.lastEventId;
  });
  es.addEventListener('cursor', (ev) => {
    if (/^\d+$/.test(ev.data)) live.cursor = ev.data;
  });
  es.addEventListener('signed_out', () => stopLive());
  es.addEventListener('error', () => {
    // CONNECTING: the browser tries again by itself. CLOSED: refused for good; poll instead.
    if (es.readyState === EventSource.CLOSED && live.source === es) {
      live.source = null;
      startPolling();
    }
  });
}

export function stopLive() {
  if (live.source) live.source.close();
  if (live.timer) clearInterval(live.timer);
  live.source = null;
  live.timer = null;
  live.login = null;
  live.marker = null;
  live.unread.clear();
  live.recent = [];
  renderBadge();
}

async function markAllRead(cursor) {
  const cursors = [cursor, live.cursor, ...live.recent.map((x) => x.cursor)].map(Number).filter((n) => Number.isFinite(n));
  await setReadMarker(Math.max(0, ...cursors));
  live.unread.clear();
  renderBadge();
}

function hrefOf(item) {
  return live.kind === 'enterprise' ? `#/portal/d/${item.declaration_id}` : `#/officer/d/${item.declaration_id}`;
}

function row(item, unread) {
  return h('li', { class: unread ? 'note unread' : 'note', dataset: { id: item.id, kind: item.kind } },
    h('div.note-head',
      h('time', { datetime: item.at }, fmtTime(item.at)),
      unread ? h('span.badge.unread-mark', t('inbox.unread')) : null,
      h('span.badge', tk('status', item.status))),
    h('p.note-text', h('a', { href: hrefOf(item) }, pick(item, 'message'))));
}

// The inbox page.
export async function inboxView(el, ctx) {
  const first = await get('/api/notifications?limit=50');
  if (!ctx.isCurrent()) return;
  // The marker as the server keeps it now (another browser may have moved it).
  applyMarker(first.read_up_to);
  const marker = toMarker(first.read_up_to);
  const isUnread = (item) => marker === null || Number(item.cursor) > marker;
  const list = h('ol.notes#inbox-list', { 'aria-label': t('inbox.title') });
  const shown = new Set();
  const add = (items, atTop) => {
    const fresh = items.filter((x) => !shown.has(x.id));
    for (const x of fresh) shown.add(x.id);
    const rows = fresh.map((x) => row(x, isUnread(x)));
    if (atTop) list.prepend(...rows.reverse());
    else list.append(...rows.reverse());
  };
  const markBtn = h('button.btn-secondary#inbox-mark-read', { type: 'button' }, t('inbox.mark_read'));
  markBtn.addEventListener('click', async () => {
    try {
      await markAllRead(first.cursor);
    } catch (e) {
      toast(() => errorText(e), 'error');
      return;
    }
    list.querySelectorAll('li.unread').forEach((li) => {
      li.classList.remove('unread');
      const m = li.querySelector('.unread-mark');
      if (m) m.remove();
    });
    toast(() => t('inbox.marked'));
  });
  el.append(h('div.page-head', h('h1', t('inbox.title')), markBtn),
    h('p.muted', t(live.kind === 'enterprise' ? 'inbox.intro_enterprise' : 'inbox.intro_officer')));
  const empty = emptyState(t('inbox.empty'));
  empty.id = 'inbox-empty';
  const card = h('section.card', { 'aria-label': t('inbox.title') }, list, empty);
  el.append(card);
  add(first.items, false);
  // What the stream brought since the page loaded and the first page did not have.
  add(live.recent.filter((x) => Number(x.cursor) > Number(first.cursor)), true);
  empty.hidden = shown.size > 0;

  let older = first.older;
  const more = h('button.btn-secondary#inbox-older', { type: 'button', hidden: !older }, t('inbox.older'));
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await get(`/api/notifications?before=${encodeURIComponent(older)}&limit=50`);
      add(page.items, false);
      older = page.older;
      more.hidden = !older;
      empty.hidden = shown.size > 0;
    } finally {
      more.disabled = false;
    }
  });
  card.append(h('div.actions', more));

  // Live: new items on top while the page is open.
  const onNote = (ev) => {
    if (!document.body.contains(list)) {
      window.removeEventListener('jinguan:notification', onNote);
      return;
    }
    add([ev.detail], true);
    empty.hidden = true;
  };
  window.addEventListener('jinguan:notification', onNote);
}

// Whether a `jinguan:notification` concerns the page at `hash` (its declaration, or a list).
export function concerns(hash, item) {
  const path = hash.split('?')[0];
  const m = path.match(/^#\/(?:portal|officer)\/d\/(\d+)$/);
  if (m) return Number(m[1]) === item.declaration_id;
  return path === '#/portal' || path === '#/officer';
}

export const unreadCount = () => live.unread.size;
