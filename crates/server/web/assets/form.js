// The declaration form: code lookups, inline validation (the server's own checks, without
// filing), drafts kept by the server (autosaved as the filer types: /api/drafts), JSON upload,
// and submission with a client sequence number so that a retry never files twice. An uploaded
// single-window XML file (DecMessage, UTF-8 or GB2312/GBK) is read by the server into the same
// JSON form.
import { t, tk, pick } from './i18n.js';
import { api, get, post, postFile, codes, ApiError } from './api.js';
import { h, clear, toast, errorText, problemText, fieldLabel, registerFieldLabels, confirmDialog, fmtTime, dateAttrs } from './ui.js';

// Nothing of a form stays in the browser's storage (docs/SECURITY.md, gap 10): drafts are the
// server's, per user and enterprise. What older versions of this page kept there is removed
// unread.
try {
  for (const store of [localStorage, sessionStorage]) {
    Object.keys(store).filter((k) => k.startsWith('jinguan.drafts') || k.startsWith('jinguan.form.')).forEach((k) => store.removeItem(k));
  }
} catch { /* storage unavailable */ }

// The user's drafts, the most recently saved first (without their content).
export const listDrafts = () => get('/api/drafts');
export const deleteDraft = (id) => api('DELETE', `/api/drafts/${encodeURIComponent(id)}`);

// The form being filled in this page load (memory only, never storage): what a language switch
// redraws at once, and what "New declaration" goes back to. Its draft on the server is the copy
// a reload or another browser opens.
// { login, id (the draft's, once saved), version, seq, checked, saved_at, form }
let current = null;
// The save on its way, if any: a redraw waits for it, so that the redrawn form knows its draft.
let savingNow = null;

// Fields: [path, label, options]. options: req (required), code (table), type, sel (options),
// only ('import' | 'export').
function headerSections() {
  return [
    ['form.s_basic', [
      ['direction', 'f.direction', { req: true, sel: [['import', tk('direction', 'import')], ['export', tk('direction', 'export')]] }],
      ['declaration_office', 'f.declaration_office', { req: true, code: 'offices' }],
      ['entry_exit_office', 'f.entry_exit_office', { req: true, code: 'offices' }],
      ['declaration_date', 'f.declaration_date', { req: true, type: 'date' }],
      ['ie_date', 'f.ie_date', { type: 'date' }],
      ['contract_no', 'f.contract_no', {}],
      ['record_no', 'f.record_no', {}],
      ['licence_no', 'f.licence_no', {}],
      ['entry_type', 'f.entry_type', { sel: [['M', t('entry_type.m')], ['D', t('entry_type.d')], ['L', t('entry_type.l')], ['0', t('entry_type.paper')]] }],
    ]],
    ['form.s_parties', [
      ['trader.name', 'f.trader_name', { req: true }],
      ['trader.uscc', 'f.trader_uscc', { req: true }],
      ['trader.customs_code', 'f.trader_customs_code', {}],
      ['overseas_party.name', 'f.overseas_name', { req: true }],
      ['overseas_party.code', 'f.overseas_code', {}],
      ['overseas_party.address', 'f.overseas_address', {}],
      ['owner.name', 'f.owner_name', {}],
      ['owner.uscc', 'f.owner_uscc', {}],
    ]],
    ['form.s_transport', [
      ['transport_mode', 'f.transport_mode', { req: true, code: 'transport_modes' }],
      ['vessel', 'f.vessel', {}],
      ['voyage_no', 'f.voyage_no', {}],
      ['bill_no', 'f.bill_no', {}],
      ['goods_place', 'f.goods_place', {}],
      ['loading_port', 'f.loading_port', { only: 'import' }],
      ['destination_port', 'f.destination_port', { only: 'export' }],
      ['domestic_port', 'f.domestic_port', {}],
    ]],
    ['form.s_trade', [
      ['trade_mode', 'f.trade_mode', { req: true, code: 'trade_modes' }],
      ['levy_nature', 'f.levy_nature', { req: true, code: 'levy_natures' }],
      ['trading_country', 'f.trading_country', { req: true, code: 'countries' }],
      ['dispatch_country', 'f.dispatch_country', { req: true, code: 'countries' }],
      ['transaction_terms', 'f.transaction_terms', { req: true, code: 'transaction_terms' }],
      ['package_type', 'f.package_type', { req: true, code: 'package_types' }],
      ['packages', 'f.packages', { req: true, type: 'number' }],
      ['gross_weight_kg', 'f.gross_weight_kg', { req: true }],
      ['net_weight_kg', 'f.net_weight_kg', { req: true }],
      ['freight.mark', 'f.freight_mark', { sel: chargeMarks() }],
      ['freight.value', 'f.freight_value', {}],
      ['freight.currency', 'f.freight_currency', { code: 'currencies' }],
      ['insurance.mark', 'f.insurance_mark', { sel: chargeMarks() }],
      ['insurance.value', 'f.insurance_value', {}],
      ['insurance.currency', 'f.insurance_currency', { code: 'currencies' }],
      ['marks', 'f.marks', {}],
      ['remarks', 'f.remarks', {}],
    ]],
    // Cross-border e-commerce retail imports (9610, 1210) only: the buyer whose limits apply.
    ['form.s_buyer', [
      ['buyer.id_type', 'f.buyer_id_type', { only: 'import', sel: [['', t('buyer_doc.none')], ['resident_id', t('buyer_doc.resident_id')], ['passport', t('buyer_doc.passport')]] }],
      ['buyer.id_no', 'f.buyer_id_no', { only: 'import' }],
      ['buyer.name', 'f.buyer_name', { only: 'import' }],
    ]],
  ];
}

function chargeMarks() {
  return [['', t('charge.none')], ['1', t('charge.rate')], ['2', t('charge.per_unit')], ['3', t('charge.total')]];
}

function itemFields() {
  return [
    ['commodity_code', 'f.commodity_code', { req: true, code: 'tariff' }],
    ['name', 'f.name', { req: true }],
    ['specification', 'f.specification', { req: true, wide: true }],
    ['declared_quantity', 'f.declared_quantity', { req: true }],
    ['declared_unit', 'f.declared_unit', { req: true, code: 'units' }],
    ['first_quantity', 'f.first_quantity', { req: true }],
    ['first_unit', 'f.first_unit', { req: true, code: 'units' }],
    ['second_quantity', 'f.second_quantity', {}],
    ['second_unit', 'f.second_unit', { code: 'units' }],
    ['unit_price', 'f.unit_price', { req: true }],
    ['total_price', 'f.total_price', { req: true }],
    ['currency', 'f.currency', { req: true, code: 'currencies' }],
    ['origin_country', 'f.origin_country', { req: true, code: 'countries' }],
    ['destination_country', 'f.destination_country', { req: true, code: 'countries' }],
    ['district', 'f.district', {}],
    ['duty_treatment', 'f.duty_treatment', { req: true, code: 'duty_treatments' }],
  ];
}

// Labels of the declaration's fields by path (items without their index), for messages and
// the amendment dialog: "Item 1 · Unit price" rather than `items[0].unit_price`.
// (A function: the lists name options in the page's language, known once it is loaded.)
export const fieldKeys = () => Object.fromEntries([
  ...headerSections().flatMap(([, fields]) => fields.map(([path, key]) => [path, key])),
  ...itemFields().map(([path, key]) => [`items.${path}`, key]),
  ['trader', 'f.trader'], ['overseas_party', 'f.overseas_party'], ['owner', 'f.owner'], ['agent', 'f.agent'],
  ['items', 'form.s_items'],
]);
registerFieldLabels(fieldKeys);

const idOf = (path) => 'f-' + path.replace(/[[\].]/g, '_');

// One labelled input with its hint (the code's name) and error line.
function fieldEl(path, labelKey, o) {
  const id = idOf(path);
  const label = t(labelKey);
  let input;
  if (o.sel) {
    input = h('select', { id, name: path }, o.sel.map(([v, l]) => h('option', { value: v }, l)));
  } else {
    input = o.type === 'date'
      ? h('input', { id, name: path, ...dateAttrs() })
      : h('input', { id, name: path, type: 'text', inputmode: o.type === 'number' ? 'numeric' : null, autocomplete: 'off', spellcheck: 'false' });
  }
  input.dataset.path = path;
  if (o.req) input.setAttribute('aria-required', 'true');
  const hint = h('div.hint', { id: `${id}-hint`, 'aria-live': 'polite' });
  const err = h('div.field-error', { id: `${id}-err` });
  input.setAttribute('aria-describedby', `${id}-hint ${id}-err`);
  const wrap = h('div.field', { class: `field${o.wide ? ' wide' : ''}`, dataset: { only: o.only || '' } },
    h('label', { for: id }, label, o.req ? h('span.req', { 'aria-hidden': 'true' }, ' *') : null, o.code ? h('span.code-tag', t('form.lookup')) : null),
    input, hint, err);
  if (o.code) wireLookup(input, o.code, hint);
  if (o.req) {
    input.addEventListener('blur', () => {
      if (!input.value.trim() && !input.closest('[hidden]')) setError(input, t('form.required'));
    });
  }
  input.addEventListener('input', () => setError(input, ''));
  return wrap;
}

// A code field: a datalist filled from /api/codes as the user types; the hint names the code.
function wireLookup(input, table, hint) {
  const listId = `${input.id}-list`;
  const list = h('datalist', { id: listId });
  input.setAttribute('list', listId);
  input.after(list);
  let timer;
  let lastRows = [];
  const showHint = () => {
    const v = input.value.trim().toUpperCase();
    const row = lastRows.find((r) => r.code.toUpperCase() === v);
    hint.textContent = row ? `${row.code} — ${pick(row, 'name')}${table === 'tariff' && row.extra ? ` (${row.extra.split('; ').slice(0, 2).join('; ')})` : ''}` : '';
  };
  const refresh = async () => {
    const q = input.value.trim();
    if (table === 'tariff' && q.length < 2) return;
    try {
      const r = await codes(table, q);
      lastRows = r.rows;
      clear(list).append(...r.rows.map((row) => h('option', { value: row.code }, `${row.code} ${pick(row, 'name')}`)));
      showHint();
    } catch { /* lookups are help, not a gate */ }
  };
  input.addEventListener('focus', refresh, { once: true });
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(refresh, 150); });
  input.addEventListener('change', refresh);
  input.refreshHint = refresh;
}

function setError(input, msg) {
  const err = document.getElementById(`${input.id}-err`);
  if (!err) return;
  err.textContent = msg;
  if (msg) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

function setAt(obj, path, value) {
  const parts = path.split('.');
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) o = o[parts[i]] = o[parts[i]] || {};
  o[parts[parts.length - 1]] = value;
}

function getAt(obj, path) {
  return path.split('.').reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
}

// At sign-out: what this page holds for `login` is forgotten (its drafts stay on the server,
// for that user only).
export function clearUserData(login) {
  if (current && current.login === login) current = null;
  saveCurrent = null;
}

// The current form's saver, called before the shell redraws the page (a language switch) and
// when the page goes away (a reload: the save is sent with `keepalive`).
let saveCurrent = null;
window.addEventListener('jinguan:before-redraw', () => { if (saveCurrent) saveCurrent(); });
window.addEventListener('pagehide', () => { if (saveCurrent) saveCurrent({ leaving: true }); });

export async function declarationForm(el, { params, session }) {
  const login = session.principal.login;
  const draftParam = params.get('draft');
  const draftId = draftParam && /^\d+$/.test(draftParam) ? Number(draftParam) : null;
  // Copy from a previous declaration: its form, fetched before anything is drawn.
  const copyId = params.get('copy');
  const copied = copyId && /^\d+$/.test(copyId) ? await get(`/api/declarations/${copyId}/form`) : null;
  if (savingNow) await savingNow;
  // The form to show: the one in memory when it is the draft asked for (or, with no draft
  // asked, the one in progress), else the draft as the server keeps it.
  const mine = current && current.login === login ? current : null;
  let work = null;
  if (copied) {
    work = null;
  } else if (draftId !== null && mine && mine.id === draftId) {
    work = mine;
  } else if (draftId !== null) {
    const d = await get(`/api/drafts/${draftId}`);
    const b = d.body || {};
    work = { login, id: d.id, version: d.version, seq: b.seq || crypto.randomUUID(), checked: !!b.checked, saved_at: d.updated_at, form: b.form || null, json: b.json || null };
  } else if (mine && mine.form) {
    work = mine;
  }
  const state = {
    id: work ? work.id || null : null,
    version: work ? work.version || null : null,
    seq: (work && work.seq) || crypto.randomUUID(),
    touched: !!work,
  };

  const summaryBox = h('div.error-summary#error-summary', { tabindex: '-1', hidden: true, role: 'alert' });
  const okBox = h('p.ok-box#check-ok', { role: 'status', hidden: true }, t('form.check_ok'));
  const form = h('form#declaration-form', { novalidate: true });
  for (const [titleKey, fields] of headerSections()) {
    form.append(h('fieldset.card', h('legend', t(titleKey)), h('div.fields', fields.map(([p, l, o]) => fieldEl(p, l, o)))));
  }
  const itemsBox = h('div#items');
  const addItem = () => {
    const i = itemsBox.children.length;
    const box = h('fieldset.card.item', { dataset: { index: i } }, h('legend', t('form.item', { n: i + 1 })),
      h('div.fields', itemFields().map(([p, l, o]) => fieldEl(`items[${i}].${p}`, l, o))));
    if (i > 0) {
      box.append(h('button.btn-link', { type: 'button', onclick: () => { box.remove(); renumber(); touched(); } }, t('form.remove_item')));
    }
    itemsBox.append(box);
    return box;
  };
  const renumber = () => {
    [...itemsBox.children].forEach((box, i) => {
      box.dataset.index = i;
      box.querySelector('legend').textContent = t('form.item', { n: i + 1 });
      box.querySelectorAll('[data-path]').forEach((inp) => {
        const p = inp.dataset.path.replace(/^items\[\d+\]/, `items[${i}]`);
        inp.dataset.path = p;
        inp.name = p;
      });
    });
  };
  form.append(h('section.card', { 'aria-labelledby': 'items-title' }, h('h2#items-title', t('form.s_items')), itemsBox,
    h('button.btn-secondary#add-item', { type: 'button', onclick: () => { addItem().querySelector('input').focus(); touched(); } }, t('form.add_item'))));

  const direction = () => form.querySelector('[data-path="direction"]').value;
  const applyDirection = () => {
    form.querySelectorAll('[data-only]').forEach((f) => { f.hidden = !!f.dataset.only && f.dataset.only !== direction(); });
  };

  const toJson = () => {
    const out = {};
    const its = [];
    form.querySelectorAll('[data-path]').forEach((inp) => {
      if (inp.closest('[hidden]')) return;
      const v = inp.value.trim();
      if (!v) return;
      const m = inp.dataset.path.match(/^items\[(\d+)\]\.(.+)$/);
      if (m) {
        const i = Number(m[1]);
        its[i] = its[i] || { item_no: i + 1 };
        its[i][m[2]] = v;
      } else {
        setAt(out, inp.dataset.path, inp.dataset.path === 'packages' && /^\d+$/.test(v) ? Number(v) : v);
      }
    });
    out.items = its.filter(Boolean);
    return out;
  };

  const fromJson = (obj) => {
    while (itemsBox.children.length) itemsBox.lastChild.remove();
    const n = Math.max(1, Array.isArray(obj.items) ? obj.items.length : 0);
    for (let i = 0; i < n; i++) addItem();
    form.querySelectorAll('[data-path]').forEach((inp) => {
      const p = inp.dataset.path;
      const m = p.match(/^items\[(\d+)\]\.(.+)$/);
      const v = m ? getAt((obj.items || [])[Number(m[1])] || {}, m[2]) : getAt(obj, p);
      inp.value = v === undefined || v === null ? '' : String(v);
      if (inp.refreshHint && inp.value) inp.refreshHint();
    });
    applyDirection();
  };

  // Every field's value by path (hidden ones too: a direction switched back finds them), and
  // how many items: the form exactly as left.
  const snapshot = () => ({
    values: Object.fromEntries([...form.querySelectorAll('[data-path]')].map((inp) => [inp.dataset.path, inp.value])),
    items: itemsBox.children.length,
  });
  const restore = (snap) => {
    while (itemsBox.children.length) itemsBox.lastChild.remove();
    for (let i = 0; i < Math.max(1, snap.items || 1); i++) addItem();
    form.querySelectorAll('[data-path]').forEach((inp) => {
      const v = snap.values[inp.dataset.path];
      inp.value = v === undefined || v === null ? '' : String(v);
      if (inp.refreshHint && inp.value) inp.refreshHint();
    });
    applyDirection();
  };
  // The draft's status, said to screen readers when it changes.
  const draftStatus = h('p.muted.small#draft-status', { role: 'status', 'aria-live': 'polite', dataset: { state: state.id ? 'saved' : 'new' } });
  const showStatus = (key, vars) => {
    draftStatus.dataset.state = key;
    const keys = { saving: 'form.draft_status_saving', saved: 'form.draft_status_saved', failed: 'form.draft_status_failed' };
    draftStatus.textContent = keys[key] ? t(keys[key], vars) : '';
  };
  const titleOf = () => {
    const v = (k) => (form.querySelector(`[data-path="${k}"]`) || {}).value || '';
    return [v('contract_no').trim(), v('items[0].name').trim()].filter(Boolean).join(' · ').slice(0, 200);
  };
  const draftBody = () => ({ kind: 'declaration', title: titleOf(), body: { seq: state.seq, checked: !summaryBox.hidden || !okBox.hidden, form: snapshot() } });
  // Saves one at a time; a change while one is on its way is saved after it.
  let inFlight = null;
  let again = false;
  const saveNow = async () => {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    // A save of the form drawn before a redraw may have moved the version since.
    if (current && current.login === login && current.id && current.id === state.id && current.version > state.version) state.version = current.version;
    const doc = draftBody();
    current = { login, id: state.id, version: state.version, seq: state.seq, checked: doc.body.checked, saved_at: new Date().toISOString(), form: doc.body.form };
    showStatus('saving');
    inFlight = (async () => {
      try {
        const r = state.id
          ? await api('PUT', `/api/drafts/${state.id}`, { ...doc, version: state.version })
          : await post('/api/drafts', doc);
        const first = !state.id;
        state.id = r.id;
        state.version = r.version;
        if (current && current.login === login) Object.assign(current, { id: r.id, version: r.version, saved_at: r.updated_at });
        if (first && form.isConnected && location.hash.split('?')[0] === '#/portal/new') {
          // A reload opens this draft.
          history.replaceState(null, '', `#/portal/new?draft=${r.id}`);
        }
        if (form.isConnected) showStatus('saved', { at: fmtTime(r.updated_at) });
      } catch (e) {
        if (e instanceof ApiError && e.code === 'draft_conflict') {
          // Saved elsewhere meanwhile: said once; this form's content wins the next save.
          try { state.version = (await get(`/api/drafts/${state.id}`)).version; } catch { /* said below */ }
          again = true;
        } else if (e instanceof ApiError && e.status === 404 && state.id) {
          // Deleted elsewhere while still being typed here: saved again as a new draft.
          state.id = null;
          state.version = null;
          again = true;
        }
        if (form.isConnected) showStatus('failed', { why: errorText(e) });
      } finally {
        inFlight = null;
        savingNow = null;
      }
      if (again && form.isConnected) {
        again = false;
        await saveNow();
      }
    })();
    savingNow = inFlight;
    return inFlight;
  };
  // Before a redraw or on leaving: what was typed goes to the server now. Leaving the page,
  // the request is sent with `keepalive` so that it outlives the page.
  const save = (opts) => {
    if (!form.isConnected || !state.touched) return;
    clearTimeout(saveTimer);
    if (opts && opts.leaving && state.id) {
      const doc = draftBody();
      try {
        fetch(`/api/drafts/${state.id}`, { method: 'PUT', keepalive: true, credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...doc, version: state.version }) })
          .catch(() => { /* too large for keepalive, or refused: the last autosave stands */ });
      } catch { /* the last autosave stands */ }
      return;
    }
    saveNow();
  };
  let saveTimer;
  const touched = () => {
    state.touched = true;
    clearTimeout(saveTimer);
    // Autosave once the typing pauses.
    saveTimer = setTimeout(saveNow, 800);
    if (current && current.login === login && current.id === state.id) current.form = snapshot();
  };
  form.addEventListener('input', touched);
  form.addEventListener('change', touched);
  saveCurrent = save;

  const showProblems = (problems) => {
    form.querySelectorAll('[data-path]').forEach((inp) => setError(inp, ''));
    clear(summaryBox);
    okBox.hidden = problems.length > 0;
    if (!problems.length) {
      summaryBox.hidden = true;
      return;
    }
    const listItems = problems.map((p) => {
      const inp = [...form.querySelectorAll('[data-path]')].find((x) => x.dataset.path === p.field);
      if (inp) setError(inp, problemText(p));
      const label = fieldLabel(p.field);
      return h('li', inp ? h('a', { href: `#${inp.id}`, onclick: (ev) => { ev.preventDefault(); inp.focus(); } }, label) : h('strong', label), t('common.colon'), problemText(p));
    });
    summaryBox.append(h('h2', t('form.problems', { n: problems.length })), h('ul', listItems));
    summaryBox.hidden = false;
    summaryBox.focus();
  };

  const check = async () => {
    const r = await post('/api/declarations/check', toJson());
    showProblems(r.problems);
    return r.problems.length === 0;
  };

  const fileInput = h('input#upload', { type: 'file', accept: '.json,.xml,application/json,text/xml', class: 'sr-only' });
  // XML by its first character other than white space (after a UTF-8 byte order mark).
  const looksXml = (bytes) => {
    let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    while (i < bytes.length && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[i])) i++;
    return bytes[i] === 0x3c;
  };
  // The server reads the XML (its encoding from its prolog) into the JSON form; the form's
  // direction is the hint for a file without an I/E flag, and an empty declaration date keeps
  // the form's.
  const readXml = async (bytes) => {
    const dir = direction();
    const obj = await postFile(`/api/declarations/parse-xml${dir ? `?direction=${encodeURIComponent(dir)}` : ''}`, bytes, 'application/xml');
    if (!obj.declaration_date) obj.declaration_date = form.querySelector('[data-path="declaration_date"]').value || null;
    return obj;
  };
  fileInput.addEventListener('change', async () => {
    const f = fileInput.files[0];
    if (!f) return;
    const bytes = new Uint8Array(await f.arrayBuffer());
    fileInput.value = '';
    let obj;
    if (looksXml(bytes)) {
      try {
        obj = await readXml(bytes);
      } catch (e) {
        if (e instanceof ApiError && e.problems.length) {
          showProblems(e.problems);
          toast(() => t('form.xml_unreadable'), 'error');
        } else {
          toast(() => errorText(e), 'error');
        }
        return;
      }
    } else {
      try {
        obj = JSON.parse(new TextDecoder().decode(bytes));
      } catch (e) {
        showProblems([{ field: '', message_zh: t('form.not_json'), message_en: t('form.not_json') }]);
        return;
      }
    }
    fromJson(obj);
    touched();
    toast(() => t('form.uploaded', { name: f.name }));
    await check();
    save();
  });

  const busy = (btn, fn) => async () => {
    btn.disabled = true;
    try { await fn(); } catch (e) { toast(() => errorText(e), 'error'); } finally { btn.disabled = false; }
  };
  const checkBtn = h('button.btn-secondary#check', { type: 'button' }, t('form.check'));
  checkBtn.addEventListener('click', busy(checkBtn, check));
  const draftBtn = h('button.btn-secondary#save-draft', { type: 'button' }, t('form.save_draft'));
  draftBtn.addEventListener('click', async () => {
    state.touched = true;
    clearTimeout(saveTimer);
    await saveNow();
    if (draftStatus.dataset.state === 'saved') toast(() => t('form.draft_saved'));
  });
  // Starting afresh throws the typed form away, and its draft: asked first.
  const discardBtn = h('button.btn-danger#discard-form', { type: 'button' }, t('form.discard'));
  discardBtn.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: t('form.discard'), text: t('form.discard_text'), danger: true, confirm: t('form.discard_confirm') });
    if (!ok) return;
    state.touched = false;
    clearTimeout(saveTimer);
    if (inFlight) await inFlight;
    if (state.id) {
      try { await deleteDraft(state.id); } catch { /* gone already */ }
    }
    current = null;
    location.hash = '#/portal/new';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });
  const submitBtn = h('button.btn-primary#submit', { type: 'submit' }, t('form.submit'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(submitBtn, async () => {
      if (!(await check())) return;
      try {
        const r = await post('/api/declarations', toJson(), { 'client-seq-no': state.seq });
        // Filed: its draft is no longer needed (a filing retried with the same sequence
        // number is answered from the stored one, so nothing is lost if this fails).
        state.touched = false;
        clearTimeout(saveTimer);
        if (inFlight) await inFlight;
        if (state.id) {
          try { await deleteDraft(state.id); } catch { /* listed until deleted by hand */ }
        }
        current = null;
        toast(() => t('form.accepted', { no: r.declaration_no || r.pre_entry_no, lane: r.lane ? tk('lane', r.lane) : '' }));
        location.hash = `#/portal/d/${r.id}`;
      } catch (e) {
        if (e instanceof ApiError && e.problems.length) {
          showProblems(e.problems);
          // A rejection is recorded under this sequence number: the next try needs a new one.
          if (e.code === 'rejected') {
            state.seq = crypto.randomUUID();
            touched();
          }
        } else {
          throw e;
        }
      }
    })();
  });

  el.append(h('div.page-head', h('h1', t('form.title')),
    h('div.head-actions',
      h('label.btn-secondary', { for: 'upload' }, t('form.upload')), fileInput)));
  el.append(h('p.muted', t('form.intro')));
  const restored = h('p.ok-box#form-restored', { role: 'status', hidden: !work },
    work ? t('form.restored', { at: fmtTime(work.saved_at) }) : '');
  el.append(restored, summaryBox, okBox, form);
  form.append(h('div.form-actions.card', draftStatus, discardBtn, checkBtn, draftBtn, submitBtn));

  form.querySelector('[data-path="direction"]').addEventListener('change', applyDirection);
  if (copied) {
    // A new filing: its own sequence number (state.seq is new), today's date, no date of
    // arrival yet; the parties, goods and amounts as they were.
    fromJson({ ...copied, declaration_date: new Date().toISOString().slice(0, 10), ie_date: null });
    el.querySelector('#form-restored').hidden = false;
    el.querySelector('#form-restored').textContent = t('form.copied', { no: copyId });
    // The copy is now the form in progress, saved as a draft: a reload or a language switch
    // keeps it as edited.
    history.replaceState(null, '', '#/portal/new');
    state.touched = true;
    await saveNow();
  } else if (work && work.form) {
    restore(work.form);
  } else if (work && work.json) {
    fromJson(work.json);
  } else {
    addItem();
    const today = new Date().toISOString().slice(0, 10);
    fromJson({ direction: 'import', entry_type: 'M', declaration_date: today, trader: { uscc: session.principal.uscc }, items: [{}] });
  }
  if (work && work.id) {
    current = { ...work, login, form: snapshot() };
    // The address names the draft: a reload opens it.
    if (draftId === null) history.replaceState(null, '', `#/portal/new?draft=${work.id}`);
    showStatus('saved', { at: fmtTime(work.saved_at) });
  }
  applyDirection();
  // A form that was checked before the switch shows its problems again, in the new language.
  if (work && work.checked) {
    try { await check(); } catch { /* the next check will say it */ }
  }
}
