// AEO certification (docs/PARTIES.md "AEO certification"): the reviewers' desk (applications
// of their offices, the audit checklist with results and findings, the decision, the periodic
// re-assessment) and the enterprise's view (its credit class with its history, its
// certificates, the application form).
import { t, pick } from './i18n.js';
import { get, post } from './api.js';
import { h, clear, toast, emptyState, table, fmtDate, fmtTime, section } from './ui.js';
import { apiForm } from './finance.js';

const CLASS_KEYS = {
  advanced_certified: 'aeo.class_advanced_certified', general_certified: 'aeo.class_general_certified',
  general: 'aeo.class_general', discredited: 'aeo.class_discredited',
};
const STATUS_KEYS = {
  applied: 'aeo.status_applied', in_audit: 'aeo.status_in_audit', certified: 'aeo.status_certified',
  refused: 'aeo.status_refused', withdrawn: 'aeo.status_withdrawn',
};
const RESULT_KEYS = { meets: 'aeo.result_meets', basically_meets: 'aeo.result_basically_meets', fails: 'aeo.result_fails' };
const LEVEL_KEYS = { advanced: 'aeo.level_advanced', general: 'aeo.level_general' };
const OUTCOME_KEYS = {
  advanced_certified: 'aeo.class_advanced_certified', general_certified: 'aeo.class_general_certified',
  refused: 'aeo.status_refused',
};
const label = (keys, v) => (keys[v] ? t(keys[v]) : v || '—');

// The current round's checklist: every standard of the level, its result and finding.
function checklist(c, standards) {
  const round = c.rounds[c.rounds.length - 1];
  const rows = standards.filter((s) => round.level === 'advanced' || s.general).map((s) => {
    const item = round.items.find((i) => i.standard === s.code);
    return h('tr', { dataset: { standard: s.code } },
      h('td.mono', s.code), h('td', pick(s, 'title')),
      h('td', s.mandatory ? t('aeo.mandatory') : ''),
      h('td', item ? label(RESULT_KEYS, item.result) : t('aeo.not_scored')),
      h('td', item ? item.finding : ''));
  });
  return table([t('aeo.standard'), t('aeo.title_col'), t('aeo.mandatory_col'), t('aeo.result'), t('aeo.finding')], rows);
}

function facts(c) {
  const round = c.rounds[c.rounds.length - 1];
  const pairs = [
    [t('aeo.enterprise'), c.uscc],
    [t('aeo.office'), c.office],
    [t('aeo.level'), label(LEVEL_KEYS, round.level)],
    [t('aeo.status'), label(STATUS_KEYS, c.status)],
    [t('aeo.round'), `${round.no}${round.reassessment ? ` · ${t('aeo.reassessment')}` : ''}`],
    [t('aeo.score'), String(c.score)],
    [t('aeo.outcome'), c.outcome ? label(OUTCOME_KEYS, c.outcome) : t('aeo.remaining', { n: c.remaining.length })],
    [t('aeo.valid_until'), c.valid_until ? fmtDate(c.valid_until) : '—'],
  ];
  if (c.withdrawn) pairs.push([t('aeo.withdrawn'), c.withdrawn]);
  return h('dl.facts', pairs.flatMap(([k, v]) => [h('dt', k), h('dd', v)]));
}

function certCard(c, standards, reload) {
  const body = [facts(c), checklist(c, standards)];
  const step = (id, titleKey, submitKey, fields, make) => apiForm({
    id: `aeo-${c.id}-${id}`, titleKey, submitKey, fields,
    onSubmit: async (b) => {
      await post(`/api/aeo/applications/${c.id}/steps`, { expected_version: c.version, ...make(b) });
      toast(() => t('aeo.recorded', { id: c.id }));
      await reload();
    },
  });
  if (c.status === 'applied' || c.status === 'in_audit') {
    const round = c.rounds[c.rounds.length - 1];
    const codes = standards.filter((s) => round.level === 'advanced' || s.general).map((s) => [s.code, s.code]);
    body.push(step('score', 'aeo.score_title', 'aeo.record', [
      ['standard', 'aeo.standard', { options: codes.map(([v]) => [v, 'aeo.standard']) }],
      ['result', 'aeo.result', { options: [['meets', 'aeo.result_meets'], ['basically_meets', 'aeo.result_basically_meets'], ['fails', 'aeo.result_fails']] }],
      ['finding', 'aeo.finding', { optional: true, maxlength: 2000 }],
    ], (b) => ({ step: 'score', ...b })));
    // The option labels of the standard select are the codes themselves.
    const select = body[body.length - 1].querySelector('select[name="standard"]');
    if (select) for (const o of select.options) o.textContent = o.value;
    body.push(step('decide', 'aeo.decide_title', 'aeo.decide_submit', [
      ['outcome', 'aeo.outcome', { options: [['advanced_certified', 'aeo.class_advanced_certified'], ['general_certified', 'aeo.class_general_certified'], ['refused', 'aeo.status_refused']] }],
      ['reason', 'aeo.reason', { maxlength: 2000 }],
    ], (b) => ({ step: 'decide', ...b })));
  } else if (c.status === 'certified') {
    body.push(step('reassess', 'aeo.reassess_title', 'aeo.reassess_submit',
      [['reason', 'aeo.reason', { maxlength: 2000 }]], (b) => ({ step: 'reassess', ...b })));
  }
  return h('section.card', { dataset: { certification: String(c.id) } },
    h('h2', `${t('aeo.certificate')} ${c.id} · ${c.uscc}`), ...body);
}

// The reviewers' desk: the applications and certificates of their offices.
export async function aeoDesk(el, ctx) {
  el.append(h('div.page-head', h('h1', t('aeo.desk_title'))));
  const listing = h('div#aeo-list');
  const std = await get('/api/aeo/standards');
  const load = async () => {
    const certs = await get('/api/aeo/applications');
    if (ctx && !ctx.isCurrent()) return;
    clear(listing).append(...(certs.length ? certs.map((c) => certCard(c, std.standards, load)) : [emptyState(t('aeo.empty'))]));
  };
  el.append(h('p.muted', t('aeo.source', { source: std.source })), listing);
  await load();
}

// The enterprise's credit standing and certification.
export async function aeoEnterprise(el, ctx) {
  const uscc = ctx.session.principal.uscc;
  el.append(h('div.page-head', h('h1', t('aeo.enterprise_title'))));
  const box = h('div#aeo-mine');
  const load = async () => {
    const s = await get(`/api/credit/${uscc}`);
    if (ctx && !ctx.isCurrent()) return;
    const history = s.history.length
      ? table([t('aeo.when'), t('aeo.from'), t('aeo.to'), t('aeo.trigger')], s.history.map((x) => h('tr',
        h('td', fmtTime(x.at)), h('td', label(CLASS_KEYS, x.from)), h('td', label(CLASS_KEYS, x.to)), h('td.mono', x.trigger))))
      : emptyState(t('aeo.no_history'));
    const certs = s.certifications.length
      ? s.certifications.map((c) => h('section.card', { dataset: { certification: String(c.id) } }, facts(c)))
      : [emptyState(t('aeo.none'))];
    clear(box).append(
      h('p', h('strong', t('aeo.class')), ' ', h('span#aeo-class', label(CLASS_KEYS, s.class))),
      section('aeo.history', history), section('aeo.certificates', ...certs));
  };
  await load();
  const form = apiForm({
    id: 'aeo-apply',
    titleKey: 'aeo.apply',
    submitKey: 'aeo.apply_submit',
    fields: [
      ['level', 'aeo.level', { options: [['advanced', 'aeo.level_advanced'], ['general', 'aeo.level_general']] }],
      ['office', 'aeo.office', { optional: true, maxlength: 4 }],
    ],
    onSubmit: async (b) => {
      const c = await post('/api/aeo/applications', { level: b.level, office: b.office || null });
      toast(() => t('aeo.applied', { id: c.id }));
      await load();
    },
  });
  el.append(box, form);
}
