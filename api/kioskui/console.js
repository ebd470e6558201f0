'use strict';
// The help-desk console, /console: staff find a user and act for them
// (unlock, remove a lost method, change the default, issue or revoke a
// Temporary Access Pass, open a kiosk session, terminate MFA). Staff sign
// in one of two ways. With their own API token, kept in this page's memory
// only (never in storage or the address): every call is a bearer-token
// API call with the header Mfagate-Console, which makes the server require
// a reason for removals and terminations. Or, when the server has
// [console] (GET /console/api/session answers 401 rather than 404),
// through the OpenID provider (/console/login): the session cookie is
// HttpOnly, and every call goes to /console/v1/… with the session's CSRF
// token. Admin-only parts (audit history, unlock, terminate) show when
// GET /v1/audit answers; a 403 there hides them. A pass is shown once and
// dropped from memory when dismissed.
//
// Element ids the browser tests rely on:
//   #main[data-view]  signin, find, user, remove, terminate, pass
//   signin:    #token, #signin; #oidc-signin when the server offers it
//   signed in: #whoami, #signout
//   find:      #find-user, #find
//   user:      #user-title, #mfa-state, #activation, #failures, #phone-blocked,
//              #methods (li#m-<id>[data-kind]), #default-<id>, #remove-<id>,
//              #kiosk-open, #kiosk-link, #unlock-reason, #unlock,
//              #tap-lifetime, #tap-onetime, #tap-issue, #tap-revoke,
//              #terminate (admin), #audit (admin), #status, #msg
//   remove:    #remove-reason, #remove-confirm, #remove-cancel
//   terminate: #terminate-reason, #terminate-confirm, #terminate-cancel
//   pass:      #tap-pass, #tap-copy, #tap-dismiss
(() => {
  const { t, h, button } = UI;
  const S = { view: 'signin', token: '', staff: null, oidc: false, userID: '', user: null, audit: null, admin: false, status: null,
    msg: null, pass: null, kioskURL: '', target: null };
  const main = document.getElementById('main');

  async function call(method, path, body) {
    if (S.staff) {
      return UI.fetchJSON(method, '/console' + path, body, { headers: { 'X-CSRF-Token': S.staff.csrf, 'Mfagate-Console': '1' } });
    }
    return UI.fetchJSON(method, path, body, { headers: { Authorization: 'Bearer ' + S.token, 'Mfagate-Console': '1' } });
  }
  function signedOut() { S.token = ''; S.staff = null; S.user = null; S.audit = null; S.admin = false; S.pass = null; S.view = 'signin'; }
  function fail(r) {
    if (r.status === 401) {
      const staff = !!S.staff;
      signedOut();
      return say(t(staff ? 'console.sessionEnded' : 'console.tokenRefused', { detail: (r.problem && r.problem.detail) || '' }), 'error');
    }
    say(UI.problemText(r.problem, 'console.err.'), 'error');
  }
  function say(text, kind) { S.msg = text ? { text, kind: kind || 'success' } : null; render(); }
  const enc = encodeURIComponent;

  async function load(keepMsg) {
    const r = await call('GET', '/v1/users/' + enc(S.userID));
    if (!r.ok) { S.user = null; S.view = 'find'; return fail(r); }
    S.user = r.data; S.view = 'user';
    const a = await call('GET', '/v1/audit?limit=20&user=' + enc(S.userID));
    S.admin = a.ok; S.audit = a.ok ? a.data : null;
    const st = await call('GET', '/v1/kiosk/status');
    S.status = st.ok ? st.data : null;
    if (!keepMsg) S.msg = null;
    render();
  }
  async function act(p, okText) {
    const r = await p;
    if (!r.ok) return fail(r);
    S.view = 'user';
    await load(true);
    say(okText, 'success');
  }

  function kindName(m) {
    return { totp: t('kindTotp'), phone: t('kindPhone'), fido: t('kindFido'), tap: t('console.kindTap') }[m.kind] || m.kind;
  }
  function methodLine(m) {
    const bits = [kindName(m)];
    if (m.label) bits.push('\u201C' + m.label + '\u201D');
    if (m.kind === 'phone') bits.push(UI.maskedPhone(m.phone) + ' \u00B7 ' + (m.channel === 'voice' ? t('chVoice') : 'SMS'));
    if (m.kind === 'tap') bits.push(t('console.tapUntil', { when: UI.fmtDateTime(m.expires_at) }) + (m.one_time ? ' \u00B7 ' + t('console.oneTime') : ''));
    if (!m.confirmed) bits.push(t('console.unconfirmed'));
    if (m.default) bits.push(t('console.isDefault'));
    const acts = [];
    if (m.confirmed && !m.default && m.kind !== 'fido' && m.kind !== 'tap') {
      acts.push(button(t('console.makeDefault'), () => act(call('PUT', '/v1/users/' + enc(S.userID) + '/default-method', { method: m.id }), t('console.defaultDone')), '', { id: 'default-' + m.id }));
    }
    if (m.kind !== 'tap') acts.push(button(t('console.remove'), () => { S.target = m; S.msg = null; S.view = 'remove'; render(); }, 'danger', { id: 'remove-' + m.id }));
    return h('li', { id: 'm-' + m.id, 'data-kind': m.kind }, h('div', { cls: 'minfo' }, h('strong', { text: bits.join(' \u00B7 ') })), h('div', { cls: 'mactions' }, acts));
  }
  function field(id, label, input) { return [h('label', { for: id, text: label }), input]; }
  function reasonInput(id) { return h('input', { id, type: 'text', maxlength: '200', autocomplete: 'off', required: true }); }

  function viewSignin() {
    const out = [];
    if (S.oidc) {
      out.push(h('section', { cls: 'card', 'aria-labelledby': 'oidc-title' }, h('h1', { id: 'oidc-title', text: t('console.oidcTitle') }),
        h('p', { text: t('console.oidcIntro') }),
        h('div', { cls: 'row' }, button(t('console.oidcSignin'), () => location.assign('/console/login'), 'primary', { id: 'oidc-signin' }))));
    }
    const tok = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true });
    out.push(h('form', { cls: 'card', onsubmit: (e) => { e.preventDefault(); S.token = tok.value.trim(); tok.value = ''; S.view = 'find'; S.msg = null; render(); } },
      h(S.oidc ? 'h2' : 'h1', { text: S.oidc ? t('console.tokenTitle') : t('console.signinTitle') }), h('p', { text: t('console.signinIntro') }),
      field('token', t('console.token'), tok), h('div', { cls: 'row' }, h('button', { id: 'signin', type: 'submit', cls: S.oidc ? '' : 'primary', text: t('console.signin') }))));
    return out;
  }
  // whoami says who is signed in and offers signing out.
  function whoami() {
    const who = S.staff ? t('console.whoStaff', { actor: S.staff.actor, role: t('console.role.' + S.staff.role) }) : t('console.whoToken');
    return h('div', { cls: 'row', id: 'whoami-row' }, h('p', { id: 'whoami', cls: 'hint', text: who }),
      button(t('console.signout'), async () => {
        if (S.staff) {
          const r = await UI.fetchJSON('POST', '/console/api/logout', null, { headers: { 'X-CSRF-Token': S.staff.csrf } });
          if (!r.ok && r.status !== 401) return fail(r);
        }
        signedOut(); say(t('console.signedOut'));
      }, '', { id: 'signout' }));
  }
  function findForm() {
    const u = h('input', { id: 'find-user', type: 'text', autocomplete: 'off', required: true, value: S.userID });
    return h('form', { cls: 'card', role: 'search', onsubmit: (e) => { e.preventDefault(); S.userID = u.value.trim(); load(); } },
      whoami(), field('find-user', t('console.userID'), u), h('div', { cls: 'row' }, h('button', { id: 'find', type: 'submit', cls: 'primary', text: t('console.find') })));
  }
  function viewUser() {
    const u = S.user, m = u.mfa;
    const out = [findForm()];
    out.push(h('section', { cls: 'card', 'aria-labelledby': 'user-title' },
      h('h1', { id: 'user-title', text: t('console.userTitle', { user: u.user }) }),
      h('p', { id: 'mfa-state', text: t('console.state', { state: t('console.st.' + (m.state || 'off')) }) }),
      h('p', { id: 'activation', text: m.activates_at ? t('console.activation', { when: UI.fmtDateTime(m.activates_at) }) : t('console.noActivation') }),
      h('p', { id: 'failures', cls: m.consecutive_failures ? 'warn' : '', text: t('console.failures', { n: m.consecutive_failures }) }),
      h('p', { id: 'phone-blocked', cls: m.phone_blocked ? 'warn' : '', text: m.phone_blocked ? t('console.blocked') : t('console.notBlocked') }),
      h('h2', { text: t('console.methods') }),
      u.methods.length ? h('ul', { id: 'methods', cls: 'list methods' }, u.methods.map(methodLine)) : h('p', { id: 'methods', text: t('console.noMethods') })));
    // Temporary Access Pass.
    const life = h('select', { id: 'tap-lifetime' }, ['10m', '1h', '4h', '8h'].map((d) => h('option', { value: d, selected: d === '1h', text: t('console.life.' + d) })));
    const once = h('input', { id: 'tap-onetime', type: 'checkbox', checked: true });
    const hasTap = u.methods.some((x) => x.kind === 'tap');
    out.push(h('section', { cls: 'card' }, h('h2', { text: t('console.tapTitle') }), h('p', { cls: 'hint', text: t('console.tapIntro') }),
      field('tap-lifetime', t('console.tapLifetime'), life),
      h('label', { for: 'tap-onetime' }, once, ' ' + t('console.tapOneTime')),
      h('div', { cls: 'row' },
        button(t('console.tapIssue'), async () => {
          const r = await call('POST', '/v1/users/' + enc(S.userID) + '/tap', { lifetime: life.value, one_time: once.checked });
          if (!r.ok) return fail(r);
          S.pass = { pass: r.data.pass, until: r.data.method.expires_at, once: r.data.method.one_time }; S.view = 'pass'; S.msg = null; render();
        }, 'primary', { id: 'tap-issue' }),
        hasTap ? button(t('console.tapRevoke'), () => act(call('DELETE', '/v1/users/' + enc(S.userID) + '/tap'), t('console.tapRevoked')), 'danger', { id: 'tap-revoke' }) : null)));
    // Kiosk session.
    out.push(h('section', { cls: 'card' }, h('h2', { text: t('console.kioskTitle') }),
      button(t('console.kioskOpen'), async () => {
        const r = await call('POST', '/v1/kiosk/sessions', { user: S.userID });
        if (!r.ok) return fail(r);
        S.kioskURL = location.origin + r.data.url; say(t('console.kioskOpened'));
      }, '', { id: 'kiosk-open' }),
      S.kioskURL ? h('p', {}, h('a', { id: 'kiosk-link', href: S.kioskURL, target: '_blank', rel: 'noopener', text: S.kioskURL })) : null));
    if (S.admin) {
      const why = reasonInput('unlock-reason');
      why.required = false;
      out.push(h('section', { cls: 'card' }, h('h2', { text: t('console.unlockTitle') }),
        h('p', { cls: 'hint', id: 'unlock-hint', text: t('console.unlockHint') }),
        field('unlock-reason', t('console.reasonOptional'), why),
        h('div', { cls: 'row' },
          button(t('console.unlock'), () => act(call('POST', '/v1/users/' + enc(S.userID) + '/unlock', { reason: why.value }), t('console.unlocked')), '', { id: 'unlock' }),
          m.state && m.state !== 'off' ? button(t('console.terminate'), () => { S.view = 'terminate'; S.msg = null; render(); }, 'danger', { id: 'terminate' }) : null)));
      out.push(h('section', { cls: 'card' }, h('h2', { text: t('console.auditTitle') }),
        h('ul', { id: 'audit', cls: 'list' }, S.audit.map((e) => h('li', {}, h('span', { text: UI.fmtDateTime(e.at) + ' \u00B7 ' + e.type + ' \u00B7 ' + e.actor + (e.detail ? ' \u00B7 ' + e.detail : '') }))))));
    } else {
      out.push(h('p', { cls: 'hint', id: 'not-admin', text: t('console.notAdmin') }));
    }
    out.push(statusCard());
    return out;
  }
  function statusCard() {
    const s = S.status;
    if (!s) return h('section', { cls: 'card', id: 'status' }, h('p', { cls: 'hint', text: t('console.noStatus') }));
    const item = (text, ok) => h('li', { cls: ok ? 'ok' : 'bad', text: (ok ? '\u2714 ' : '\u2716 ') + text });
    return h('section', { cls: 'card', id: 'status' }, h('h2', { text: t('console.statusTitle') }),
      h('ul', { cls: 'list' }, s.modems.length ? s.modems.map((m) => item(m.id + ': ' + m.state, m.up)) : [item(t('console.noModems'), false)]),
      h('p', { text: t('console.outbox', { queued: s.outbox.queued, sending: s.outbox.sending }) }));
  }
  function confirmView(kind, title, lines, onGo) {
    const why = reasonInput(kind + '-reason');
    return h('form', { cls: 'card', novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      if (!why.value.trim()) { S.msg = { text: t('console.reasonNeeded'), kind: 'error' }; return render(); }
      onGo(why.value.trim());
    } },
    h('h1', { text: title }), lines.map((l) => h('p', { cls: 'warn', text: l })),
    field(kind + '-reason', t('console.reason'), why),
    h('div', { cls: 'row' }, h('button', { id: kind + '-confirm', type: 'submit', cls: 'danger primary', text: title }),
      button(t('cancel'), () => { S.view = 'user'; S.msg = null; render(); }, '', { id: kind + '-cancel' })));
  }
  function viewPass() {
    const p = S.pass;
    return h('section', { cls: 'card' }, h('h1', { text: t('console.passTitle') }),
      h('p', { cls: 'warn', text: t('console.passWarn') }),
      h('p', { id: 'tap-pass', cls: 'match secret', text: p.pass }),
      h('p', { text: t('console.tapUntil', { when: UI.fmtDateTime(p.until) }) + (p.once ? ' \u00B7 ' + t('console.oneTime') : '') }),
      h('div', { cls: 'row' },
        button(t('console.copy'), () => {
          if (navigator.clipboard) navigator.clipboard.writeText(p.pass).then(() => say(t('console.copied')), () => say(t('console.copyFailed'), 'error'));
        }, '', { id: 'tap-copy' }),
        button(t('console.dismiss'), () => { S.pass = null; S.view = 'user'; load(); }, 'primary', { id: 'tap-dismiss' })));
  }

  function render() {
    UI.applyLang(t('console.title'));
    document.getElementById('title').textContent = t('console.title');
    let body;
    switch (S.view) {
      case 'signin': body = viewSignin(); break;
      case 'find': body = [findForm()]; break;
      case 'user': body = viewUser(); break;
      case 'pass': body = [viewPass()]; break;
      case 'remove': body = [confirmView('remove', t('console.removeTitle'), [t('console.removeWarn', { method: methodLineText(S.target) })],
        (reason) => act(call('DELETE', '/v1/users/' + enc(S.userID) + '/methods/' + enc(S.target.id) + '?reason=' + enc(reason)), t('console.removed')))]; break;
      case 'terminate': body = [confirmView('terminate', t('console.terminateTitle'), [t('console.terminateWarn1'), t('console.terminateWarn2')],
        (reason) => act(call('DELETE', '/v1/users/' + enc(S.userID) + '/mfa?reason=' + enc(reason)), t('console.terminated')))]; break;
    }
    const msg = h('p', { id: 'msg', cls: 'msg' + (S.msg ? ' ' + S.msg.kind : ''), role: S.msg && S.msg.kind === 'error' ? 'alert' : 'status', tabindex: '-1', text: S.msg ? S.msg.text : '' });
    main.dataset.view = S.view;
    main.replaceChildren(msg, ...body);
    const title = document.getElementById('user-title');
    if (S.msg) msg.focus();
    else if (S.view === 'user' && title) { title.tabIndex = -1; title.focus(); } else if (S.view === 'signin' && S.oidc) document.getElementById('oidc-signin').focus();
    else UI.focusFirst(main);
  }
  function methodLineText(m) { return m ? kindName(m) + (m.label ? ' \u201C' + m.label + '\u201D' : '') + (m.kind === 'phone' ? ' ' + UI.maskedPhone(m.phone) : '') : ''; }

  // Is there a staff session (the provider's sign-in has just come back
  // here), or does the server offer the sign-in at all (401, not 404)?
  async function start() {
    const r = await UI.fetchJSON('GET', '/console/api/session');
    if (r.ok) { S.staff = r.data; S.oidc = true; S.view = 'find'; } else S.oidc = r.status === 401;
    render();
  }

  UI.langSwitch(() => render());
  start(); // renders once it knows, so that nothing typed is redrawn away
})();
