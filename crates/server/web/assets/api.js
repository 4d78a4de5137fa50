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
  if (body !== undefined) {
    opts.headers['content-type'] = 'application/json';
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
