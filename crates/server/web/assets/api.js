// The JSON API, with the session cookie (HttpOnly, set by POST /api/session).

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message_en || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http';
    this.body = e;
    this.problems = e.problems || [];
  }
}

export async function api(method, path, body, headers = {}) {
  const opts = { method, headers: { ...headers }, credentials: 'same-origin' };
  // Every changing request says it is JSON, with or without a body: the server refuses a
  // cookie-signed one that does not (a form on another page cannot say it).
  if (body !== undefined || (method !== 'GET' && method !== 'HEAD')) {
    opts.headers['content-type'] = 'application/json';
  }
  if (body !== undefined) {
    opts.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 204) return null;
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// A file sent as it is (its bytes: an XML file's prolog names its encoding, GB2312 included).
export async function postFile(path, bytes, contentType) {
  const opts = { method: 'POST', headers: { 'content-type': contentType }, body: bytes, credentials: 'same-origin' };
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body, headers) => api('POST', path, body === undefined ? {} : body, headers);

// Code tables are small and do not change while the page is open: remember answers.
const codeCache = new Map();
export async function codes(table, q = '') {
  const key = `${table}?${q}`;
  if (!codeCache.has(key)) {
    codeCache.set(key, get(`/api/codes/${table}?q=${encodeURIComponent(q)}`).catch((e) => {
      codeCache.delete(key);
      throw e;
    }));
  }
  return codeCache.get(key);
}

// The row of one code (`{code, name_zh, name_en, extra}`), or null if the table has no such
// code. Each table is asked for once per page load (its first rows, the whole of the small
// ones); a code beyond them is asked for by itself, once. A failed lookup is not remembered
// (the next page asks again) and gives null: the caller shows the bare code.
const tableRows = new Map();
const knownRows = new Map();
const rowKey = (table, code) => `${table}\n${String(code).trim().toUpperCase()}`;

function findRow(rows, code) {
  const c = String(code).trim().toUpperCase();
  return rows.find((r) => String(r.code).toUpperCase() === c)
    || rows.find((r) => typeof r.extra === 'string' && r.extra === `legacy ${code}`.trim())
    || null;
}

export async function codeRow(table, code) {
  if (code === undefined || code === null || String(code).trim() === '') return null;
  const key = rowKey(table, code);
  if (knownRows.has(key)) return knownRows.get(key);
  try {
    const whole = await codes(table, '');
    let row = findRow(whole.rows, code);
    if (!row && whole.truncated) row = findRow((await codes(table, String(code).trim())).rows, code);
    knownRows.set(key, row);
    return row;
  } catch {
    return null;
  }
}

// Look up many [table, code] pairs at once, before a page that shows them is drawn.
export async function loadCodeRows(pairs) {
  await Promise.all(pairs.map(([table, code]) => codeRow(table, code)));
}

// A row already looked up: the row, null (no such code), or undefined (not asked yet).
export function knownCodeRow(table, code) {
  if (code === undefined || code === null) return null;
  return knownRows.get(rowKey(table, code));
}
