// Customs registration (docs/PARTIES.md "Customs registration"): the self-service sign-up page
// (no session), the enterprise administrator's page (its registration, change, cancellation,
// its users and their roles) and the officers' registration desk (review of brokers).
import { t } from './i18n.js';
import { get, post } from './api.js';
import { h, clear, toast, emptyState, table, fmtTime, section } from './ui.js';
import { apiForm } from './finance.js';

const STATUS_KEYS = {
  pending_review: 'reg.status_pending_review', effective: 'reg.status_effective',
  refused: 'reg.status_refused', cancelled: 'reg.status_cancelled',
};
const KIND_KEYS = { consignee: 'reg.kind_consignee', broker: 'reg.kind_broker' };
const ROLE_KEYS = {
  enterprise_administrator: 'reg.role_enterprise_administrator', declarant: 'reg.role_declarant',
  finance: 'reg.role_finance', viewer: 'reg.role_viewer',
};
const ZONES = [['9', 'reg.zone_9'], ['1', 'reg.zone_1'], ['2', 'reg.zone_2'], ['3', 'reg.zone_3'],
  ['4', 'reg.zone_4'], ['5', 'reg.zone_5']];
const ROLE_OPTIONS = [['declarant', 'reg.role_declarant'], ['finance', 'reg.role_finance'],
  ['viewer', 'reg.role_viewer'], ['enterprise_administrator', 'reg.role_enterprise_administrator']];
const roles = (s) => s.split(/[\s,，]+/).filter(Boolean);

function facts(r) {
  const rows = [
    [t('reg.uscc'), r.uscc],
    [t('reg.kind'), t(KIND_KEYS[r.kind])],
    [t('reg.status'), t(STATUS_KEYS[r.status])],
    [t('reg.customs_code'), r.customs_code || '—'],
    [t('reg.office'), r.office],
    [t('reg.name'), r.details.name],
    [t('reg.address'), r.details.address],
    [t('reg.contact'), r.details.contact],
    [t('reg.applied_at'), fmtTime(r.applied_at)],
  ];
  return h('dl.facts', { id: 'registration-facts' }, rows.flatMap(([k, v]) => [h('dt', k), h('dd', v)]));
}

// Sign-up: the enterprise, its details, its first administrator.
export async function signUpView(el) {
  const result = h('div#signup-result', { 'aria-live': 'polite' });
  const form = apiForm({
    id: 'signup',
    titleKey: 'reg.signup_title',
    submitKey: 'reg.signup_submit',
    fields: [
      ['kind', 'reg.kind', { options: [['consignee', 'reg.kind_consignee'], ['broker', 'reg.kind_broker']] }],
      ['uscc', 'reg.uscc', { maxlength: 18 }],
      ['name', 'reg.name', { maxlength: 200 }],
      ['office', 'reg.office', { maxlength: 4, inputmode: 'numeric' }],
      ['address', 'reg.address', { maxlength: 500 }],
      ['contact', 'reg.contact', { maxlength: 500 }],
      ['zone', 'reg.zone', { options: ZONES }],
      ['economic_type', 'reg.economic_type', { maxlength: 1, inputmode: 'numeric' }],
      ['admin_login', 'reg.admin_login', { maxlength: 64, autocomplete: 'username' }],
      ['admin_password', 'reg.admin_password', { type: 'password', autocomplete: 'new-password' }],
    ],
    onSubmit: async (b) => {
      const r = await post('/api/registrations/sign-up', b);
      clear(result).append(h('section.card',
        h('h2', t(r.status === 'effective' ? 'reg.signed_up_effective' : 'reg.signed_up_pending')),
        facts(r), h('p', h('a', { href: '#/login' }, t('reg.to_login')))));
      toast(() => t('reg.signed_up'));
    },
  });
  el.append(h('div.page-head', h('h1', t('reg.signup_heading'))), h('p.muted', t('reg.signup_intro')), form, result);
}

// The enterprise's registration and, for its administrator, its users.
export async function enterpriseView(el, ctx) {
  el.append(h('div.page-head', h('h1', t('reg.enterprise_title'))));
  const regBox = h('div#registration-mine');
  const usersBox = h('div#enterprise-users');
  const load = async () => {
    let r = null;
    try { r = await get('/api/registrations/mine'); } catch { r = null; }
    if (ctx && !ctx.isCurrent()) return;
    clear(regBox).append(r ? facts(r) : emptyState(t('reg.none')));
    if (r && (r.status === 'effective' || r.status === 'pending_review')) {
      regBox.append(apiForm({
        id: 'registration-change',
        titleKey: 'reg.change',
        submitKey: 'reg.change_submit',
        fields: [
          ['name', 'reg.name', { maxlength: 200, value: r.details.name }],
          ['address', 'reg.address', { maxlength: 500, value: r.details.address }],
          ['contact', 'reg.contact', { maxlength: 500, value: r.details.contact }],
          ['zone', 'reg.zone', { maxlength: 1, value: r.details.zone }],
          ['economic_type', 'reg.economic_type', { maxlength: 1, value: r.details.economic_type }],
        ],
        onSubmit: async (b) => {
          await post(`/api/registrations/${r.id}/change`, { ...b, expected_version: r.version });
          toast(() => t('reg.changed'));
          await load();
        },
      }), apiForm({
        id: 'registration-cancel',
        titleKey: 'reg.cancel',
        submitKey: 'reg.cancel_submit',
        fields: [['reason', 'reg.reason', { maxlength: 500 }]],
        onSubmit: async (b) => {
          await post(`/api/registrations/${r.id}/cancel`, { reason: b.reason, expected_version: r.version });
          toast(() => t('reg.cancelled'));
          await load();
        },
      }));
    }
    let users = null;
    try { users = await get('/api/enterprise/users'); } catch { users = null; }
    if (ctx && !ctx.isCurrent()) return;
    clear(usersBox);
    if (!users) {
      usersBox.append(h('p.muted', t('reg.admin_only')));
      return;
    }
    usersBox.append(table([t('reg.user_login'), t('reg.user_roles'), t('reg.user_state'), ''],
      users.map((u) => h('tr', { dataset: { user: u.login } },
        h('td.mono', u.login),
        h('td', u.roles.map((x) => t(ROLE_KEYS[x])).join(' · ')),
        h('td', t(u.disabled ? 'reg.user_disabled' : 'reg.user_enabled')),
        h('td', h('button.btn-secondary', {
          type: 'button',
          onclick: async () => {
            await post(`/api/enterprise/users/${encodeURIComponent(u.login)}/${u.disabled ? 'enable' : 'disable'}`, {});
            await load();
          },
        }, t(u.disabled ? 'reg.enable' : 'reg.disable')))))));
    usersBox.append(apiForm({
      id: 'enterprise-user-add',
      titleKey: 'reg.add_user',
      submitKey: 'reg.add_user_submit',
      fields: [
        ['login', 'reg.user_login', { maxlength: 64 }],
        ['password', 'reg.user_password', { type: 'password', autocomplete: 'new-password' }],
        ['roles', 'reg.user_roles', { options: ROLE_OPTIONS }],
      ],
      onSubmit: async (b) => {
        await post('/api/enterprise/users', { login: b.login, password: b.password, roles: roles(b.roles) });
        toast(() => t('reg.user_added', { login: b.login }));
        await load();
      },
    }), apiForm({
      id: 'enterprise-user-roles',
      titleKey: 'reg.set_roles',
      submitKey: 'reg.set_roles_submit',
      fields: [
        ['login', 'reg.user_login', { maxlength: 64 }],
        ['roles', 'reg.roles_list', { maxlength: 200 }],
      ],
      onSubmit: async (b) => {
        await post(`/api/enterprise/users/${encodeURIComponent(b.login)}/roles`, { roles: roles(b.roles) });
        toast(() => t('reg.roles_set', { login: b.login }));
        await load();
      },
    }));
  };
  el.append(section('reg.registration_title', regBox), section('reg.users_title', usersBox));
  await load();
}

// The officers' registration desk: registrations of their offices; brokers wait for review.
export async function registrationDesk(el, ctx) {
  el.append(h('div.page-head', h('h1', t('reg.desk_title'))));
  const listing = h('div#registration-list');
  const load = async () => {
    const items = await get('/api/registrations');
    if (ctx && !ctx.isCurrent()) return;
    clear(listing).append(items.length
      ? table([t('reg.uscc'), t('reg.name'), t('reg.kind'), t('reg.customs_code'), t('reg.status'), ''],
        items.map((r) => h('tr', { dataset: { registration: r.uscc } },
          h('td.mono', r.uscc), h('td', r.details.name), h('td', t(KIND_KEYS[r.kind])),
          h('td.mono', r.customs_code || '—'), h('td', t(STATUS_KEYS[r.status])),
          h('td', r.status === 'pending_review'
            ? [h('button.btn-primary', {
              type: 'button',
              onclick: async () => {
                await post(`/api/registrations/${r.id}/review`, { approve: true, note: '', expected_version: r.version });
                toast(() => t('reg.approved', { uscc: r.uscc }));
                await load();
              },
            }, t('reg.approve')), ' ', h('button.btn-secondary', {
              type: 'button',
              onclick: async () => {
                await post(`/api/registrations/${r.id}/review`, { approve: false, note: '', expected_version: r.version });
                toast(() => t('reg.refused', { uscc: r.uscc }));
                await load();
              },
            }, t('reg.refuse'))]
            : null))))
      : emptyState(t('reg.desk_empty')));
  };
  el.append(listing);
  await load();
}
