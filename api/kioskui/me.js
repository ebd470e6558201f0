'use strict';
// The Security info page, /me: a person on their own phone or computer
// sees and changes their verification methods (the setup guide's "Security
// info" page). It calls only the session routes under /me/api/, which the
// self-service session cookie authenticates; every non-GET carries the
// session's CSRF token in X-CSRF-Token. All state lives in S and render()
// rebuilds the view from it, so switching language keeps what was typed or
// started.
//
// Proof: once MFA is on, the server refuses a method change with 403
// proof_required; the page then asks the person to verify with a method of
// their choice (a challenge with purpose "proof") and retries the change
// with its ID. The page keeps the last proof and sends it with later
// changes; when the server no longer accepts it, it asks again. The one
// exception to "send first, ask when refused" is a passkey: its browser
// ceremony cannot be repeated silently, so with MFA on and no proof in hand
// the page asks for the proof before the ceremony.
//
// Signed out (401 no_session): the page offers "Sign in" (/me/login) when
// sign-in through the identity provider is known to be on — from the
// state of this session when it ended, from the 401 answer's signin member
// when the server sends one, else by asking GET /me/login without
// following its redirect (a redirect means it is on; 404 means off).
// Otherwise it says to get a new link.
//
// Element ids the browser tests rely on:
//   #main[data-view]  loading, signedout, home, choose, totp, phone, sms, voice,
//                     passkey, rename, remove, verify, proof
//   home:      #me-title, #methods (li#m-<method id>[data-kind][data-default]),
//              #test-<id>, #default-<id>, #rename-<id>, #remove-<id>,
//              #default-line, #single-warning, #add-method, #mfa-state, #apply,
//              #reminders, #signout
//   choose:    #choose-totp, #choose-phone, #choose-fido (absent when the server has no passkey registration)
//   totp:      #qr, #secret, #code, #codesubmit
//   phone:     #number, input[name=slot], input[name=channel], #phonesubmit
//   sms/voice: #code, #codesubmit, #match, #wait
//   passkey:   #passkey-label, #passkey-create
//   rename:    #rename-label, #rename-save; remove: #remove-confirm
//   verify:    #verify-with, #code, #codesubmit, #match, #verify-fido, #verify-cancel
//   proof:     #proof-methods (button#proof-<id>), #proof-cancel
//   signedout: #signedout, #signedout-reason, #signin, #ask-link
//   every view: #msg (role alert for errors, status otherwise), #cancel or #back
(() => {
  const { t, h, button, wait, fmtTime, fmtDateTime, webauthn } = UI; // ui.js, with strings.js
  const base = '/me/api';
  const FINAL = ['approved', 'denied', 'expired', 'failed', 'locked', 'no_answer', 'busy'];
  const SLOTS = ['mobile', 'alternate', 'office'];
  // The labels the gateway gives a method registered without one: the page
  // shows the kind's name in the page's language instead.
  const DEFAULT_LABELS = ['Authenticator app', 'Mobile phone', 'Alternate phone', 'Office phone', 'Security key', 'Passkey'];
  const ownLabel = (m) => { const l = (m.label || '').trim(); return DEFAULT_LABELS.includes(l) ? '' : l; };
  const S = {
    view: 'loading',
    state: null, // GET /me/api/state: {user, csrf, expires_at, code_length, totp_digits, signin, passkeys}
    user: null,
    signin: null, // {oidc, links} as last known
    out: 'none', // why signed out: none, expired, you
    msg: null, // {kind: 'error'|'success'|'status', text}
    proof: '', // ID of the last approved proof challenge
    pending: null, // the change waiting for a proof: {run(proof), done(r), back}
    totp: null, // {method, secret, qr}
    phone: { number: '', slot: '', channel: 'sms' },
    ph: null, // a phone registration: {id, method, channel, status, match, final}
    passkey: { label: '', busy: false, options: null }, // options: a ceremony fetched ahead
    target: null, // the method being renamed or removed
    label: '',
    ver: null, // a test or proof: {purpose, method, ch, busy}
    code: '',
  };
  let waitCtl = null; // AbortController of the current long poll or WebAuthn call
  let expiryTimer = 0;

  // ---- text ----
  function kindName(m) {
    if (m.kind === 'totp') return t('kindTotp');
    if (m.kind === 'fido') return t('me.kindFido');
    if (m.kind === 'tap') return t('kindTap');
    return { mobile: t('slotMobile'), alternate: t('slotAlternate'), office: t('slotOffice') }[m.slot] || t('kindPhone');
  }
  // methodLabel names a method in one line: its kind, its own label and,
  // for a phone, the masked number and how it is reached.
  function methodLabel(m) {
    let s = kindName(m);
    if (m.kind === 'phone') s += ' ' + UI.maskedPhone(m.phone) + ' (' + (m.channel === 'voice' ? t('chVoice') : 'SMS') + ')';
    const own = ownLabel(m);
    if (own) s += ' \u00B7 ' + own;
    return s;
  }
  function problemText(p) {
    if (p && p.code === 'pin_too_short') return t('err.pin_too_short', { n: p.min_length || 4 });
    return UI.problemText(p, 'me.err.');
  }

  // ---- messages ----
  function msgArea() {
    const m = S.msg;
    return h('p', { id: 'msg', cls: 'msg' + (m ? ' ' + m.kind : ''), role: m && m.kind === 'error' ? 'alert' : 'status', tabindex: '-1' },
      m ? (typeof m.text === 'function' ? m.text() : m.text) : '');
  }
  // setMsg shows a message in the view. An error takes the focus unless
  // the person is typing (the field then names the message).
  function setMsg(kind, text) {
    S.msg = kind ? { kind, text } : null;
    const m = document.getElementById('msg');
    if (!m) return;
    const fresh = msgArea();
    m.replaceWith(fresh);
    const a = document.activeElement;
    if (kind === 'error' && !(a && a.tagName === 'INPUT')) fresh.focus();
  }
  const errorOf = (r) => () => problemText(r.problem);

  // ---- API ----
  // api calls a session route. It resolves to fetchJSON's answer, or to
  // null when the call was abandoned or the session is gone (the page has
  // then switched to the signed-out view).
  async function api(method, path, body, signal) {
    const headers = method === 'GET' ? {} : { 'X-CSRF-Token': S.state ? S.state.csrf : '' };
    let r;
    try {
      r = await UI.fetchJSON(method, base + path, body, { signal, headers });
    } catch (e) {
      return null; // aborted
    }
    if (!r.ok && r.status === 401 && r.problem && r.problem.code === 'no_session') {
      signedOut(S.state ? 'expired' : 'none', r.problem);
      return null;
    }
    return r;
  }
  function stopWaits() {
    if (waitCtl) { waitCtl.abort(); waitCtl = null; }
  }
  async function refresh() {
    const r = await api('GET', '/state');
    if (r && r.ok) {
      S.state = r.data;
      S.user = r.data.user;
      S.signin = r.data.signin || S.signin;
      try { sessionStorage.setItem('mfagate.me.signin', JSON.stringify(S.signin)); } catch (e) { /* storage off */ }
      watchExpiry();
    }
    return r;
  }
  function watchExpiry() {
    clearTimeout(expiryTimer);
    const left = new Date(S.state.expires_at) - Date.now();
    if (left > 0 && left < 864e5) expiryTimer = setTimeout(() => { if (S.view !== 'signedout') refresh(); }, left + 1500);
  }
  const methods = () => (S.user ? S.user.methods : []);
  const confirmed = () => methods().filter((m) => m.confirmed);
  const mfaOn = () => !!(S.user && S.user.mfa.state !== 'off');
  function codeLen(kind) {
    const s = S.state || {};
    return (kind === 'totp' ? s.totp_digits : s.code_length) || 6;
  }
  function codeOK(code, kind) {
    if (new RegExp('^\\d{' + codeLen(kind) + '}$').test(code)) return true;
    setMsg('error', () => t('err.invalid_code_format', { n: codeLen(kind) }));
    return false;
  }

  // ---- signed out ----
  async function signedOut(why, problem) {
    stopWaits();
    clearTimeout(expiryTimer);
    S.out = why;
    S.state = null;
    S.user = null;
    S.proof = '';
    S.pending = null;
    S.msg = null;
    if (problem && problem.signin && typeof problem.signin.oidc === 'boolean') S.signin = problem.signin;
    if (!S.signin) {
      try { S.signin = JSON.parse(sessionStorage.getItem('mfagate.me.signin') || 'null'); } catch (e) { S.signin = null; }
    }
    S.view = 'signedout';
    render(true);
    if (!S.signin) {
      // Is sign-in through the identity provider on? /me/login answers a
      // redirect to the provider when it is, 404 when it is not.
      let oidc = false;
      try {
        const res = await fetch('/me/login', { redirect: 'manual', credentials: 'same-origin', cache: 'no-store' });
        oidc = res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400);
      } catch (e) { oidc = false; }
      S.signin = { oidc, links: !oidc };
      if (S.view === 'signedout') render();
    }
  }

  // ---- navigation ----
  function go(view, opts) {
    stopWaits();
    S.view = view;
    S.msg = (opts && opts.msg) || null;
    S.code = '';
    render(true);
  }
  function home(msg) { go('home', { msg }); }
  function success(text) { return { kind: 'success', text }; }
  function afterChange(text) {
    refresh().then((r) => { if (r) home(success(text)); });
  }

  // change runs a method change with the proof in hand. Refused with
  // proof_required, it asks for a proof (the proof view) and runs again
  // with the new one; done sees the final answer.
  async function change(run, done, back) {
    const r = await run(S.proof);
    if (!r) return;
    if (!r.ok && r.problem && r.problem.code === 'proof_required') {
      askProof({ run, done, back });
      return;
    }
    done(r);
  }
  function askProof(pending) {
    S.proof = '';
    S.pending = pending;
    go('proof');
  }
  // failed shows a refused change in the view it came from.
  function failed(back, r) {
    if (S.view !== back) go(back);
    setMsg('error', errorOf(r));
  }

  // ---- views ----
  const views = {
    loading: () => [h('div', { cls: 'card' }, wait(t('loading')), msgArea())],

    signedout: () => {
      const reason = { you: 'me.signedOutByYou', expired: 'me.sessionEnded' }[S.out] || 'me.notSignedIn';
      const kids = [h('h1', { text: t('me.signedOutTitle') }), h('p', { id: 'signedout-reason', text: t(reason) })];
      if (S.signin && S.signin.oidc) {
        kids.push(h('p', { text: t('me.signInHint') }));
        kids.push(h('div', { cls: 'row' }, button(t('me.signIn'), () => location.assign('/me/login'), 'primary', { id: 'signin' })));
      } else if (S.signin) {
        kids.push(h('p', { id: 'ask-link', text: t('me.askLink') }));
      } else {
        kids.push(wait(t('loading')));
      }
      return [h('div', { cls: 'card ended', id: 'signedout' }, kids)];
    },

    home: () => {
      const u = S.user;
      const ms = methods();
      const w = u.warnings || [];
      const def = ms.find((m) => m.default);
      const list = ms.length
        ? h('ul', { cls: 'list methods', id: 'methods' }, ms.map((m) => methodRow(m)))
        : h('p', { id: 'methods', text: t('me.none') });
      const cards = [h('div', { cls: 'card' },
        h('h1', { id: 'me-title', text: t('me.title') }),
        h('p', { text: t('me.intro') }),
        msgArea(),
        w.includes('single_method') ? h('p', { cls: 'warn', id: 'single-warning', role: 'note', text: '\u26A0 ' + t('singleWarn') }) : null,
        w.includes('no_default_method') && confirmed().length ? h('p', { cls: 'warn', role: 'note', text: '\u26A0 ' + t('noDefaultWarn') }) : null,
        def ? h('p', { id: 'default-line', cls: 'prompt', text: t('me.defaultLine', { label: methodLabel(def) }) }) : null,
        h('h2', { text: t('me.methodsTitle') }),
        list,
        h('div', { cls: 'row' }, button(t('me.add'), () => go('choose'), 'primary', { id: 'add-method' })))];
      cards.push(mfaCard());
      cards.push(h('div', { cls: 'card' },
        h('h2', { text: t('me.remTitle') }),
        h('ul', { cls: 'reminders', id: 'reminders' }, h('li', { text: t('me.rem1') }), h('li', { text: t('me.rem2') }), h('li', { text: t('me.rem3') }))));
      cards.push(h('div', { cls: 'row signout' }, button(t('me.signOut'), signOut, '', { id: 'signout' })));
      return cards;
    },

    choose: () => [h('div', { cls: 'card' },
      h('h1', { text: t('me.chooseTitle') }),
      h('div', { cls: 'choices', role: 'group', 'aria-label': t('me.chooseTitle') },
        choice('totp', t('kindTotp'), t('kindTotpHint', { n: codeLen('totp') }), startTOTP),
        choice('phone', t('kindPhone'), t('kindPhoneHint'), startPhone),
        S.state && S.state.passkeys === false ? null : choice('fido', t('me.kindFido'), t('me.fidoHint'), startPasskey)),
      h('p', { cls: 'hint', text: t('me.notOffered') }),
      msgArea(),
      h('div', { cls: 'row' }, button(t('back'), () => home(), '', { id: 'back' })))],

    totp: () => {
      const x = S.totp;
      return [h('div', { cls: 'card' },
        h('h1', { text: t('totpTitle') }),
        h('div', { cls: 'qr' },
          h('img', { src: 'data:image/png;base64,' + x.qr, alt: t('totpScan'), id: 'qr' }),
          h('div', {}, h('p', { text: t('totpScan') }), h('p', { text: t('totpManual') }),
            h('p', { cls: 'secret', id: 'secret', text: x.secret.replace(/(.{4})/g, '$1 ').trim() }))),
        codeForm(t('totpCodeLabel', { n: codeLen('totp') }), confirmTOTP, 'totp'),
        h('p', { cls: 'hint', text: t('totpNote') }),
        msgArea(),
        h('div', { cls: 'row' }, button(t('cancel'), cancelTOTP, '', { id: 'cancel' })))];
    },

    phone: () => {
      const p = S.phone;
      const free = freeSlots();
      const radio = (name, value, label) => h('label', {}, h('input', { type: 'radio', name, value, checked: p[name] === value, onchange: () => { p[name] = value; } }), label);
      if (!free.length) {
        return [h('div', { cls: 'card' }, h('h1', { text: t('phoneTitle') }), h('p', { cls: 'warn', id: 'slots-full', text: t('me.slotsFull') }),
          msgArea(), h('div', { cls: 'row' }, button(t('back'), () => go('choose'), '', { id: 'back' })))];
      }
      const slotName = { mobile: t('slotMobile'), alternate: t('slotAlternate'), office: t('slotOffice') };
      return [h('div', { cls: 'card' },
        h('h1', { text: t('phoneTitle') }),
        h('p', { text: t('me.phoneIntro') }),
        h('form', { id: 'phoneform', novalidate: true, onsubmit: (e) => { e.preventDefault(); submitPhone(); } },
          h('label', { for: 'number', text: t('phoneNumber') }),
          h('input', { id: 'number', type: 'tel', autocomplete: 'tel', value: p.number, 'aria-describedby': 'number-hint', oninput: (e) => { p.number = e.target.value; } }),
          h('p', { cls: 'hint', id: 'number-hint', text: t('phoneNumberHint') }),
          h('fieldset', {}, h('legend', { text: t('phoneSlot') }), h('div', { cls: 'radios' }, free.map((s) => radio('slot', s, slotName[s])))),
          h('fieldset', {}, h('legend', { text: t('phoneChannel') }), h('div', { cls: 'radios' },
            radio('channel', 'sms', t('chSms')), radio('channel', 'voice', t('chVoice')))),
          msgArea(),
          h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'phonesubmit' }, t('phoneSubmit')),
            button(t('back'), () => go('choose'), '', { id: 'back' }))))];
    },

    sms: () => {
      const x = S.ph;
      return [h('div', { cls: 'card' },
        h('h1', { text: t('phoneTitle') }),
        h('p', { text: t('smsSentTo', { phone: UI.maskedPhone(x.method.phone), n: codeLen('phone') }) }),
        wait(t('status.' + x.status), x.status === 'delivered' || x.status === 'sent' ? 'good' : x.final ? 'idle' : 'busy'),
        codeForm(t('smsCodeLabel', { n: codeLen('phone') }), confirmSMS, 'phone'),
        msgArea(),
        h('div', { cls: 'row' }, button(t('cancel'), cancelPhone, '', { id: 'cancel' })))];
    },

    voice: () => {
      const x = S.ph;
      return [h('div', { cls: 'card' },
        h('h1', { text: t('voiceTitle') }),
        h('p', { text: t('voiceCalling', { phone: UI.maskedPhone(x.method.phone) }) }),
        h('p', { cls: 'match', id: 'match', text: x.match ? x.match + ' #' : '#' }),
        h('p', { cls: 'hint', text: t('voiceFraud') }),
        wait(t('status.' + x.status), x.status === 'approved' ? 'good' : x.final ? 'idle' : 'busy'),
        msgArea(),
        h('div', { cls: 'row' },
          x.final && x.status !== 'approved' ? button(t('tryAgain'), () => { cancelPhone(true); submitPhone(); }, 'primary', { id: 'again' }) : null,
          button(t('cancel'), cancelPhone, '', { id: 'cancel' })))];
    },

    passkey: () => {
      const x = S.passkey;
      return [h('div', { cls: 'card' },
        h('h1', { text: t('me.passkeyTitle') }),
        h('p', { text: t('me.passkeyIntro') }),
        h('p', { cls: 'hint', text: t('me.passkeyNotDefault') }),
        h('form', { id: 'passkeyform', novalidate: true, onsubmit: (e) => { e.preventDefault(); createPasskey(); } },
          h('label', { for: 'passkey-label', text: t('me.passkeyLabel') }),
          h('input', { id: 'passkey-label', type: 'text', autocomplete: 'off', maxlength: '64', value: x.label, disabled: x.busy, oninput: (e) => { x.label = e.target.value; } }),
          x.busy ? wait(t('me.passkeyWaiting'), 'touch') : null,
          msgArea(),
          h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'passkey-create', disabled: x.busy }, t('me.passkeyCreate')),
            button(t('cancel'), () => { x.busy = false; go('choose'); }, '', { id: 'cancel' }))))];
    },

    rename: () => {
      const m = S.target;
      return [h('div', { cls: 'card' },
        h('h1', { text: t('me.renameTitle') }),
        h('form', { id: 'renameform', novalidate: true, onsubmit: (e) => { e.preventDefault(); saveLabel(); } },
          h('label', { for: 'rename-label', text: t('me.renameLabel', { label: methodLabel(m) }) }),
          h('input', { id: 'rename-label', type: 'text', autocomplete: 'off', maxlength: '64', value: S.label, 'aria-describedby': 'rename-hint', oninput: (e) => { S.label = e.target.value; } }),
          h('p', { cls: 'hint', id: 'rename-hint', text: t('me.renameHint') }),
          msgArea(),
          h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'rename-save' }, t('me.save')),
            button(t('cancel'), () => home(), '', { id: 'cancel' }))))];
    },

    remove: () => {
      const m = S.target;
      const only = m.confirmed && confirmed().length === 1;
      return [h('div', { cls: 'card' },
        h('h1', { text: t('me.removeTitle') }),
        h('p', { id: 'remove-text', text: t('me.removeText', { label: methodLabel(m) }) }),
        only ? h('p', { cls: 'warn', id: 'remove-last', text: '\u26A0 ' + t('me.removeLast') }) : null,
        msgArea(),
        h('div', { cls: 'row' }, button(t('me.removeConfirm'), () => removeMethod(m), 'primary danger', { id: 'remove-confirm' }),
          button(t('cancel'), () => home(), '', { id: 'cancel' })))];
    },

    proof: () => {
      const ms = confirmed();
      return [h('div', { cls: 'card', id: 'proof' },
        h('h1', { text: t('me.proofTitle') }),
        h('p', { text: t('me.proofIntro') }),
        h('ul', { cls: 'list options', id: 'proof-methods' }, ms.map((m) => h('li', {},
          button(t('me.proofWith', { label: methodLabel(m) }), () => startVerify(m, 'proof'), m.default ? 'primary' : '', { id: 'proof-' + m.id, 'data-kind': m.kind })))),
        msgArea(),
        h('div', { cls: 'row' }, button(t('cancel'), cancelProof, '', { id: 'proof-cancel' })))];
    },

    verify: () => {
      const x = S.ver;
      const m = x.method;
      const ch = x.ch;
      const kids = [h('h1', { text: x.purpose === 'proof' ? t('me.proofTitle') : t('me.testTitle') }),
        h('p', { id: 'verify-with', text: t('s3With', { label: methodLabel(m) }) })];
      if (!ch) {
        kids.push(wait(t('loading')));
      } else if (ch.kind === 'tap') {
        kids.push(passForm(verifyCode));
      } else if (ch.kind === 'totp') {
        kids.push(h('p', { text: t('s3TotpPrompt') }));
        kids.push(codeForm(t('s3CodeLabel', { n: codeLen('totp') }), verifyCode, 'totp'));
      } else if (ch.kind === 'phone' && ch.channel !== 'voice') {
        kids.push(h('p', { text: t('smsSentTo', { phone: UI.maskedPhone(m.phone), n: codeLen('phone') }) }));
        kids.push(wait(t('status.' + ch.status), ch.status === 'delivered' || ch.status === 'sent' ? 'good' : ch.final ? 'idle' : 'busy'));
        kids.push(codeForm(t('smsCodeLabel', { n: codeLen('phone') }), verifyCode, 'phone'));
      } else if (ch.kind === 'phone') {
        kids.push(h('p', { text: t('voiceCalling', { phone: UI.maskedPhone(m.phone) }) }));
        kids.push(h('p', { cls: 'match', id: 'match', text: ch.number_match ? ch.number_match + ' #' : '#' }));
        kids.push(h('p', { cls: 'hint', text: t('voiceFraud') }));
        kids.push(wait(t('status.' + ch.status), ch.status === 'approved' ? 'good' : ch.final ? 'idle' : 'busy'));
      } else if (ch.kind === 'fido') {
        kids.push(x.busy ? wait(t('me.fidoWaiting'), 'touch')
          : h('div', { cls: 'row' }, button(t('me.fidoUse'), () => usePasskey(x), 'primary', { id: 'verify-fido' })));
      }
      kids.push(msgArea());
      const again = ch && ch.final && ch.status !== 'approved';
      kids.push(h('div', { cls: 'row' },
        again ? button(t('tryAgain'), () => startVerify(m, x.purpose), 'primary', { id: 'again' }) : null,
        button(t('cancel'), cancelVerify, '', { id: 'verify-cancel' })));
      return [h('div', { cls: 'card', 'data-purpose': x.purpose }, kids)];
    },
  };

  function methodRow(m) {
    const nameID = 'name-' + m.id;
    const details = [];
    if (ownLabel(m)) details.push(h('span', { cls: 'mlabel', text: ownLabel(m) }));
    if (m.kind === 'phone') details.push(h('span', { text: UI.maskedPhone(m.phone) + ' \u00B7 ' + (m.channel === 'voice' ? t('chVoice') : 'SMS') }));
    if (m.kind === 'fido' && m.model) details.push(h('span', { cls: 'model', text: m.model }));
    if (m.confirmed) details.push(h('span', { cls: 'hint lastused', text: m.last_used_at ? t('me.lastUsed', { when: fmtDateTime(m.last_used_at) }) : t('me.neverUsed') }));
    const act = (key, id, fn, cls) => button(t(key), fn, cls || '', { id: id + '-' + m.id, 'aria-describedby': nameID });
    return h('li', { id: 'm-' + m.id, 'data-kind': m.kind, 'data-default': m.default ? 'true' : 'false' },
      h('div', { cls: 'minfo' },
        h('strong', { id: nameID }, kindName(m),
          m.default ? h('span', { cls: 'badge', text: t('defaultBadge') }) : null,
          m.confirmed ? null : h('span', { cls: 'badge muted', text: t('me.unconfirmed') })),
        details),
      h('div', { cls: 'mactions' },
        m.confirmed && m.kind !== 'tap' ? act('me.try', 'test', () => startVerify(m, 'test')) : null,
        m.confirmed && !m.default && m.kind !== 'fido' ? act('makeDefault', 'default', () => makeDefault(m)) : null,
        m.confirmed ? act('me.rename', 'rename', () => { S.target = m; S.label = ownLabel(m); go('rename'); }) : null,
        act('me.remove', 'remove', () => { S.target = m; go('remove'); }, 'danger')));
  }

  function mfaCard() {
    const mfa = S.user.mfa;
    const kids = [h('h2', { text: t('me.mfaTitle') })];
    if (mfa.state === 'pending') {
      const mins = Math.max(1, Math.round((new Date(mfa.activates_at) - Date.now()) / 60000));
      kids.push(h('p', { cls: 'msg success', id: 'mfa-state', 'data-state': 'pending', text: t('s4Pending', { time: fmtTime(mfa.activates_at), minutes: mins }) }));
    } else if (mfa.state === 'active') {
      kids.push(h('p', { cls: 'msg success', id: 'mfa-state', 'data-state': 'active', text: '\u2714 ' + t('s4Active') }));
    } else {
      kids.push(h('p', { id: 'mfa-state', 'data-state': 'off', text: t('me.mfaOff') }));
      kids.push(h('p', { text: t('s4Intro') }));
      kids.push(h('p', { cls: 'hint', text: t('me.mfaApplyHint') }));
      kids.push(h('div', { cls: 'row' }, button(t('s4Apply'), applyMFA, 'primary', { id: 'apply', disabled: !confirmed().length })));
    }
    return h('div', { cls: 'card', id: 'mfa' }, kids);
  }

  function choice(kind, title, hint, onclick) {
    return h('button', { type: 'button', cls: 'choice', id: 'choose-' + kind, onclick }, h('strong', { text: title }), h('span', { text: hint }));
  }
  function codeForm(label, onsubmit, kind) {
    const n = codeLen(kind);
    const input = h('input', {
      id: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: String(n), pattern: '[0-9]*',
      cls: 'code', value: S.code, 'aria-describedby': 'msg',
      oninput: (e) => { S.code = e.target.value.replace(/\D/g, '').slice(0, n); if (e.target.value !== S.code) e.target.value = S.code; },
    });
    return h('form', { id: 'codeform', novalidate: true, onsubmit: (e) => { e.preventDefault(); onsubmit(S.code); } },
      h('label', { for: 'code', text: label }), input,
      h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'codesubmit' }, t('confirm'))));
  }
  // passForm asks for a Temporary Access Pass: letters and digits with
  // hyphens (7KQ4-MX9P-R3TD), typed in either case, so not the code input.
  function passForm(onsubmit) {
    const input = h('input', {
      id: 'pass', type: 'text', cls: 'pass', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false',
      maxlength: '24', size: '16', value: S.code, 'aria-describedby': 'msg',
      oninput: (e) => { S.code = e.target.value; },
    });
    return h('form', { id: 'passform', novalidate: true, onsubmit: (e) => { e.preventDefault(); onsubmit(S.code.trim()); } },
      h('label', { for: 'pass', text: t('tapLabel') }), h('p', { cls: 'hint', text: t('tapHint') }), input,
      h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'passsubmit' }, t('confirm'))));
  }
  function freeSlots() {
    const used = methods().filter((m) => m.kind === 'phone').map((m) => m.slot);
    return SLOTS.filter((s) => !used.includes(s));
  }

  function render(moveFocus) {
    UI.applyLang(t('me.title'));
    document.getElementById('title').textContent = t('me.title');
    const foot = document.getElementById('foot');
    foot.textContent = S.state && S.user ? t('me.account', { user: S.user.user }) + ' \u00B7 ' + t('me.sessionEnds', { time: fmtTime(S.state.expires_at) }) : '';
    const main = document.getElementById('main');
    const focusId = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : '';
    main.replaceChildren(...views[S.view]());
    main.dataset.view = S.view;
    if (moveFocus) {
      UI.focusFirst(main);
    } else if (focusId) {
      const again = document.getElementById(focusId);
      if (again) again.focus();
    }
  }

  // ---- authenticator app ----
  function startTOTP() {
    setMsg(null);
    change((proof) => api('POST', '/methods', { kind: 'totp', label: '', language: UI.lang(), proof }), (r) => {
      if (!r.ok) return failed('choose', r);
      S.totp = { method: r.data.method.id, secret: r.data.totp.secret, qr: r.data.totp.qr_png };
      go('totp');
    }, 'choose');
  }
  async function confirmTOTP(code) {
    if (!codeOK(code, 'totp')) return;
    const r = await api('POST', '/methods/' + encodeURIComponent(S.totp.method) + '/confirm', { code });
    if (!r) return;
    if (!r.ok) {
      S.code = ''; render();
      return setMsg('error', () => (r.problem && r.problem.code === 'invalid_code' ? t('err.invalid_code_nocount') + ' ' + t('totpNote') : problemText(r.problem)));
    }
    S.totp = null;
    afterChange(() => t('registered', { label: t('kindTotp') }));
  }
  // cancelTOTP removes the unconfirmed app, so nothing half-made stays.
  async function cancelTOTP() {
    const id = S.totp && S.totp.method;
    S.totp = null;
    if (id) await api('DELETE', '/methods/' + encodeURIComponent(id) + (S.proof ? '?proof=' + encodeURIComponent(S.proof) : ''));
    refresh().then((r) => { if (r) home(); });
  }

  // ---- phone ----
  function startPhone() {
    const free = freeSlots();
    if (!free.includes(S.phone.slot)) S.phone.slot = free[0] || '';
    go('phone');
  }
  function submitPhone() {
    const p = S.phone;
    if (!p.number.trim()) return setMsg('error', () => t('err.invalid_phone'));
    setMsg(null);
    const btn = document.getElementById('phonesubmit');
    if (btn) btn.disabled = true;
    change((proof) => api('POST', '/methods', { kind: 'phone', slot: p.slot, channel: p.channel, phone: p.number.trim(), label: '', language: UI.lang(), proof }), (r) => {
      if (!r.ok) return failed('phone', r);
      const c = r.data.challenge;
      S.ph = { id: c.id, method: r.data.method, channel: c.channel, status: c.status, match: c.number_match, final: FINAL.includes(c.status) };
      go(c.channel === 'voice' ? 'voice' : 'sms');
      watch(c.id, (ch, problem) => {
        const x = S.ph;
        if (!x || x.id !== c.id) return false;
        if (!ch) { x.final = true; render(); setMsg('error', () => problemText(problem)); return false; }
        x.status = ch.status;
        x.final = FINAL.includes(ch.status);
        if (ch.channel === 'voice' && ch.status === 'approved') { confirmVoice(x); return false; }
        render();
        if (ch.status === 'denied' && ch.reason === 'fraud_reported') setMsg('error', () => t('fraud'));
        else if (x.final && ch.status !== 'approved') setMsg('error', () => t('status.' + ch.status) + (ch.channel === 'voice' ? ' ' + t('retryHint') : ''));
        return !x.final;
      });
    }, 'phone');
  }
  async function confirmSMS(code) {
    if (!codeOK(code, 'phone')) return;
    const x = S.ph;
    const r = await api('POST', '/methods/' + encodeURIComponent(x.method.id) + '/confirm', { code });
    if (!r) return;
    if (!r.ok) { S.code = ''; render(); return setMsg('error', errorOf(r)); }
    S.ph = null;
    S.phone.number = '';
    const m = r.data.method;
    afterChange(() => t('registered', { label: methodLabel(m) }));
  }
  async function confirmVoice(x) {
    const r = await api('POST', '/methods/' + encodeURIComponent(x.method.id) + '/confirm', { challenge: x.id });
    if (!r) return;
    if (!r.ok) { render(); return setMsg('error', errorOf(r)); }
    S.ph = null;
    S.phone.number = '';
    const m = r.data.method;
    afterChange(() => t('registered', { label: methodLabel(m) }));
  }
  // cancelPhone removes the unconfirmed phone, which would hold its slot.
  async function cancelPhone(quiet) {
    const x = S.ph;
    S.ph = null;
    stopWaits();
    if (x) await api('DELETE', '/methods/' + encodeURIComponent(x.method.id) + (S.proof ? '?proof=' + encodeURIComponent(S.proof) : ''));
    if (quiet === true) return;
    await refresh();
    go('phone');
  }

  // watch long-polls a challenge (bounded: 60 polls of at most 20 s) while
  // onChange returns true.
  async function watch(id, onChange) {
    const ctl = new AbortController();
    waitCtl = ctl;
    for (let i = 0; i < 60 && !ctl.signal.aborted; i++) {
      const r = await api('GET', '/challenges/' + encodeURIComponent(id) + '?wait=20s', null, ctl.signal);
      if (!r || ctl.signal.aborted) return;
      if (!r.ok) { onChange(null, r.problem); return; }
      if (!onChange(r.data)) return;
    }
  }

  // ---- passkey or security key ----
  // startPasskey opens the passkey view and fetches the ceremony's options
  // ahead, so that pressing "Create" calls navigator.credentials.create
  // straight away: some browsers let a page start a WebAuthn ceremony only
  // right after a press.
  async function startPasskey() {
    const x = S.passkey;
    x.options = null;
    go('passkey');
    const o = await api('POST', '/passkeys/options', {});
    if (o && o.ok && S.view === 'passkey') x.options = { data: o.data, at: Date.now() };
  }
  function createPasskey() {
    const x = S.passkey;
    if (x.busy) return;
    if (!webauthn.supported()) return setMsg('error', () => t('me.passkeyUnsupported'));
    setMsg(null);
    const run = async (proof) => {
      // The ceremony fetched ahead, while it is fresh (the server keeps it
      // for five minutes), else a new one.
      let o = x.options && Date.now() - x.options.at < 4 * 60000 ? { ok: true, data: x.options.data } : null;
      x.options = null;
      if (!o) o = await api('POST', '/passkeys/options', {});
      if (!o || !o.ok) return o;
      x.busy = true;
      render();
      const ctl = new AbortController();
      waitCtl = ctl;
      let cred;
      try {
        cred = await navigator.credentials.create({ publicKey: webauthn.creationOptions(o.data.publicKey || o.data), signal: ctl.signal });
      } catch (e) {
        x.busy = false;
        if (ctl.signal.aborted) return null;
        const code = e && e.name === 'InvalidStateError' ? 'passkeyExists' : e && (e.name === 'NotAllowedError' || e.name === 'AbortError') ? 'passkeyCancelled' : 'passkeyUnsupported';
        return { ok: false, status: 0, problem: { code: 'local', local: code, detail: String(e && e.message) } };
      }
      waitCtl = null;
      const r = await api('POST', '/passkeys', { ceremony: o.data.ceremony, credential: webauthn.responseJSON(cred), label: x.label.trim(), proof });
      x.busy = false;
      return r;
    };
    const done = (r) => {
      x.busy = false;
      if (!r.ok) {
        if (S.view !== 'passkey') go('passkey');
        render();
        const c = r.problem && r.problem.code;
        // slot_taken: the key's credential is registered already.
        return setMsg('error', () => (c === 'local' ? t('me.' + r.problem.local) : c === 'slot_taken' ? t('me.passkeyExists') : problemText(r.problem)));
      }
      const m = r.data.method;
      x.label = '';
      afterChange(() => t('registered', { label: ownLabel(m) || m.model || t('me.kindFido') }));
    };
    // A ceremony cannot be repeated without the person, so ask for the
    // proof first when MFA is on (the server still decides: a refusal
    // asks again).
    if (mfaOn() && !S.proof) { askProof({ run, done, back: 'passkey' }); return; }
    change(run, done, 'passkey');
  }

  // ---- test sign-in and proof ----
  async function startVerify(m, purpose) {
    const x = { purpose, method: m, ch: null, busy: false };
    S.ver = x;
    go('verify');
    const r = await api('POST', '/challenges', { method: m.id, purpose });
    if (!r || S.ver !== x) return;
    if (!r.ok) { render(); return setMsg('error', errorOf(r)); }
    x.ch = Object.assign(r.data, { final: FINAL.includes(r.data.status) });
    render(true);
    if (x.ch.kind === 'fido') { usePasskey(x); return; }
    if (x.ch.kind !== 'phone') return;
    watch(x.ch.id, (ch, problem) => {
      if (S.ver !== x) return false;
      if (!ch) { x.ch.final = true; render(); setMsg('error', () => problemText(problem)); return false; }
      Object.assign(x.ch, ch, { final: FINAL.includes(ch.status) });
      if (ch.status === 'approved') { approved(x); return false; }
      render();
      if (ch.status === 'denied' && ch.reason === 'fraud_reported') setMsg('error', () => t('fraud'));
      else if (x.ch.final) setMsg('error', () => t('status.' + ch.status) + ' ' + t('retryHint'));
      return !x.ch.final;
    });
  }
  async function verifyCode(code) {
    const x = S.ver;
    if (x.ch.kind === 'tap' ? !code : !codeOK(code, x.ch.kind === 'totp' ? 'totp' : 'phone')) return;
    const r = await api('POST', '/challenges/' + encodeURIComponent(x.ch.id) + '/verify', { code });
    if (!r || S.ver !== x) return;
    if (r.ok && r.data.status === 'approved') { approved(x); return; }
    S.code = '';
    const p = r.ok ? { code: 'challenge_' + r.data.status } : r.problem;
    if (p && ['challenge_expired', 'challenge_locked', 'challenge_finished'].includes(p.code)) x.ch.final = true;
    render();
    setMsg('error', () => problemText(p));
  }
  async function usePasskey(x) {
    if (!webauthn.supported()) { x.busy = false; render(); return setMsg('error', () => t('me.passkeyUnsupported')); }
    x.busy = true;
    render();
    const ctl = new AbortController();
    waitCtl = ctl;
    let cred;
    try {
      cred = await navigator.credentials.get({ publicKey: webauthn.requestOptions(x.ch.webauthn), signal: ctl.signal });
    } catch (e) {
      if (ctl.signal.aborted || S.ver !== x) return;
      x.busy = false;
      render();
      return setMsg('error', () => (e && (e.name === 'NotAllowedError' || e.name === 'AbortError') ? t('me.fidoCancelled') : t('me.passkeyUnsupported')));
    }
    waitCtl = null;
    const r = await api('POST', '/challenges/' + encodeURIComponent(x.ch.id) + '/verify', { webauthn: webauthn.responseJSON(cred) });
    if (!r || S.ver !== x) return;
    x.busy = false;
    if (r.ok && r.data.status === 'approved') { approved(x); return; }
    render();
    setMsg('error', () => problemText(r.ok ? { code: 'challenge_' + r.data.status } : r.problem));
  }
  function approved(x) {
    stopWaits();
    S.ver = null;
    if (x.purpose === 'proof') {
      S.proof = x.ch.id;
      const p = S.pending;
      S.pending = null;
      if (!p) { afterChange(() => t('me.proofDone')); return; }
      go(p.back || 'home', { msg: { kind: 'status', text: () => t('me.proofDone') } });
      change(p.run, p.done, p.back);
      return;
    }
    const m = x.method;
    afterChange(() => '\u2714 ' + t('me.testPassed', { label: methodLabel(m) }));
  }
  function cancelVerify() {
    const x = S.ver;
    S.ver = null;
    stopWaits();
    if (x && x.purpose === 'proof') { go('proof'); return; }
    home();
  }
  function cancelProof() {
    const p = S.pending;
    S.pending = null;
    if (p && p.back && p.back !== 'home') go(p.back); else home();
  }

  // ---- rename, remove, default, MFA ----
  async function saveLabel() {
    const m = S.target;
    const label = S.label.trim();
    if (!label) return setMsg('error', () => t('me.err.label_empty'));
    const r = await api('PATCH', '/methods/' + encodeURIComponent(m.id), { label });
    if (!r) return;
    if (!r.ok) return setMsg('error', errorOf(r));
    afterChange(() => t('me.renamed', { label: r.data.method.label }));
  }
  function removeMethod(m) {
    change((proof) => api('DELETE', '/methods/' + encodeURIComponent(m.id) + (proof ? '?proof=' + encodeURIComponent(proof) : '')), (r) => {
      if (!r.ok) return failed('remove', r);
      afterChange(() => t('me.removed', { label: methodLabel(m) }));
    }, 'remove');
  }
  async function makeDefault(m) {
    const r = await api('PUT', '/default-method', { method: m.id });
    if (!r) return;
    if (!r.ok) return setMsg('error', errorOf(r));
    S.user = r.data;
    S.msg = success(() => t('defaultChanged', { label: methodLabel(m) }));
    render();
    const d = document.getElementById('msg');
    if (d) d.focus();
  }
  async function applyMFA() {
    const r = await api('PUT', '/mfa', { enabled: true });
    if (!r) return;
    if (!r.ok) return setMsg('error', errorOf(r));
    S.user = r.data;
    render();
    const s = document.getElementById('mfa-state');
    if (s) { s.tabIndex = -1; s.focus(); }
  }
  async function signOut() {
    const r = await api('POST', '/logout');
    if (!r) return;
    if (!r.ok) return setMsg('error', errorOf(r));
    signedOut('you');
  }

  // ---- start ----
  UI.langSwitch(() => render());
  async function start() {
    render();
    const r = await refresh();
    if (!r) return; // signed out: that view is showing
    if (!r.ok) { setMsg('error', errorOf(r)); return; }
    home();
  }
  start();
})();
