// A security key through the privacyIDEA-compatible validate API, as
// privacyIDEA's Keycloak provider and SimpleSAMLphp module use WebAuthn:
// the server-side plugin asks /validate/check for a challenge, the page's
// script (their pi-webauthn.js) converts the webAuthnSignRequest for
// navigator.credentials.get and encodes the assertion back, and the plugin
// posts those fields with the browser's Origin. The conversions below are
// written from privacyIDEA's documentation of that script, including its
// base64 encoder's line breaks ("\r\n" every 76 characters). The key is
// the demo's software key, registered at the kiosk and handed to
// Chromium's virtual authenticator with the same credential.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, ok, browser, totp, waitFor } from './lib.mjs';
import { softkeyPrivateKey, virtualKey } from './entra.mjs';

let g, b, origin;

before(async () => {
  g = await Gateway.demo();
  origin = 'http://localhost:' + g.port; // the demo's WebAuthn origin
  b = await browser({ width: 1024, height: 768 });
});
after(async () => {
  if (b) await b.close();
  if (g) await g.stop();
});


// The Keycloak provider's Java client: a form post, the plain parameters
// URL-encoded once more before the form encoding, the WebAuthn ones not.
const WEBAUTHN = new Set(['credentialid', 'clientdata', 'signaturedata', 'authenticatordata', 'userhandle', 'assertionclientextensions']);
async function validateCheck(params, headers = {}) {
  const body = Object.entries(params)
    .map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(WEBAUTHN.has(k) ? v : encodeURIComponent(v)))
    .join('&');
  const res = await fetch(g.url + '/validate/check', {
    method: 'POST',
    headers: Object.assign({ 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'privacyIDEA-Keycloak/1.5.1 Keycloak/26.1.4' }, headers),
    body,
  });
  const text = await res.text();
  let doc;
  try { doc = JSON.parse(text); } catch { throw new Error('/validate/check answered ' + res.status + ', not JSON: ' + text); }
  assert.equal(res.status, 200, text);
  assert.equal(doc.id, 2, 'id 2 on /validate/check');
  assert.equal(doc.result.status, true, text);
  assert.match(doc.signature, /^rsa_sha256_pss:[0-9a-f]+$/);
  return doc;
}

test('security key: webAuthnSignRequest, navigator.credentials.get in the page, the assertion posted by the plugin, no replay', async () => {
  const user = '0123470001';
  // An authenticator app for the test sign-in; the key registered at the kiosk.
  const app = await ok(await g.call('POST', `/v1/users/${user}/methods`, { kind: 'totp', label: 'app' }), 201, 'add totp');
  await ok(await g.call('POST', `/v1/users/${user}/methods/${app.method.id}/confirm`, { code: totp(app.totp.secret, Date.now() - 30000) }), 200, 'confirm totp');
  await g.enrollKeyAtKiosk(b.ctx, user);
  const c = await ok(await g.call('POST', `/v1/users/${user}/challenges`, { method: app.method.id, purpose: 'test' }), 201, 'test challenge');
  await ok(await g.call('POST', `/v1/challenges/${c.id}/verify`, { code: totp(app.totp.secret) }), 200, 'test verify');
  await ok(await g.call('PUT', `/v1/users/${user}/mfa`, { enabled: true }), 200, 'apply');
  // The demo activates MFA a minute after applying; this build has no
  // clock to move, so wait for it.
  await waitFor('MFA to become active', async () => {
    const u = await g.call('GET', '/v1/users/' + user);
    return u.status === 200 && u.body.mfa.state === 'active';
  }, 90000, 1000);

  const u = await ok(await g.call('GET', '/v1/users/' + user), 200, 'user');
  const key = u.methods.find((m) => m.kind === 'fido' && m.confirmed);
  assert.ok(key, 'the key is registered');
  const reg = await ok(await g.call('GET', `/v1/users/${user}/methods/${key.id}/credential`), 200, 'credential export');
  const credentialID = Buffer.from(reg.rawId || reg.id, 'base64url');
  const pkcs8 = softkeyPrivateKey(g.stateDir, credentialID, 'localhost');

  // The plugin asks for a challenge with an empty pass.
  const ch = await validateCheck({ user, pass: '' });
  assert.equal(ch.result.authentication, 'CHALLENGE', JSON.stringify(ch));
  assert.equal(ch.result.value, false);
  const entries = ch.detail.multi_challenge.filter((e) => e.type === 'webauthn');
  assert.equal(entries.length, 1, 'one webauthn entry: ' + JSON.stringify(ch.detail.multi_challenge));
  const wa = entries[0];
  assert.equal(wa.client_mode, 'webauthn');
  assert.equal(wa.serial, key.id);
  assert.equal(wa.transaction_id, ch.detail.transaction_id);
  assert.equal(wa.attributes.hideResponseInput, true);
  const signRequest = wa.attributes.webAuthnSignRequest;
  assert.ok(signRequest, 'attributes.webAuthnSignRequest');
  assert.equal(signRequest.rpId, 'localhost');
  assert.match(signRequest.challenge, /^[A-Za-z0-9_-]+$/, 'challenge is base64url without padding');
  assert.ok(Number.isInteger(signRequest.timeout) && signRequest.timeout > 0, 'timeout in ms');
  assert.ok(signRequest.allowCredentials.some((c) => c.id === credentialID.toString('base64url') && c.type === 'public-key'),
    'allowCredentials holds the key: ' + JSON.stringify(signRequest.allowCredentials));
  // The app is offered too, in the same transaction.
  assert.ok(ch.detail.multi_challenge.some((e) => e.type === 'totp' && e.client_mode === 'interactive'), 'the app is offered');

  // The login page, under the demo's own origin.
  const page = await b.ctx.newPage();
  await page.route(origin + '/privacyidea-plugin-login', (route) => route.fulfill({
    status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Sign in</title><p>Use your security key</p>',
  }));
  await page.goto(origin + '/privacyidea-plugin-login');
  const vk = await virtualKey(page, { credentialID, rpID: 'localhost', pkcs8, signCount: (reg.sign_count || 0) + 100 });
  const result = await page.evaluate(async (req) => {
    // base64url (padding optional) → ArrayBuffer
    const decode = (s) => {
      const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
      const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out.buffer;
    };
    // bytes → base64 with "\r\n" after every 76 characters, then made
    // URL-safe and unpadded, as the plugins' script sends it.
    const encode = (buf) => {
      const bytes = new Uint8Array(buf);
      let bin = '';
      for (const x of bytes) bin += String.fromCharCode(x);
      const b64 = btoa(bin);
      let lines = '';
      for (let i = 0; i < b64.length; i += 76) lines += (i ? '\r\n' : '') + b64.slice(i, i + 76);
      return lines.replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, '');
    };
    const publicKey = {
      challenge: decode(req.challenge),
      allowCredentials: req.allowCredentials.map((c) => ({ id: decode(c.id), type: c.type, transports: c.transports })),
      rpId: req.rpId,
      userVerification: req.userVerification,
      timeout: req.timeout || 60000,
    };
    const a = await navigator.credentials.get({ publicKey });
    const out = {
      credentialid: a.id,
      clientdata: encode(a.response.clientDataJSON),
      signaturedata: encode(a.response.signature),
      authenticatordata: encode(a.response.authenticatorData),
    };
    if (a.response.userHandle && a.response.userHandle.byteLength) out.userhandle = new TextDecoder().decode(a.response.userHandle);
    return { fields: out, origin: window.origin };
  }, signRequest);
  assert.equal(result.origin, origin);
  assert.equal(result.fields.credentialid, credentialID.toString('base64url'));
  assert.match(result.fields.clientdata, /\r\n/, 'the client data is long enough to carry the encoder\'s line breaks');
  const creds = await vk.credentials();
  assert.ok(creds[0].signCount > (reg.sign_count || 0) + 100, 'the virtual key signed');
  await page.close();

  const answer = Object.assign({ user, pass: '', transaction_id: ch.detail.transaction_id }, result.fields);
  const r = await validateCheck(answer, { Origin: result.origin });
  assert.equal(r.result.authentication, 'ACCEPT', JSON.stringify(r));
  assert.equal(r.result.value, true);
  assert.equal(r.detail.serial, key.id);
  // The same assertion again is refused.
  const again = await validateCheck(answer, { Origin: result.origin });
  assert.equal(again.result.authentication, 'REJECT', JSON.stringify(again));
  assert.equal(again.result.value, false);
});
