'use strict';
// What every mfagate page shares (kiosk, External MFA sign-in, their error
// pages): the strings lookup, the language switch, DOM helpers, the JSON
// fetch wrapper that reads problem+json answers, time formatting and the
// display of masked phone numbers. Load strings.js first. Pages are served
// under a CSP without inline scripts or styles, so nothing here writes
// markup as text: elements are built with h().
// eslint-disable-next-line no-unused-vars
var UI = (() => {
  const STRINGS = MFA_STRINGS; // from strings.js
  const params = new URLSearchParams(location.search);
  let lang = params.get('lang') === 'en' ? 'en' : 'ja'; // Japanese unless ?lang=en

  function lookup(key, table) {
    return key.split('.').reduce((o, k) => (o == null ? o : o[k]), table);
  }
  // t returns the string key (dotted path) in the current language, English
  // when the language lacks it, the key itself when neither has it.
  function t(key, vars) {
    let v = lookup(key, STRINGS[lang]);
    if (v == null) v = lookup(key, STRINGS.en);
    if (v == null) return key;
    return String(v).replace(/\{(\w+)\}/g, (_, k) => (vars && vars[k] != null ? vars[k] : ''));
  }
  // has reports whether key names a string in the current language.
  function has(key) { return typeof lookup(key, STRINGS[lang]) === 'string'; }

  // langSwitch wires the header button (id "lang"): it toggles Japanese and
  // English, keeps ?lang= in the address so a reload keeps the language,
  // and calls onChange so the page re-renders from its state.
  function langSwitch(onChange) {
    const b = document.getElementById('lang');
    if (!b) return;
    b.addEventListener('click', () => {
      lang = lang === 'ja' ? 'en' : 'ja';
      const u = new URL(location.href);
      if (lang === 'en') u.searchParams.set('lang', 'en'); else u.searchParams.delete('lang');
      history.replaceState(history.state, '', u.pathname + u.search + u.hash);
      onChange();
    });
  }
  // applyLang sets the document's language and the switch's label; the
  // switch names the other language in that language.
  function applyLang(title) {
    document.documentElement.lang = lang;
    if (title) document.title = title;
    const b = document.getElementById('lang');
    if (b) {
      b.textContent = t('langSwitch');
      b.setAttribute('lang', lang === 'ja' ? 'en' : 'ja');
    }
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    return d.toLocaleTimeString(lang === 'ja' ? 'ja-JP' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
  }

  // fmtDateTime is a date and time, for example a method's last use.
  function fmtDateTime(iso) {
    const d = new Date(iso);
    return d.toLocaleString(lang === 'ja' ? 'ja-JP' : 'en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  // maskedPhone is a phone number for display. The gateway sends numbers
  // already masked (+81 90-****-2222, +81 ••• ••5678); should one ever come
  // unmasked, every digit but the last four is hidden here too.
  function maskedPhone(p) {
    const s = String(p || '');
    if (/[*\u2022]/.test(s)) return s;
    const digits = s.replace(/\D/g, '').length;
    let seen = 0;
    return s.replace(/\d/g, (d) => (++seen > digits - 4 ? d : '\u2022'));
  }

  // h builds an element: attrs may hold text, cls, on<event> handlers and
  // plain attributes (null/false left out, true as an empty attribute).
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'text') e.textContent = v;
      else if (k === 'cls') e.className = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat()) if (k != null && k !== false) e.append(k.nodeType ? k : document.createTextNode(k));
    return e;
  }
  function button(text, onclick, cls, extra) {
    return h('button', Object.assign({ type: 'button', cls: cls || '', onclick }, extra || {}), text);
  }
  // wait is the progress area: mode busy (spinner), touch (pulse), idle or
  // good. It is a polite live region, so screen readers hear each change.
  function wait(text, mode) {
    return h('div', { cls: 'wait ' + (mode || 'busy'), id: 'wait', 'aria-live': 'polite' },
      h('div', { cls: mode === 'touch' ? 'pulse' : 'spinner', 'aria-hidden': 'true' }), h('p', { text }));
  }

  // fetchJSON calls a same-origin JSON route. It resolves to
  // {ok, status, data} or {ok: false, status, problem}, where problem is
  // the problem+json body (with retry_after from Retry-After on 429) or
  // null when the server did not answer at all. An abort rejects.
  async function fetchJSON(method, url, body, opts) {
    const o = opts || {};
    const headers = Object.assign(body !== undefined && body !== null ? { 'Content-Type': 'application/json' } : {}, o.headers || {});
    let res;
    try {
      res = await fetch(url, {
        method, signal: o.signal, headers, credentials: 'same-origin', cache: 'no-store',
        body: body !== undefined && body !== null ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      return { ok: false, status: 0, problem: null };
    }
    let data = null;
    if (res.status !== 204) data = await res.json().catch(() => null);
    if (!res.ok) {
      const p = data && typeof data === 'object' ? data : { code: 'http_' + res.status, status: res.status };
      if (res.status === 429) p.retry_after = res.headers.get('Retry-After');
      return { ok: false, status: res.status, problem: p };
    }
    return { ok: true, status: res.status, data };
  }

  // problemText explains a problem in the current language: first the
  // page's own wording (prefix, like "signin.err."), then the shared err.*,
  // else the server's English detail. vars fills placeholders such as a
  // minimum PIN length.
  function problemText(p, prefix, vars) {
    if (!p) return has((prefix || '') + 'network') ? t(prefix + 'network') : t('err.network');
    const c = p.code;
    if (c === 'invalid_code') {
      return p.attempts_left != null ? t('err.invalid_code', { n: p.attempts_left }) : t('err.invalid_code_nocount');
    }
    const v = Object.assign({ n: c === 'rate_limited' ? p.retry_after || 60 : '' }, vars || {});
    if (prefix && has(prefix + c)) return t(prefix + c, v);
    if (has('err.' + c)) return t('err.' + c, v);
    return t('err.generic', { detail: p.detail || p.title || c });
  }

  // focusFirst moves focus into a re-rendered view: the first text input,
  // else the heading (made focusable), so keyboard and screen-reader users
  // start at the new content.
  function focusFirst(root) {
    const first = root.querySelector('input:not([type=radio]):not([type=hidden])') || root.querySelector('h1');
    if (first && first.tagName === 'H1') first.tabIndex = -1;
    if (first) first.focus();
  }

  // webauthn converts between the server's JSON forms of WebAuthn options
  // and responses (base64url byte fields: WebAuthn Level 3 §5.1.8–5.1.10,
  // PublicKeyCredentialCreationOptionsJSON, RequestOptionsJSON,
  // RegistrationResponseJSON, AuthenticationResponseJSON) and what
  // navigator.credentials takes and gives. It uses the browser's own
  // parse…FromJSON and toJSON() where they exist (§5.1.8, §5.1.9,
  // §5.1.10) and converts by hand where they do not. Options may come bare
  // or as {publicKey: …}.
  const webauthn = (() => {
    function bytes(s) {
      const str = String(s);
      const bin = atob(str.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(str.length / 4) * 4, '='));
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out.buffer;
    }
    function b64u(buf) {
      if (buf == null) return null;
      const b = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      let s = '';
      for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
      return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    }
    const unwrap = (o) => (o && o.publicKey ? o.publicKey : o);
    const descriptors = (list) => (list || []).map((c) => Object.assign({}, c, { id: bytes(c.id) }));
    function native(name) { return window.PublicKeyCredential && typeof PublicKeyCredential[name] === 'function'; }
    function creationOptions(w) {
      const o = unwrap(w);
      if (native('parseCreationOptionsFromJSON')) return PublicKeyCredential.parseCreationOptionsFromJSON(o);
      const out = Object.assign({}, o, { challenge: bytes(o.challenge), user: Object.assign({}, o.user, { id: bytes(o.user.id) }) });
      if (o.excludeCredentials) out.excludeCredentials = descriptors(o.excludeCredentials);
      return out;
    }
    function requestOptions(w) {
      const o = unwrap(w);
      if (native('parseRequestOptionsFromJSON')) return PublicKeyCredential.parseRequestOptionsFromJSON(o);
      const out = Object.assign({}, o, { challenge: bytes(o.challenge) });
      if (o.allowCredentials) out.allowCredentials = descriptors(o.allowCredentials);
      return out;
    }
    // responseJSON is a credential from create() or get() as JSON.
    function responseJSON(cred) {
      if (typeof cred.toJSON === 'function') return cred.toJSON();
      const r = cred.response;
      const out = {
        id: cred.id, rawId: b64u(cred.rawId), type: cred.type, authenticatorAttachment: cred.authenticatorAttachment || undefined,
        clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      };
      if (r.attestationObject) {
        out.response = { clientDataJSON: b64u(r.clientDataJSON), attestationObject: b64u(r.attestationObject),
          transports: typeof r.getTransports === 'function' ? r.getTransports() : [] };
        if (typeof r.getAuthenticatorData === 'function') out.response.authenticatorData = b64u(r.getAuthenticatorData());
        if (typeof r.getPublicKeyAlgorithm === 'function') out.response.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
        if (typeof r.getPublicKey === 'function' && r.getPublicKey()) out.response.publicKey = b64u(r.getPublicKey());
      } else {
        out.response = { clientDataJSON: b64u(r.clientDataJSON), authenticatorData: b64u(r.authenticatorData),
          signature: b64u(r.signature), userHandle: r.userHandle ? b64u(r.userHandle) : undefined };
      }
      return out;
    }
    const supported = () => !!(window.PublicKeyCredential && navigator.credentials && navigator.credentials.create);
    return { bytes, b64u, creationOptions, requestOptions, responseJSON, supported };
  })();

  return {
    t, has, lang: () => lang, langSwitch, applyLang, fmtTime, fmtDateTime, maskedPhone,
    h, button, wait, fetchJSON, problemText, focusFirst, webauthn,
  };
})();
