'use strict';
// The sign-in error page (signin-error.html, rendered by the server with
// the error's code and English detail): a request whose redirect URI
// cannot be trusted, so nothing is sent back. It explains the known codes
// in the page's language; the English detail stays for the help desk.
(() => {
  const { t } = UI;
  const main = document.getElementById('main');
  const code = main.dataset.code || '';
  // unauthorized_client is the OAuth code for an unknown client_id.
  const known = { unknown_client: 'unknown_client', unauthorized_client: 'unknown_client', invalid_redirect_uri: 'invalid_redirect_uri',
    invalid_request: 'invalid_request', invalid_hint: 'invalid_hint' }[code] || 'generic';
  // The finish form's errors: the flow itself has ended.
  const flow = ['unknown_flow', 'flow_binding', 'csrf', 'flow_answered', 'flow_expired'].includes(code);
  function render() {
    UI.applyLang(t('signin.errorTitle'));
    document.getElementById('title').textContent = t('signin.brand');
    document.getElementById('error-title').textContent = t('signin.errorTitle');
    document.getElementById('error-text').replaceChildren(
      UI.h('span', { id: 'error-reason', text: flow ? t('signin.gone.' + code) : t('signin.error.' + known) }), ' ', t('signin.errorAgain'));
    document.getElementById('error-detail-label').textContent = t('signin.errorDetail');
  }
  document.getElementById('lang').hidden = false;
  UI.langSwitch(render);
  render();
})();
