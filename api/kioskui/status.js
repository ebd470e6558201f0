'use strict';
// Staff status: polls GET /v1/kiosk/status with the token typed in. The
// token is kept in this page's memory only.
(() => {
  const $ = (id) => document.getElementById(id);
  let token = '';
  let timer = 0;
  function item(text, ok) {
    const li = document.createElement('li');
    li.className = ok ? 'ok' : 'bad';
    li.textContent = (ok ? '\u2714 ' : '\u2716 ') + text;
    return li;
  }
  async function refresh() {
    let res;
    try {
      res = await fetch('/v1/kiosk/status', { headers: { Authorization: 'Bearer ' + token } });
    } catch (e) {
      $('err').textContent = 'The gateway does not answer. Check that mfagated is running.';
      return;
    }
    if (!res.ok) {
      const p = await res.json().catch(() => ({}));
      $('err').textContent = res.status === 401 || res.status === 403
        ? 'This token is not accepted (' + (p.detail || res.status) + '). Use an enroll or admin token.'
        : 'Status unavailable: ' + (p.detail || res.status);
      $('out').hidden = true;
      clearInterval(timer);
      return;
    }
    const s = await res.json();
    $('err').textContent = '';
    $('modems').replaceChildren(...(s.modems.length ? s.modems.map((m) => item(m.id + ': ' + m.state, m.up)) : [item('no modems configured: phone methods cannot be delivered', false)]));
    $('keys').replaceChildren(...(s.keys.length ? s.keys.map((k) => item(k.product + (k.pin_set ? ' (PIN set)' : ' (no PIN yet)'), true)) : [item('no security key plugged in', false)]));
    $('outbox').textContent = s.outbox.queued + ' queued, ' + s.outbox.sending + ' sending' +
      (s.outbox.queued ? ', oldest waiting ' + Math.round(s.outbox.oldest_queued_age_seconds) + ' s' : '');
    $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
    $('out').hidden = false;
  }
  $('auth').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token').value.trim();
    clearInterval(timer);
    refresh();
    timer = setInterval(refresh, 5000);
  });
})();
