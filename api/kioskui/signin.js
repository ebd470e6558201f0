'use strict';
// The External MFA sign-in page, /oidc/flows/{flow}/: Microsoft Entra ID
// sent the person here to verify a sign-in. It shows the default method
// first with its primary action, lets the person pick any other method
// ("Use a different verification option"), follows SMS delivery and voice
// calls live, and uses WebAuthn for security keys: one key's own option,
// and, when the user has any key, "sign in with a passkey", a challenge
// any of the user's keys answers (the browser offers the passkeys it
// holds: an empty allowCredentials). When a challenge is
// approved it submits the finish form (action=complete); the server then
// answers Entra with its own form_post page. Giving up, or a refusal,
// submits action=cancel. All state lives in S and render() rebuilds the
// view from it, so switching language keeps what was typed or started.
// The flow's binding cookie goes along with every same-origin request;
// every POST carries the flow's CSRF token.
(() => {
  const { t, h, button, wait, fmtTime } = UI;
  const flowID = location.pathname.split('/').filter(Boolean)[2] || '';
  const base = '/oidc/flows/' + encodeURIComponent(flowID) + '/';
  const FINAL = ['approved', 'denied', 'expired', 'failed', 'locked', 'no_answer', 'busy'];
  const FLOW_GONE = ['unknown_flow', 'flow_binding', 'csrf', 'flow_answered', 'flow_expired'];

  const S = {
    view: 'loading', // loading, gone, refused, method, choose, done
    flow: null, user: '', methods: [], refusal: null,
    passkey: false, // the user has a key this sign-in may use (state.passkey)
    gone: '', // the flow error code when view is gone
    option: null, // the option shown: {key, method, kind, channel}
    ch: null, // the current challenge (JSON) of the option, with .final
    code: '', msg: null, busy: false,
  };
  let waitCtl = null; // AbortController of the current long poll or WebAuthn call
  let expiryTimer = 0;

  // ---- options: a method, and for a mobile phone each of SMS and voice;
  // first, with any security key, one passkey option for all of them ----
  const PASSKEY = { id: '', kind: 'fido' }; // the passkey option's stand-in method
  function optionsOf(methods) {
    const out = [];
    if (S.passkey) out.push({ key: 'passkey', method: PASSKEY, kind: 'passkey', channel: '' });
    for (const m of methods) {
      if (m.kind === 'phone') {
        // channels: the ways this sign-in may reach the phone (both for a
        // mobile phone); the method's own channel first.
        const first = m.channel === 'voice' ? 'voice' : 'sms';
        let chans = Array.isArray(m.channels) ? m.channels.slice() : [first];
        chans.sort((a, b) => (a === first ? -1 : b === first ? 1 : 0));
        if (!chans.length) chans = [first];
        for (const c of chans) out.push({ key: m.id + ':' + c, method: m, kind: 'phone', channel: c });
      } else if (m.kind === 'totp' || m.kind === 'fido' || m.kind === 'tap') { // tap: only when the server offers it ([policy] tap_signin)
        out.push({ key: m.id + ':' + m.kind, method: m, kind: m.kind, channel: '' });
      }
    }
    return out;
  }
  function optionLabel(o) {
    const phone = UI.maskedPhone(o.method.phone);
    if (o.kind === 'totp') return t('signin.optTotp');
    if (o.kind === 'tap') return t('kindTap');
    if (o.kind === 'fido') return t('signin.optFido');
    if (o.kind === 'passkey') return t('signin.passkey.option');
    return o.channel === 'voice' ? t('signin.optVoice', { phone }) : t('signin.optSms', { phone });
  }
  function codeLen() {
    const f = S.flow || {};
    return (S.option && S.option.kind === 'totp' ? f.totp_digits : f.code_length) || 6;
  }

  // ---- API ----
  async function api(method, path, body, signal) {
    const headers = method === 'GET' ? {} : { 'X-CSRF-Token': S.flow ? S.flow.csrf : '' };
    const r = await UI.fetchJSON(method, base + 'api/' + path, body, { signal, headers });
    if (!r.ok && r.problem && FLOW_GONE.includes(r.problem.code)) {
      gone(r.problem.code);
      throw new Error('flow gone');
    }
    return r;
  }
  function gone(code) {
    stopWaits();
    S.view = 'gone';
    S.gone = code;
    S.msg = null;
    render(true);
  }
  function stopWaits() {
    if (waitCtl) { waitCtl.abort(); waitCtl = null; }
  }

  // finish submits a real form, so the server's form_post answer to the
  // identity provider is a top-level navigation.
  function finish(action) {
    stopWaits();
    const f = h('form', { method: 'post', action: base + 'finish', id: 'finish', hidden: true },
      h('input', { type: 'hidden', name: 'csrf', value: S.flow ? S.flow.csrf : '' }),
      h('input', { type: 'hidden', name: 'action', value: action }));
    document.body.append(f);
    f.submit();
  }

  // ---- messages ----
  function msgArea() {
    const m = S.msg;
    return h('p', { id: 'msg', cls: 'msg' + (m ? ' ' + m.kind : ''), role: m && m.kind === 'error' ? 'alert' : 'status' },
      m ? (typeof m.text === 'function' ? m.text() : m.text) : '');
  }
  function setMsg(kind, text) {
    S.msg = kind ? { kind, text } : null;
    const m = document.getElementById('msg');
    if (m) m.replaceWith(msgArea());
  }
  function problemText(p) { return UI.problemText(p, 'signin.err.'); }

  // ---- views ----
  const views = {
    loading: () => [h('div', { cls: 'card' }, wait(t('loading')))],

    gone: () => [h('div', { cls: 'card ended', id: 'gone' },
      h('h1', { text: t('signin.goneTitle') }),
      h('p', { id: 'gone-reason', text: UI.has('signin.gone.' + S.gone) ? t('signin.gone.' + S.gone) : '' }),
      h('p', { text: t('signin.goneAgain') }))],

    refused: () => {
      const r = S.refusal || {};
      const known = UI.has('signin.refusal.' + r.code) ? r.code : 'generic';
      return [h('div', { cls: 'card', id: 'refused', 'data-code': r.code || '' },
        h('h1', { text: t('signin.refusedTitle') }),
        h('p', { id: 'refusal', text: t('signin.refusal.' + known) }),
        r.message ? h('p', { cls: 'hint', lang: 'en', id: 'refusal-detail', text: r.message }) : null,
        h('p', { cls: 'hint', text: t('signin.returnHint') }),
        h('div', { cls: 'row' }, button(t('signin.returnButton'), () => finish('cancel'), 'primary', { id: 'return' })))];
    },

    method: () => {
      const o = S.option;
      const ch = S.ch;
      const phone = UI.maskedPhone(o.method.phone);
      const kids = [h('h1', { text: t('signin.title') }), h('p', { text: t('signin.intro') })];
      if (o.kind === 'tap') {
        kids.push(passForm());
      } else if (o.kind === 'totp') {
        kids.push(h('p', { id: 'prompt', cls: 'prompt', text: t('signin.totpPrompt') }));
        kids.push(codeForm(t('signin.totpLabel', { n: codeLen() })));
      } else if (o.kind === 'phone' && o.channel === 'sms') {
        if (!ch) {
          kids.push(h('div', { cls: 'row' }, button(t('signin.smsAction', { phone }), startChallenge, 'primary', { id: 'start', disabled: S.busy })));
        } else {
          kids.push(h('p', { id: 'prompt', text: t('signin.smsSent', { phone, n: codeLen() }) }));
          kids.push(wait(t('status.' + ch.status), statusMode(o, ch)));
          kids.push(codeForm(t('signin.smsLabel', { n: codeLen() })));
        }
      } else if (o.kind === 'phone') {
        if (!ch) {
          kids.push(h('div', { cls: 'row' }, button(t('signin.voiceAction', { phone }), startChallenge, 'primary', { id: 'start', disabled: S.busy })));
        } else {
          kids.push(h('p', { id: 'prompt', text: t('signin.voiceCalling', { phone }) }));
          kids.push(h('p', { cls: 'match', id: 'match', text: ch.number_match ? ch.number_match + ' #' : '#' }));
          kids.push(h('p', { cls: 'hint', text: t('voiceFraud') }));
          kids.push(wait(t('status.' + ch.status), statusMode(o, ch)));
          if (ch.final && ch.status !== 'approved') {
            kids.push(h('div', { cls: 'row' }, button(t('signin.voiceRetry'), startChallenge, 'primary', { id: 'start' })));
          }
        }
      } else if (o.kind === 'fido' || o.kind === 'passkey') {
        const pk = o.kind === 'passkey';
        if (!ch || ch.final || !S.busy) {
          kids.push(h('p', { cls: 'hint', text: pk ? t('signin.passkey.hint') : t('signin.fidoHint') }));
          kids.push(h('div', { cls: 'row' }, button(pk ? t('signin.passkey.action') : t('signin.fidoAction'), startChallenge, 'primary', { id: 'start', disabled: S.busy })));
        } else {
          kids.push(wait(pk ? t('signin.passkey.waiting') : t('signin.fidoWaiting'), 'touch'));
        }
      }
      kids.push(msgArea());
      const waiting = ch && !ch.final && (o.kind !== 'totp');
      kids.push(h('div', { cls: 'row' },
        waiting ? button(t('cancel'), backToChoice, '', { id: 'cancel-wait' }) : null,
        optionsOf(S.methods).length > 1 ? button(t('signin.other'), showChoice, 'link', { id: 'other-option' }) : null));
      kids.push(h('div', { cls: 'row' }, button(t('signin.giveUp'), () => finish('cancel'), 'link', { id: 'give-up' })));
      return [h('div', { cls: 'card', 'data-option': o.kind + (o.channel ? '-' + o.channel : '') }, kids)];
    },

    choose: () => {
      const os = optionsOf(S.methods);
      return [h('div', { cls: 'card' },
        h('h1', { text: t('signin.chooseTitle') }),
        h('ul', { cls: 'list options', id: 'options' }, os.map((o) => h('li', {},
          button(optionLabel(o), () => choose(o), o.key === (S.option && S.option.key) ? 'primary' : '',
            { 'data-kind': o.kind + (o.channel ? '-' + o.channel : ''), 'aria-current': o.key === (S.option && S.option.key) ? 'true' : null, id: 'opt-' + o.key.replace(/[^A-Za-z0-9_-]/g, '-') })))),
        msgArea(),
        h('div', { cls: 'row' },
          S.option ? button(t('back'), () => choose(S.option), '', { id: 'back' }) : null,
          button(t('signin.giveUp'), () => finish('cancel'), 'link', { id: 'give-up' })))];
    },

    done: () => [h('div', { cls: 'card' }, h('h1', { text: t('signin.title') }),
      h('p', { cls: 'msg success', id: 'approved', role: 'status', text: '\u2714 ' + t('signin.approved') }))],
  };

  function codeForm(label) {
    const n = codeLen();
    const input = h('input', {
      id: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: String(n), size: String(n + 2),
      pattern: '[0-9]*', cls: 'code', value: S.code, 'aria-describedby': 'msg',
      oninput: (e) => { S.code = e.target.value.replace(/\D/g, '').slice(0, n); if (e.target.value !== S.code) e.target.value = S.code; },
    });
    return h('form', { id: 'codeform', novalidate: true, onsubmit: (e) => { e.preventDefault(); submitCode(); } },
      h('label', { for: 'code', text: label }), input,
      h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'codesubmit', disabled: S.busy }, t('signin.verify'))));
  }

  // passForm asks for a Temporary Access Pass (letters, digits, hyphens),
  // not for digits.
  function passForm() {
    const input = h('input', {
      id: 'pass', type: 'text', cls: 'pass', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false',
      maxlength: '24', size: '16', value: S.code, 'aria-describedby': 'msg', oninput: (e) => { S.code = e.target.value; },
    });
    return h('form', { id: 'passform', novalidate: true, onsubmit: (e) => { e.preventDefault(); S.code = S.code.trim(); submitCode(); } },
      h('label', { for: 'pass', text: t('tapLabel') }), h('p', { cls: 'hint', text: t('tapHint') }), input,
      h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'passsubmit', disabled: S.busy }, t('signin.verify'))));
  }

  function render(moveFocus) {
    UI.applyLang(t('signin.title'));
    document.getElementById('title').textContent = t('signin.brand');
    const foot = document.getElementById('foot');
    foot.textContent = S.flow && !['gone', 'done'].includes(S.view)
      ? t('signin.account', { user: S.user }) + ' \u00B7 ' + t('signin.expires', { time: fmtTime(S.flow.expires_at) }) : '';
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

  // ---- actions ----
  function choose(o) {
    stopWaits();
    S.option = o;
    S.ch = null;
    S.code = '';
    S.msg = null;
    S.busy = false;
    S.view = 'method';
    render(true);
  }
  function showChoice() {
    stopWaits();
    S.view = 'choose';
    S.msg = null;
    render(true);
  }
  // backToChoice cancels a wait (an SMS, a call, a security key prompt).
  function backToChoice() {
    S.ch = null;
    S.busy = false;
    showChoice();
  }

  // startChallenge is the option's primary action: text, call or key.
  async function startChallenge() {
    const o = S.option;
    stopWaits();
    S.busy = true;
    S.msg = null;
    S.ch = null;
    render();
    let r;
    try {
      const body = o.kind === 'passkey' ? { kind: 'fido' } : { method: o.method.id };
      if (o.kind === 'phone') body.channel = o.channel;
      r = await api('POST', 'challenges', body);
    } catch (e) { return; }
    if (S.option !== o) return;
    S.busy = false;
    if (!r.ok) { render(); setMsg('error', () => problemText(r.problem)); return; }
    S.ch = Object.assign(r.data, { final: FINAL.includes(r.data.status) });
    if (o.kind === 'fido' || o.kind === 'passkey') { S.busy = true; render(); useKey(o, S.ch); return; }
    render(true);
    follow(o, S.ch);
  }

  // statusMode is the look of a phone challenge's status line: an SMS is
  // good once sent, a call once approved.
  function statusMode(o, ch) {
    const good = o.channel === 'voice' ? ch.status === 'approved' : ch.status === 'delivered' || ch.status === 'sent';
    return good ? 'good' : ch.final ? 'idle' : 'busy';
  }

  // showStatus updates the status line (#wait, a live region) in place;
  // false when the view has none.
  function showStatus(o, ch) {
    const el = document.getElementById('wait');
    if (!el || !el.lastChild) return false;
    el.className = 'wait ' + statusMode(o, ch);
    el.lastChild.textContent = t('status.' + ch.status);
    return true;
  }

  // follow long-polls the challenge (bounded: 60 polls of at most 20 s)
  // and shows each status; a voice call approved on the phone finishes.
  async function follow(o, ch) {
    const ctl = new AbortController();
    waitCtl = ctl;
    for (let i = 0; i < 60 && !ctl.signal.aborted; i++) {
      let r;
      try { r = await api('GET', 'challenges/' + encodeURIComponent(ch.id) + '?wait=20s', null, ctl.signal); } catch (e) { return; }
      if (ctl.signal.aborted || S.ch !== ch) return;
      if (!r.ok) { setMsg('error', () => problemText(r.problem)); return; }
      const prev = ch.status;
      Object.assign(ch, r.data, { final: FINAL.includes(r.data.status) });
      if (ch.status === 'approved') { approved(); return; }
      // A status on the way (sent, delivered, ringing) changes only the
      // status line, in place: rebuilding the view would replace the code
      // field under a person typing, and an Enter pressed as it goes
      // submits nothing.
      if (ch.final) render();
      else if (ch.status !== prev && !showStatus(o, ch)) render();
      if (ch.final) {
        if (ch.status === 'denied' && ch.reason === 'fraud_reported') setMsg('error', () => t('fraud'));
        else setMsg('error', () => t('status.' + ch.status) + (o.kind === 'phone' && o.channel === 'voice' ? '' : ' ' + t('err.challenge_expired')));
        return;
      }
    }
  }

  async function submitCode() {
    const o = S.option;
    const n = codeLen();
    if (o.kind === 'tap' ? !S.code : !new RegExp('^\\d{' + n + '}$').test(S.code)) { setMsg('error', () => t('err.invalid_code_format', { n })); return; }
    if (S.busy) return;
    S.busy = true;
    setMsg('status', () => t('signin.checking'));
    let r;
    try {
      // An authenticator app needs no delivery: its challenge is made on
      // the first try and reused for the next ones.
      if ((o.kind === 'totp' || o.kind === 'tap') && (!S.ch || S.ch.final)) {
        const body = { method: o.method.id };
        const c = await api('POST', 'challenges', body);
        if (!c.ok) { S.busy = false; S.code = ''; render(); setMsg('error', () => problemText(c.problem)); return; }
        S.ch = Object.assign(c.data, { final: FINAL.includes(c.data.status) });
      }
      r = await api('POST', 'challenges/' + encodeURIComponent(S.ch.id) + '/verify', { code: S.code });
    } catch (e) { return; }
    if (S.option !== o) return;
    S.busy = false;
    if (r.ok && r.data.status === 'approved') { approved(); return; }
    S.code = '';
    const p = r.ok ? { code: 'challenge_' + r.data.status } : r.problem;
    if (p && ['challenge_expired', 'challenge_locked', 'replayed_code'].includes(p.code) && (o.kind === 'totp' || o.kind === 'tap')) S.ch = null;
    if (p && ['challenge_expired', 'challenge_locked'].includes(p.code) && o.kind === 'phone') S.ch = null;
    render(true);
    setMsg('error', () => problemText(p));
  }

  // ---- security key (WebAuthn) ----
  function b64u(s) {
    const bin = atob(String(s).replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(String(s).length / 4) * 4, '='));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64u(buf) {
    if (!buf) return null;
    const b = new Uint8Array(buf);
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  // requestOptions turns the server's PublicKeyCredentialRequestOptions
  // JSON (bare or as {publicKey: …}) into what credentials.get takes.
  function requestOptions(w) {
    const o = w && w.publicKey ? w.publicKey : w;
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
      return PublicKeyCredential.parseRequestOptionsFromJSON(o);
    }
    const out = Object.assign({}, o, { challenge: b64u(o.challenge) });
    if (o.allowCredentials) out.allowCredentials = o.allowCredentials.map((c) => Object.assign({}, c, { id: b64u(c.id) }));
    return out;
  }
  function responseJSON(cred) {
    if (typeof cred.toJSON === 'function') return cred.toJSON();
    const r = cred.response;
    return {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, authenticatorAttachment: cred.authenticatorAttachment || undefined,
      response: { clientDataJSON: toB64u(r.clientDataJSON), authenticatorData: toB64u(r.authenticatorData), signature: toB64u(r.signature), userHandle: toB64u(r.userHandle) },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
  }
  async function useKey(o, ch) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      S.busy = false; render(); setMsg('error', () => t('signin.fidoUnsupported')); return;
    }
    const ctl = new AbortController();
    waitCtl = ctl;
    let cred;
    try {
      cred = await navigator.credentials.get({ publicKey: requestOptions(ch.webauthn), signal: ctl.signal });
    } catch (e) {
      if (ctl.signal.aborted || S.ch !== ch) return;
      S.busy = false;
      render(true);
      setMsg('error', () => (e && e.name === 'NotAllowedError' || e.name === 'AbortError' ? t('signin.fidoCancelled') : t('signin.fidoUnsupported')));
      return;
    }
    if (ctl.signal.aborted || S.ch !== ch) return;
    waitCtl = null;
    let r;
    try { r = await api('POST', 'challenges/' + encodeURIComponent(ch.id) + '/verify', { webauthn: responseJSON(cred) }); } catch (e) { return; }
    if (S.ch !== ch) return;
    S.busy = false;
    if (r.ok && r.data.status === 'approved') { approved(); return; }
    S.ch = null;
    render(true);
    setMsg('error', () => problemText(r.ok ? { code: 'challenge_' + r.data.status } : r.problem));
  }

  function approved() {
    stopWaits();
    S.view = 'done';
    S.msg = null;
    render(true);
    finish('complete');
  }

  // ---- start ----
  async function start() {
    render();
    let r;
    try { r = await api('GET', 'state'); } catch (e) { return; }
    if (!r.ok) {
      S.view = 'gone';
      S.gone = r.problem ? r.problem.code : '';
      render(true);
      return;
    }
    S.flow = r.data.flow;
    S.user = r.data.user || '';
    S.methods = r.data.methods || [];
    S.refusal = r.data.refusal || null;
    S.passkey = !!r.data.passkey;
    const os = optionsOf(S.methods);
    if (S.refusal || !os.length) {
      S.refusal = S.refusal || { code: 'no_usable_method', message: '' };
      S.view = 'refused';
      render(true);
    } else {
      const def = S.methods.find((m) => m.default) || S.methods[0];
      choose(os.find((o) => o.method === def) || os[0]);
    }
    const left = new Date(S.flow.expires_at) - Date.now();
    clearTimeout(expiryTimer);
    if (left > 0 && left < 864e5) expiryTimer = setTimeout(() => { if (S.view !== 'done') gone('flow_expired'); }, left + 1000);
  }
  UI.langSwitch(() => render());
  start();
})();
