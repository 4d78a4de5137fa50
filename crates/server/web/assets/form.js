// The declaration form: code lookups, inline validation (the server's own checks, without
// filing), drafts kept in this browser (localStorage), JSON upload, and submission with a
// client sequence number so that a retry never files twice. An uploaded single-window XML file
// (DecMessage, UTF-8 or GB2312/GBK) is read by the server into the same JSON form.
import { t, tk, pick } from './i18n.js';
import { get, post, postFile, codes, ApiError } from './api.js';
import { h, clear, toast, errorText, problemText, fieldLabel, registerFieldLabels, confirmDialog, fmtTime, dateAttrs } from './ui.js';

// Drafts are kept per login and removed at sign-out (`clearUserData`): on a shared terminal
// the next user never sees them. The old key shared by every user is dropped unread.
const draftsKey = (login) => `jinguan.drafts.${login}`;
try { localStorage.removeItem('jinguan.drafts'); } catch { /* storage unavailable */ }

export function listDrafts(login) {
  try {
    return Object.values(JSON.parse(localStorage.getItem(draftsKey(login)) || '{}')).sort((a, b) => (a.saved_at < b.saved_at ? 1 : -1));
  } catch {
    return [];
  }
}
function saveDraft(login, d) {
  const all = JSON.parse(localStorage.getItem(draftsKey(login)) || '{}');
  all[d.id] = d;
  localStorage.setItem(draftsKey(login), JSON.stringify(all));
}
export function deleteDraft(login, id) {
  const all = JSON.parse(localStorage.getItem(draftsKey(login)) || '{}');
  delete all[id];
  localStorage.setItem(draftsKey(login), JSON.stringify(all));
}

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

// The form being filled, kept in this tab (sessionStorage, one per user) at every change, so a
// language switch, a reload or a visit to another page loses nothing; removed when the
// declaration is filed or the user discards it. (Drafts kept by the server, listed and
// resumable from any browser, need an endpoint that does not exist yet.)
const workKey = (login) => `jinguan.form.${login}`;
function loadWork(login) {
  try {
    return JSON.parse(sessionStorage.getItem(workKey(login)) || 'null');
  } catch {
    return null;
  }
}
export function dropWork(login) {
  sessionStorage.removeItem(workKey(login));
}

// At sign-out: what this browser keeps for `login` (drafts and the unsent form) is removed.
export function clearUserData(login) {
  saveCurrent = null;
  try {
    localStorage.removeItem(draftsKey(login));
    dropWork(login);
  } catch { /* storage unavailable */ }
}

// The current form's saver, called before the shell redraws the page (a language switch).
let saveCurrent = null;
window.addEventListener('jinguan:before-redraw', () => { if (saveCurrent) saveCurrent(); });
window.addEventListener('pagehide', () => { if (saveCurrent) saveCurrent(); });

export async function declarationForm(el, { params, session }) {
  const login = session.principal.login;
  const draftId = params.get('draft');
  const draft = draftId ? listDrafts(login).find((d) => d.id === draftId) : null;
  // Copy from a previous declaration: its form, fetched before anything is drawn.
  const copyId = params.get('copy');
  const copied = copyId && /^\d+$/.test(copyId) ? await get(`/api/declarations/${copyId}/form`) : null;
  let work = loadWork(login);
  // Opening a draft or a copy over an unsent form of another: that form is kept among the drafts first.
  if ((draft || copied) && work && (copied || work.id !== draft.id) && work.form) {
    const v = work.form.values || {};
    saveDraft(login, { id: work.id, seq: work.seq, saved_at: work.saved_at, title: [v.contract_no, v['items[0].name']].filter(Boolean).join(' · '), form: work.form });
    dropWork(login);
  }
  if (draft || copied) work = null;
  const state = {
    id: draft ? draft.id : (work && work.id) || `d-${Date.now()}`,
    seq: draft ? draft.seq : (work && work.seq) || crypto.randomUUID(),
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
  const save = () => {
    if (!form.isConnected || !state.touched) return;
    sessionStorage.setItem(workKey(login), JSON.stringify({
      id: state.id, seq: state.seq, checked: !summaryBox.hidden || !okBox.hidden, saved_at: new Date().toISOString(), form: snapshot(),
    }));
  };
  let saveTimer;
  const touched = () => {
    state.touched = true;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 250);
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
  draftBtn.addEventListener('click', () => {
    const json = toJson();
    const title = [json.contract_no, json.items[0] && json.items[0].name].filter(Boolean).join(' · ');
    saveDraft(login, { id: state.id, seq: state.seq, saved_at: new Date().toISOString(), title, json });
    toast(() => t('form.draft_saved'));
  });
  // Starting afresh throws the typed form away: asked first.
  const discardBtn = h('button.btn-danger#discard-form', { type: 'button' }, t('form.discard'));
  discardBtn.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: t('form.discard'), text: t('form.discard_text'), danger: true, confirm: t('form.discard_confirm') });
    if (!ok) return;
    state.touched = false;
    dropWork(login);
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
        deleteDraft(login, state.id);
        state.touched = false;
        dropWork(login);
        toast(() => t('form.accepted', { no: r.declaration_no || r.pre_entry_no, lane: r.lane ? tk('lane', r.lane) : '' }));
        location.hash = `#/portal/d/${r.id}`;
      } catch (e) {
        if (e instanceof ApiError && e.problems.length) {
          showProblems(e.problems);
          // A rejection is recorded under this sequence number: the next try needs a new one.
          if (e.code === 'rejected') state.seq = crypto.randomUUID();
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
  form.append(h('div.form-actions.card', discardBtn, checkBtn, draftBtn, submitBtn));

  form.querySelector('[data-path="direction"]').addEventListener('change', applyDirection);
  if (copied) {
    // A new filing: its own sequence number (state.seq is new), today's date, no date of
    // arrival yet; the parties, goods and amounts as they were.
    fromJson({ ...copied, declaration_date: new Date().toISOString().slice(0, 10), ie_date: null });
    state.touched = true;
    save();
    el.querySelector('#form-restored').hidden = false;
    el.querySelector('#form-restored').textContent = t('form.copied', { no: copyId });
    // The copy is now the form in progress: a reload or a language switch keeps it as edited.
    history.replaceState(null, '', '#/portal/new');
  } else if (draft && draft.form) {
    restore(draft.form);
  } else if (draft) {
    fromJson(draft.json);
  } else if (work && work.form) {
    restore(work.form);
  } else {
    addItem();
    const today = new Date().toISOString().slice(0, 10);
    fromJson({ direction: 'import', entry_type: 'M', declaration_date: today, trader: { uscc: session.principal.uscc }, items: [{}] });
  }
  applyDirection();
  // A form that was checked before the switch shows its problems again, in the new language.
  if (work && work.checked) {
    try { await check(); } catch { /* the next check will say it */ }
  }
}
