'use strict';
// The kiosk page: walks one person through the setup guide's four steps
// (first method, alternatives, try signing in, apply for MFA) using the
// session-scoped routes under /kiosk/{id}/api/. All state lives in `S`;
// render() rebuilds the view from it, so switching language keeps
// everything the person typed or started.
(() => {
  const { t, h, button, wait, fmtTime } = UI; // ui.js, with strings.js

  const sid = location.pathname.split('/').filter(Boolean)[1] || '';
  const base = '/kiosk/' + encodeURIComponent(sid) + '/api';
  const S = {
    view: 'loading', // loading, ended, choose, totp, phone, sms, voice, key, alternatives, test, apply
    from: 'first', // where an add-method flow returns: 'first' (step 1) or 'more' (step 2)
    session: null, user: null,
    msg: null, // {kind: 'error'|'success', text} shown in the view's message area
    testPassed: false,
    totp: null, phone: { number: '', slot: 'mobile', channel: 'sms' }, sms: null, voice: null,
    key: null, test: null, code: '', pin: '', pin2: '',
  };
  let waitCtl = null; // AbortController of the current wait
  let events = null; // EventSource of the current security-key operation
  let devicePoll = 0;

  // ---- text ----
  function methodLabel(m) {
    const kind = m.kind === 'totp' ? t('kindTotp') : m.kind === 'fido' ? t('kindFido') : m.kind === 'tap' ? t('kindTap')
      : { mobile: t('slotMobile'), alternate: t('slotAlternate'), office: t('slotOffice') }[m.slot] || t('kindPhone');
    const extra = m.kind === 'phone' ? ' ' + UI.maskedPhone(m.phone) + ' (' + (m.channel === 'voice' ? t('chVoice') : 'SMS') + ')' : '';
    return kind + extra;
  }
  function problemText(p) {
    if (p && p.code === 'pin_too_short') return t('err.pin_too_short', { n: p.min_length || minPIN() });
    return UI.problemText(p);
  }
  const KEY_MESSAGES = [
    ['Wrong PIN', 'wrong_pin'], ["This key's PIN is blocked", 'pin_blocked'], ['Too many wrong PINs', 'pin_auth_blocked'],
    ['This key has a PIN', 'has_pin'], ['This key has no PIN yet', 'no_pin'], ['The new PIN is not accepted', 'pin_policy'],
    ['The key does not accept this PIN', 'pin_policy'], ['The key was not touched', 'no_touch'], ['The key was removed', 'removed'],
    ['This device is not a FIDO2', 'not_fido2'], ['This key is already registered', 'excluded'],
    ['This key does not hold', 'no_cred'], ['The operation was cancelled', 'cancelled'], ['The sign-in was not accepted', 'not_accepted'],
    ['The key does not answer', 'no_answer'], ['This key has no room', 'full'], ['This key cannot do what enrollment needs', 'unsupported'],
    ['The key refused the operation', 'refused'],
  ];
  function keyText(sess) {
    const m = sess.message || '';
    for (const [prefix, key] of KEY_MESSAGES) {
      if (m.startsWith(prefix)) return t('key.' + key, { n: key === 'wrong_pin' ? sess.pin_retries : minPIN() });
    }
    return m;
  }

  // ---- DOM helpers ----
  function msgArea() {
    const m = S.msg;
    return h('p', { id: 'msg', cls: 'msg' + (m ? ' ' + m.kind : ''), role: m && m.kind === 'error' ? 'alert' : 'status' }, m ? (typeof m.text === 'function' ? m.text() : m.text) : '');
  }
  // Code lengths come from the session (policy.code_length, totp.digits).
  function codeLen(kind) {
    const s = S.session || {};
    return (kind === 'totp' ? s.totp_digits : s.code_length) || 6;
  }
  function codeOK(code, kind) {
    if (new RegExp('^\\d{' + codeLen(kind) + '}$').test(code)) return true;
    setMsg('error', () => t('err.invalid_code_format', { n: codeLen(kind) }));
    return false;
  }
  function codeForm(label, onsubmit, submitText, kind) {
    const n = codeLen(kind);
    const input = h('input', { id: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: String(n), cls: 'code', value: S.code, oninput: (e) => { S.code = e.target.value.replace(/\D/g, '').slice(0, n); if (e.target.value !== S.code) e.target.value = S.code; } });
    return h('form', { id: 'codeform', novalidate: true, onsubmit: (e) => { e.preventDefault(); onsubmit(S.code); } },
      h('label', { for: 'code', text: label }), input,
      h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'codesubmit' }, submitText || t('confirm'))));
  }
  // passForm asks for a Temporary Access Pass (letters, digits, hyphens):
  // not the digits-only code input.
  function passForm(onsubmit) {
    const input = h('input', { id: 'pass', type: 'text', cls: 'pass', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: '24', size: '16', value: S.code, oninput: (e) => { S.code = e.target.value; } });
    return h('form', { id: 'passform', novalidate: true, onsubmit: (e) => { e.preventDefault(); onsubmit(S.code.trim()); } },
      h('label', { for: 'pass', text: t('tapLabel') }), h('p', { cls: 'hint', text: t('tapHint') }), input,
      h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'passsubmit' }, t('confirm'))));
  }
  function setMsg(kind, text) { S.msg = kind ? { kind, text } : null; const m = document.getElementById('msg'); if (m) m.replaceWith(msgArea()); }

  // ---- API ----
  async function api(method, path, body, signal) {
    const r = await UI.fetchJSON(method, base + path, body, { signal });
    if (!r.ok && r.problem && (r.problem.code === 'unknown_session' || r.problem.code === 'session_expired')) { ended(); throw new Error('session ended'); }
    return r;
  }
  function stopWaits() {
    if (waitCtl) { waitCtl.abort(); waitCtl = null; }
    if (events) { events.close(); events = null; }
    if (devicePoll) { clearTimeout(devicePoll); devicePoll = 0; }
  }
  function ended() {
    stopWaits();
    S.view = 'ended';
    S.msg = null;
    render();
  }
  async function refresh() {
    const r = await api('GET', '/state');
    if (r.ok) { S.session = r.data.session; S.user = r.data.user; }
    return r;
  }
  function confirmed() { return (S.user ? S.user.methods : []).filter((m) => m.confirmed); }
  function minPIN() {
    const dev = S.key && S.key.device;
    return Math.max(S.session ? S.session.min_pin_length : 4, dev ? dev.min_pin_length || 0 : 0);
  }

  // Long-polls a challenge until it is final; onChange sees every state.
  async function watchChallenge(id, onChange) {
    const ctl = new AbortController();
    waitCtl = ctl;
    for (let i = 0; i < 60 && !ctl.signal.aborted; i++) {
      let r;
      try { r = await api('GET', '/challenges/' + encodeURIComponent(id) + '?wait=20s', null, ctl.signal); } catch (e) { return; }
      if (ctl.signal.aborted) return;
      if (!r.ok) { onChange(null, r.problem); return; }
      onChange(r.data);
      if (['approved', 'denied', 'expired', 'failed', 'locked', 'no_answer', 'busy'].includes(r.data.status)) return;
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
  function stepOf(view) {
    if (view === 'alternatives') return 2;
    if (view === 'test') return 3;
    if (view === 'apply') return 4;
    if (['choose', 'totp', 'phone', 'sms', 'voice', 'key'].includes(view)) return S.from === 'first' ? 1 : 2;
    return 0;
  }
  function afterRegistered(label) {
    const msg = { kind: 'success', text: () => t('registered', { label: typeof label === 'function' ? label() : label }) };
    refresh().then(() => { S.from = 'more'; go('alternatives', { msg }); }).catch(() => {});
  }

  // ---- views ----
  const views = {
    loading: () => [h('div', { cls: 'card' }, wait(t('loading')))],
    ended: () => [h('div', { cls: 'card ended', id: 'ended' }, h('h1', { text: t('ended') }), h('p', { id: 'ended-hint', text: S.endedByUser ? t('endedByYou') : t('endedHint') }))],

    choose: () => {
      const first = S.from === 'first';
      return [h('div', { cls: 'card' },
        h('h1', { text: first ? t('s1Title') : t('s2AddTitle') }),
        first ? h('p', { text: t('s1Intro') }) : null,
        h('div', { cls: 'choices', role: 'group' },
          choice('totp', t('kindTotp'), t('kindTotpHint', { n: codeLen('totp') }), startTOTP),
          choice('phone', t('kindPhone'), t('kindPhoneHint'), () => go('phone')),
          choice('fido', t('kindFido'), t('kindFidoHint'), () => startKey(null))),
        h('p', { cls: 'hint', text: t('notOffered') }),
        first ? h('p', { cls: 'hint', text: t('fidoNotDefault') }) : null,
        msgArea(),
        first ? null : h('div', { cls: 'row' }, button(t('back'), () => go('alternatives')))),
      ];
    },

    totp: () => {
      const x = S.totp;
      return [h('div', { cls: 'card' },
        h('h1', { text: t('totpTitle') }),
        h('div', { cls: 'qr' },
          h('img', { src: 'data:image/png;base64,' + x.qr, alt: 'QR', id: 'qr' }),
          h('div', {}, h('p', { text: t('totpScan') }), h('p', { text: t('totpManual') }),
            h('p', { cls: 'secret', id: 'secret', text: x.secret.replace(/(.{4})/g, '$1 ').trim() }))),
        codeForm(t('totpCodeLabel', { n: codeLen('totp') }), confirmTOTP, null, 'totp'),
        h('p', { cls: 'hint', text: t('totpNote') }),
        msgArea(),
        h('div', { cls: 'row' }, button(t('cancel'), cancelTOTP))),
      ];
    },

    phone: () => {
      const p = S.phone;
      const radio = (name, value, label) => h('label', {}, h('input', { type: 'radio', name, value, checked: p[name] === value, onchange: () => { p[name] = value; } }), label);
      return [h('div', { cls: 'card' },
        h('h1', { text: t('phoneTitle') }),
        h('form', { id: 'phoneform', novalidate: true, onsubmit: (e) => { e.preventDefault(); submitPhone(); } },
          h('label', { for: 'number', text: t('phoneNumber') }),
          h('input', { id: 'number', type: 'tel', autocomplete: 'tel', value: p.number, oninput: (e) => { p.number = e.target.value; } }),
          h('p', { cls: 'hint', text: t('phoneNumberHint') }),
          h('fieldset', {}, h('legend', { text: t('phoneSlot') }), h('div', { cls: 'radios' },
            radio('slot', 'mobile', t('slotMobile')), radio('slot', 'alternate', t('slotAlternate')), radio('slot', 'office', t('slotOffice')))),
          h('fieldset', {}, h('legend', { text: t('phoneChannel') }), h('div', { cls: 'radios' },
            radio('channel', 'sms', t('chSms')), radio('channel', 'voice', t('chVoice')))),
          msgArea(),
          h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'phonesubmit' }, t('phoneSubmit')),
            button(t('back'), () => go('choose'))))),
      ];
    },

    sms: () => {
      const x = S.sms;
      return [h('div', { cls: 'card' },
        h('h1', { text: x.test ? t('s3Title') : t('phoneTitle') }),
        h('p', { text: t('smsSentTo', { phone: x.phone, n: codeLen('phone') }) }),
        wait(t('status.' + x.status), x.status === 'delivered' || x.status === 'sent' ? 'good' : x.final ? 'idle' : 'busy'),
        codeForm(t('smsCodeLabel', { n: codeLen('phone') }), x.test ? verifyTest : confirmSMS, null, 'phone'),
        msgArea(),
        h('div', { cls: 'row' }, button(t('cancel'), () => (x.test ? go('test') : go('phone'))))),
      ];
    },

    voice: () => {
      const x = S.voice;
      const mode = x.status === 'approved' ? 'good' : x.final ? 'idle' : 'busy';
      return [h('div', { cls: 'card' },
        h('h1', { text: x.test ? t('s3Title') : t('voiceTitle') }),
        h('p', { text: t('voiceCalling', { phone: x.phone }) }),
        h('p', { cls: 'match', id: 'match', text: x.match ? x.match + ' #' : '#' }),
        h('p', { cls: 'hint', text: t('voiceFraud') }),
        wait(t('status.' + x.status), mode),
        msgArea(),
        h('div', { cls: 'row' },
          x.final && x.status !== 'approved' ? button(t('tryAgain'), () => (x.test ? startTest(x.method) : submitPhone()), 'primary') : null,
          button(t('cancel'), () => (x.test ? go('test') : go('phone'))))),
      ];
    },

    key: () => {
      const k = S.key;
      const kids = [h('h1', { text: k.assert ? t('s3Title') : t('keyTitle') })];
      if (k.phase === 'insert') {
        kids.push(wait(t('keyInsert')));
      } else if (k.phase === 'pin') {
        kids.push(h('p', { text: t('keyFound', { product: k.device.product || 'FIDO2' }) }));
        const setting = !k.device.pin_set && !k.assert;
        kids.push(h('p', { id: 'pinhelp', text: setting ? t('keySetPin', { n: minPIN() }) : t('keyEnterPin') }));
        const pin = h('input', { id: 'pin', type: 'password', autocomplete: 'off', value: S.pin, 'aria-describedby': 'pinhelp', oninput: (e) => { S.pin = e.target.value; } });
        const form = h('form', { id: 'pinform', novalidate: true, onsubmit: (e) => { e.preventDefault(); submitPIN(); } },
          h('label', { for: 'pin', text: t('pinLabel') }), pin,
          setting ? [h('label', { for: 'pin2', text: t('pin2Label') }), h('input', { id: 'pin2', type: 'password', autocomplete: 'off', value: S.pin2, oninput: (e) => { S.pin2 = e.target.value; } })] : null,
          h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'pinsubmit' }, k.assert ? t('keyUseKey') : t('keyRegister'))));
        kids.push(form);
        kids.push(wait('', 'idle'));
      } else if (k.phase === 'working') {
        kids.push(wait(k.state === 'touch_key' ? t('keyTouch') : t('keyWaiting'), k.state === 'touch_key' ? 'touch' : 'busy'));
        kids.push(h('p', { cls: 'hint', text: t('keyCancelNote') }));
      }
      kids.push(msgArea());
      kids.push(h('div', { cls: 'row' }, button(t('cancel'), () => cancelKey(k), '', { id: 'key-cancel' })));
      return [h('div', { cls: 'card' }, kids)];
    },

    alternatives: () => {
      const ms = confirmed();
      const w = S.user.warnings || [];
      return [h('div', { cls: 'card' },
        h('h1', { text: t('s2Title') }),
        h('p', { text: t('s2Intro') }),
        w.includes('single_method') ? h('p', { cls: 'warn', id: 'single-warning', role: 'note', text: '\u26A0 ' + t('singleWarn') }) : null,
        w.includes('no_default_method') ? h('p', { cls: 'warn', text: '\u26A0 ' + t('noDefaultWarn') }) : null,
        h('h2', { text: t('yourMethods') }),
        h('ul', { cls: 'list', id: 'methods' }, ms.map((m) => h('li', { 'data-kind': m.kind },
          h('span', {}, methodLabel(m), m.default ? h('span', { cls: 'badge', text: t('defaultBadge') }) : null),
          !m.default && m.kind !== 'fido' ? button(t('makeDefault'), () => makeDefault(m)) : null))),
        h('p', { cls: 'hint', text: t('notOffered') }),
        msgArea(),
        h('div', { cls: 'row' },
          button(t('addMore'), () => { S.from = 'more'; go('choose'); }, '', { id: 'add-more' }),
          button(t('toStep3'), () => go('test'), 'primary', { id: 'to-step3' }))),
      ];
    },

    test: () => {
      const x = S.test || (S.test = { method: null, others: false, passed: null });
      const ms = confirmed();
      const def = ms.find((m) => m.default);
      const chosen = ms.find((m) => m.id === x.method) || def || ms[0];
      const kids = [h('h1', { text: t('s3Title') }), h('p', { text: t('s3Intro') })];
      if (x.done) {
        kids.push(h('p', { cls: 'msg success', id: 'passed', text: '\u2714 ' + t('s3Passed', { label: x.passed ? methodLabel(x.passed) : '' }) }));
        kids.push(h('div', { cls: 'row' }, button(t('toStep4'), () => go('apply'), 'primary', { id: 'to-step4' })));
        return [h('div', { cls: 'card' }, kids)];
      }
      if (chosen && chosen.kind === 'tap' && x.challenge) {
        kids.push(passForm(verifyTest));
      } else if (chosen && chosen.kind === 'totp' && x.challenge) {
        kids.push(h('p', { text: t('s3With', { label: methodLabel(chosen) }) }));
        kids.push(h('p', { text: t('s3TotpPrompt') }));
        kids.push(codeForm(t('s3CodeLabel', { n: codeLen('totp') }), verifyTest, null, 'totp'));
      } else if (chosen) {
        kids.push(h('p', { id: 'verify-with', text: t('s3With', { label: methodLabel(chosen) }) }));
        kids.push(h('div', { cls: 'row' }, button(t('s3Start'), () => startTest(chosen), 'primary', { id: 'start-test' })));
      }
      kids.push(msgArea());
      const others = ms.filter((m) => chosen && m.id !== chosen.id);
      if (others.length) {
        kids.push(button(t('s3Other'), () => { x.others = !x.others; render(); }, 'link', { id: 'other-option', 'aria-expanded': x.others ? 'true' : 'false' }));
        if (x.others) {
          kids.push(h('p', { text: t('s3Choose') }));
          kids.push(h('ul', { cls: 'list', id: 'others' }, others.map((m) => h('li', {}, button(methodLabel(m), () => { x.method = m.id; x.challenge = null; x.others = false; S.msg = null; render(true); })))));
        }
      }
      kids.push(h('div', { cls: 'row' }, button(t('back'), () => go('alternatives'))));
      return [h('div', { cls: 'card' }, kids)];
    },

    apply: () => {
      const mfa = S.user.mfa;
      const kids = [h('h1', { text: t('s4Title') }), h('p', { text: t('s4Intro') }),
        h('h2', { text: t('s4Remember') }),
        h('ul', { cls: 'reminders', id: 'reminders' }, h('li', { text: t('rem1') }), h('li', { text: t('rem2') }), h('li', { text: t('rem3') }))];
      if (mfa.state === 'pending') {
        const mins = Math.max(1, Math.round((new Date(mfa.activates_at) - Date.now()) / 60000));
        kids.push(h('p', { cls: 'msg success', id: 'applied', text: t('s4Pending', { time: fmtTime(mfa.activates_at), minutes: mins }) }));
        kids.push(h('p', { text: t('s4Done') }), msgArea(), h('div', { cls: 'row' }, button(t('endSession'), endSession, 'primary', { id: 'end-session' })));
      } else if (mfa.state === 'active') {
        kids.push(h('p', { cls: 'msg success', id: 'applied', text: t('s4Active') }));
        kids.push(h('p', { text: t('s4Done') }), msgArea(), h('div', { cls: 'row' }, button(t('endSession'), endSession, 'primary', { id: 'end-session' })));
      } else {
        if (!S.testPassed) kids.push(h('p', { cls: 'warn', id: 'need-step3', text: t('s4Need3') }));
        kids.push(msgArea());
        kids.push(h('div', { cls: 'row' },
          button(t('s4Apply'), applyMFA, 'primary', { id: 'apply', disabled: !S.testPassed }),
          button(t('back'), () => go(S.testPassed ? 'alternatives' : 'test'))));
      }
      return [h('div', { cls: 'card' }, kids)];
    },
  };
  function choice(kind, title, hint, onclick) {
    return h('button', { type: 'button', cls: 'choice', id: 'choose-' + kind, onclick }, h('strong', { text: title }), h('span', { text: hint }));
  }

  function render(moveFocus) {
    UI.applyLang(t('title'));
    document.getElementById('title').textContent = t('title');
    const cur = stepOf(S.view);
    const steps = document.getElementById('steps');
    steps.replaceChildren(...[1, 2, 3, 4].map((n) => {
      const done = S.view !== 'ended' && ((n === 1 && confirmed().length > 0 && cur !== 1) || (n === 3 && S.testPassed) || (n === 4 && S.user && S.user.mfa.state !== 'off') || (n === 2 && cur > 2));
      return h('li', { cls: done ? 'done' : '', 'aria-current': n === cur ? 'step' : null }, h('b', { text: t('step', { n }) }), t('step' + n));
    }));
    steps.parentElement.hidden = S.view === 'ended' || S.view === 'loading';
    const foot = document.getElementById('foot');
    foot.textContent = S.view !== 'ended' && S.session ? (S.user ? t('account', { user: S.user.user }) + ' \u00B7 ' : '') + t('sessionEnds', { time: fmtTime(S.session.expires_at) }) : '';
    const main = document.getElementById('main');
    const focusId = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : '';
    main.replaceChildren(...views[S.view]());
    main.dataset.view = S.view;
    if (moveFocus) {
      const first = main.querySelector('input:not([type=radio])') || main.querySelector('h1');
      if (first && first.tagName === 'H1') { first.tabIndex = -1; }
      if (first) first.focus();
    } else if (focusId) {
      const again = document.getElementById(focusId);
      if (again) again.focus();
    }
  }

  // ---- actions: authenticator app ----
  async function startTOTP() {
    setMsg(null);
    const r = await api('POST', '/methods', { kind: 'totp', label: '', language: UI.lang(), proof: S.proof });
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    S.totp = { method: r.data.method.id, secret: r.data.totp.secret, qr: r.data.totp.qr_png };
    go('totp');
  }
  async function confirmTOTP(code) {
    if (!codeOK(code, 'totp')) return;
    const r = await api('POST', '/methods/' + S.totp.method + '/confirm', { code });
    if (!r.ok) {
      S.code = ''; render();
      return setMsg('error', () => r.problem && r.problem.code === 'invalid_code' ? t('err.invalid_code_nocount') + ' ' + t('totpNote') : problemText(r.problem));
    }
    S.totp = null;
    afterRegistered(() => t('kindTotp'));
  }
  async function cancelTOTP() {
    const id = S.totp && S.totp.method;
    S.totp = null;
    if (id) await api('DELETE', '/methods/' + id).catch(() => {});
    go(S.from === 'first' ? 'choose' : 'alternatives');
  }

  // ---- actions: phone ----
  async function submitPhone() {
    const p = S.phone;
    if (!p.number.trim()) return setMsg('error', () => t('err.invalid_phone'));
    setMsg(null);
    const btn = document.getElementById('phonesubmit');
    if (btn) btn.disabled = true;
    const r = await api('POST', '/methods', { kind: 'phone', slot: p.slot, channel: p.channel, phone: p.number.trim(), label: '', language: UI.lang(), proof: S.proof });
    if (btn) btn.disabled = false;
    if (!r.ok) {
      if (S.view !== 'phone') go('phone');
      return setMsg('error', () => problemText(r.problem));
    }
    const c = r.data.challenge;
    follow(c, r.data.method, false);
  }
  // follow shows a phone challenge (registration or test) and watches it.
  function follow(c, m, test) {
    const x = { id: c.id, method: m, phone: m.phone, status: c.status, match: c.number_match, test, final: false };
    if (c.channel === 'voice') { S.voice = x; go('voice'); } else { S.sms = x; go('sms'); }
    watchChallenge(c.id, (ch, problem) => {
      const cur = c.channel === 'voice' ? S.voice : S.sms;
      if (cur !== x) return;
      if (!ch) { x.final = true; render(); return setMsg('error', () => problemText(problem)); }
      x.status = ch.status;
      x.final = ['approved', 'denied', 'expired', 'failed', 'locked', 'no_answer', 'busy'].includes(ch.status);
      let err = null;
      if (ch.status === 'denied' && ch.reason === 'fraud_reported') err = () => t('fraud');
      else if (x.final && ch.status !== 'approved') err = () => t('status.' + ch.status) + ' ' + t('retryHint');
      if (c.channel === 'voice' && ch.status === 'approved') {
        if (test) { passTest(m); return; }
        confirmVoice(x);
        return;
      }
      if (c.channel === 'sms' && (ch.status === 'sent' || ch.status === 'delivered' || ch.status === 'queued' || ch.status === 'sending')) { render(); return; }
      render();
      if (err) setMsg('error', err);
    });
  }
  async function confirmSMS(code) {
    if (!codeOK(code, 'phone')) return;
    const r = await api('POST', '/methods/' + S.sms.method.id + '/confirm', { code });
    if (!r.ok) { S.code = ''; render(); return setMsg('error', () => problemText(r.problem)); }
    const m = r.data.method;
    S.sms = null;
    afterRegistered(() => methodLabel(m));
  }
  async function confirmVoice(x) {
    const r = await api('POST', '/methods/' + x.method.id + '/confirm', { challenge: x.id });
    if (!r.ok) { render(); return setMsg('error', () => problemText(r.problem)); }
    S.voice = null;
    afterRegistered(() => methodLabel(r.data.method));
  }

  // ---- actions: security key ----
  function startKey(assert) {
    S.key = { phase: 'insert', device: null, assert: assert || null, op: null, state: null };
    S.pin = ''; S.pin2 = '';
    go('key');
    pollDevices();
  }
  async function pollDevices() {
    if (S.view !== 'key' || S.key.phase !== 'insert') return;
    const r = await api('GET', '/devices').catch(() => null);
    if (S.view !== 'key' || S.key.phase !== 'insert') return;
    if (r && r.ok && r.data.length) {
      S.key.device = r.data[0];
      S.key.phase = 'pin';
      render(true);
      return;
    }
    devicePoll = setTimeout(pollDevices, 1000);
  }
  async function submitPIN() {
    const k = S.key;
    const setting = !k.device.pin_set && !k.assert;
    if (setting) {
      if ([...S.pin].length < minPIN()) return setMsg('error', () => t('pinShort', { n: minPIN() }));
      if (S.pin !== S.pin2) return setMsg('error', () => t('pinMismatch'));
    } else if (!S.pin) {
      return setMsg('error', () => t('keyEnterPin'));
    }
    setMsg(null);
    const body = k.assert ? { device: k.device.path, pin: S.pin, challenge: k.assert.challenge }
      : setting ? { device: k.device.path, new_pin: S.pin, label: '' } : { device: k.device.path, pin: S.pin, label: '' };
    const r = await api('POST', k.assert ? '/assert' : '/enroll', body);
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    k.op = r.data.operation;
    k.phase = 'working';
    k.state = 'waiting_for_key';
    S.pin = ''; S.pin2 = '';
    render();
    listen(k);
  }
  // cancelKey abandons the operation on the key (the server cancels the
  // key's pending call) before leaving the view.
  async function cancelKey(k) {
    if (k.phase === 'working') {
      if (events) { events.close(); events = null; }
      const r = await api('POST', '/cancel').catch(() => null);
      if (S.key !== k) return;
      if (r && !r.ok) return setMsg('error', () => problemText(r.problem));
    }
    S.key = null;
    if (k.assert) go('test'); else go(S.from === 'first' ? 'choose' : 'alternatives');
  }
  function listen(k) {
    if (events) events.close();
    const es = new EventSource(base + '/events');
    events = es;
    es.addEventListener('state', (ev) => {
      if (S.key !== k) return;
      const sess = JSON.parse(ev.data);
      if (sess.operation !== k.op) return;
      k.state = sess.state;
      if (sess.state === 'done') {
        es.close(); events = null;
        if (k.assert) { passTest(k.assert.method); return; }
        S.key = null;
        afterRegistered(() => t('kindFido'));
        return;
      }
      if (sess.state === 'need_pin') {
        k.phase = 'pin';
        if (sess.message.startsWith('This key has a PIN')) k.device.pin_set = true;
        if (sess.message.startsWith('This key has no PIN yet')) k.device.pin_set = false;
        render(true);
        setMsg('error', () => keyText(sess));
        return;
      }
      if (sess.state === 'failed' || sess.state === 'expired') {
        es.close(); events = null;
        if (sess.state === 'expired') { ended(); return; }
        k.phase = 'pin';
        render();
        setMsg('error', () => keyText(sess));
        return;
      }
      render();
    });
    es.onerror = () => {
      if (events !== es) return;
      es.close(); events = null;
      refresh().then((r) => { if (r.ok && S.key === k && k.phase === 'working') { k.phase = 'pin'; render(); setMsg('error', () => t('err.network')); } }).catch(() => {});
    };
  }

  // ---- actions: step 2 ----
  async function makeDefault(m) {
    const r = await api('PUT', '/default-method', { method: m.id });
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    S.user = r.data;
    S.testPassed = false; // try signing in again with the new default
    S.test = null;
    S.msg = { kind: 'success', text: () => t('defaultChanged', { label: methodLabel(m) }) };
    render();
  }

  // ---- actions: step 3 ----
  async function startTest(m) {
    S.msg = null;
    const x = S.test || (S.test = { others: false });
    x.method = m.id;
    x.challenge = null;
    // A Temporary Access Pass proves who the person is (for adding
    // methods) but never answers a test sign-in.
    const r = await api('POST', '/challenges', { method: m.id, purpose: m.kind === 'tap' ? 'proof' : 'test' });
    if (!r.ok) { S.view = 'test'; render(); return setMsg('error', () => t('s3Failed', { reason: problemText(r.problem) })); }
    const c = r.data;
    x.challenge = c.id;
    if (c.kind === 'tap') { S.view = 'test'; S.code = ''; render(true); return; }
    if (c.kind === 'totp') { S.view = 'test'; S.code = ''; render(true); return; }
    if (c.kind === 'phone') { follow(c, m, true); return; }
    if (c.kind === 'fido') { startKey({ challenge: c.id, method: m }); }
  }
  async function verifyTest(code) {
    const tap = S.view === 'test' && S.test && (confirmed().find((m) => m.id === S.test.method) || {}).kind === 'tap';
    if (tap ? !code : !codeOK(code, S.view === 'sms' ? 'phone' : 'totp')) return;
    const id = S.view === 'sms' ? S.sms.id : S.test.challenge;
    const r = await api('POST', '/challenges/' + id + '/verify', { code });
    if (!r.ok) {
      S.code = ''; render();
      return setMsg('error', () => t('s3Failed', { reason: problemText(r.problem) }));
    }
    if (tap) { // a proof for the next method changes, not a test sign-in
      S.proof = id; S.test = null; S.code = '';
      S.msg = { kind: 'success', text: () => t('tapAccepted') };
      S.view = S.user && S.user.methods.some((m) => m.confirmed && m.kind !== 'tap') ? 'alternatives' : 'choose';
      refresh().finally(() => render(true));
      return;
    }
    const m = confirmed().find((x) => x.id === r.data.method);
    passTest(m);
  }
  function passTest(m) {
    stopWaits();
    S.testPassed = true;
    S.proof = S.test && S.test.challenge ? S.test.challenge : S.proof;
    S.test = { passed: m || null, done: true };
    S.view = 'test';
    S.msg = null;
    refresh().finally(() => render(true));
  }

  // ---- actions: step 4 ----
  async function applyMFA() {
    const r = await api('PUT', '/mfa', { enabled: true });
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    S.user = r.data;
    render(true);
  }

  // endSession ends the session on the server, so that the next person at
  // this kiosk cannot reach this one's account.
  async function endSession() {
    let r;
    try { r = await api('POST', '/end'); } catch (e) { return; } // already ended: the page says so
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    S.endedByUser = true;
    ended();
  }

  // ---- start ----
  UI.langSwitch(() => render());
  async function checkSession() {
    if (S.view === 'ended') return;
    try { await refresh(); } catch (e) { return; }
    if (S.session) {
      const left = new Date(S.session.expires_at) - Date.now();
      clearTimeout(checkSession.timer);
      checkSession.timer = setTimeout(checkSession, Math.max(1000, Math.min(left + 1500, 20000)));
    }
  }
  async function start() {
    render();
    let r;
    try { r = await refresh(); } catch (e) { return; }
    if (!r.ok) { S.view = 'ended'; render(); return; }
    const n = confirmed().length;
    if (n === 0) { S.from = 'first'; S.view = 'choose'; } else if (S.user.mfa.state !== 'off') { S.view = 'apply'; S.testPassed = true; } else { S.from = 'more'; S.view = 'alternatives'; }
    render(true);
    checkSession();
  }
  start();
})();
