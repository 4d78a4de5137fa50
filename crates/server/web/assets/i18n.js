// Languages: one dictionary per language (/assets/i18n/zh.json, en.json), Chinese by default.
// Every visible string goes through t() with a key, or a data-i18n attribute; a key without a
// translation shows as ⟦key⟧ so that tests (and people) see it at once.
// Values chosen by the server (status, lane, event names) go through tk() with a family prefix.

export const LANGS = ['zh', 'en'];
const STORE_KEY = 'jinguan.lang';
let dict = {};
let lang = 'zh';

export function initialLang() {
  const saved = localStorage.getItem(STORE_KEY);
  return LANGS.includes(saved) ? saved : 'zh';
}

export async function loadLang(l) {
  const r = await fetch(`/assets/i18n/${l}.json`);
  dict = await r.json();
  lang = l;
  localStorage.setItem(STORE_KEY, l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

export function currentLang() {
  return lang;
}

export function t(key, vars) {
  let s = dict[key];
  if (typeof s !== 'string') {
    console.error('untranslated key', key);
    return `⟦${key}⟧`;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// A key made from a value the server chose: prefix is one of the enumerated families.
export function tk(prefix, value) {
  return t(`${prefix}.${value}`);
}

// A key made from a value the server chose in an open family (a system component, an agency):
// its translation if the dictionary has one, else the fallback key's (never the raw value in
// the other language).
export function tkOr(prefix, value, fallbackKey) {
  const s = dict[`${prefix}.${value}`];
  return typeof s === 'string' ? s : t(fallbackKey);
}

// The translation of a value of an open family, or null when the dictionary has none.
export function tkMaybe(prefix, value) {
  const s = dict[`${prefix}.${value}`];
  return typeof s === 'string' ? s : null;
}

// Bilingual data from the server ({name_zh, name_en} or {message_zh, message_en}).
export function pick(obj, base) {
  if (!obj) return '';
  return (lang === 'zh' ? obj[`${base}_zh`] : obj[`${base}_en`]) || obj[`${base}_zh`] || obj[`${base}_en`] || '';
}

export function applyStatic(root) {
  root.querySelectorAll('[data-i18n]').forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  root.querySelectorAll('[data-i18n-aria]').forEach((el) => {
    el.setAttribute('aria-label', t(el.dataset.i18nAria));
  });
}
