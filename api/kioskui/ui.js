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

  return {
    t, has, lang: () => lang, langSwitch, applyLang, fmtTime, maskedPhone,
    h, button, wait, fetchJSON, problemText, focusFirst,
  };
})();
