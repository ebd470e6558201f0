// The External MFA sign-in page, with this test playing Microsoft Entra ID
// (entra.mjs): its id_token_hint POSTed to the gateway's authorize
// endpoint, the user verifying in the browser, and the form_post answer
// checked at the redirect URI against the gateway's published keys.
// Cases: an authenticator app (a wrong code first), SMS, a voice call, a
// security key (the demo key registered at the kiosk, then used by
// Chromium's virtual authenticator with the same credential), the same key
// as a resident credential through "sign in with a passkey", a refusal,
// and an unknown redirect URI. One gateway and one browser; a user each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, ok, browser, shot, totp, assertFits } from './lib.mjs';
import { Entra, verifyIDToken, softkeyPrivateKey, virtualKey } from './entra.mjs';

const CLIENT = 'demo-entra';
let g, b, entra, provider;

before(async () => {
  entra = await Entra.start();
  g = await Gateway.demo(['-demo-hint-issuer', entra.issuer, '-demo-redirect-uri', entra.redirectURI]);
  provider = 'http://localhost:' + g.port; // the demo's issuer and WebAuthn origin
  b = await browser({ width: 1280, height: 900 });
});
after(async () => {
  if (b) await b.close();
  if (g) await g.stop();
  if (entra) await entra.stop();
});

// ---- users set up through the admin API ----
async function addTOTP(user) {
  const r = await ok(await g.call('POST', `/v1/users/${user}/methods`, { kind: 'totp', label: 'app' }), 201, 'add totp');
  const secret = r.totp.secret;
  // The previous time step: the test sign-in and the real one use later ones.
  await ok(await g.call('POST', `/v1/users/${user}/methods/${r.method.id}/confirm`, { code: totp(secret, Date.now() - 30000) }), 200, 'confirm totp');
  return { id: r.method.id, secret };
}
async function addSMSPhone(user, number) {
  const r = await ok(await g.call('POST', `/v1/users/${user}/methods`, { kind: 'phone', slot: 'mobile', phone: number, channel: 'sms', language: 'en' }), 201, 'add phone');
  const code = await g.handsetCode(number, 1);
  await ok(await g.call('POST', `/v1/users/${user}/methods/${r.method.id}/confirm`, { code }), 200, 'confirm phone');
  return r.method.id;
}
async function testSignin(user, method, code) {
  const c = await ok(await g.call('POST', `/v1/users/${user}/challenges`, { method, purpose: 'test' }), 201, 'test challenge');
  const v = await ok(await g.call('POST', `/v1/challenges/${c.id}/verify`, { code: await code() }), 200, 'test verify');
  assert.equal(v.status, 'approved');
}
async function applyMFA(user) {
  const u = await ok(await g.call('PUT', `/v1/users/${user}/mfa`, { enabled: true }), 200, 'apply');
  assert.notEqual(u.mfa.state, 'off');
}
async function phoneUser(user, number) {
  const id = await addSMSPhone(user, number);
  await testSignin(user, id, () => g.handsetCode(number, 2));
  await applyMFA(user);
  return id;
}

// ---- Entra's side ----
// startSignin makes the browser POST Entra's request and waits for the
// sign-in page (the gateway answers the POST with 303 to it).
async function startSignin(page, user, opts) {
  const r = entra.request(provider + '/oidc/authorize', CLIENT, user, opts);
  await page.goto(r.url);
  await page.click('#go');
  return r;
}
async function signinPage(page) {
  await page.waitForURL(/\/oidc\/flows\/[^/]+\/(\?.*)?$/);
  await page.locator('#main[data-view=method], #main[data-view=refused]').waitFor();
}
async function idToken(page, r, amr) {
  await page.locator('#callback').waitFor();
  const a = await entra.answer(r.state);
  assert.equal(a.contentType, 'application/x-www-form-urlencoded');
  assert.equal(a.fields.state, r.state, 'state echoed');
  assert.ok(a.fields.id_token, 'an id_token, not ' + a.fields.error + ': ' + a.fields.error_description);
  return verifyIDToken(provider, a.fields.id_token, { aud: CLIENT, hint: r.hint, nonce: r.nonce, amr });
}

test('authenticator app: a wrong code says the tries left, then the id_token says otp', async () => {
  const user = '0123450001';
  const app = await addTOTP(user);
  await testSignin(user, app.id, async () => totp(app.secret));
  await applyMFA(user);

  const page = await b.ctx.newPage();
  const r = await startSignin(page, user);
  await signinPage(page);
  // Japanese first; the default method's prompt with a sized code field.
  assert.match(await page.locator('#prompt').innerText(), /認証アプリに表示されているコード/);
  const code = page.locator('#code');
  assert.equal(await code.getAttribute('maxlength'), '6');
  assert.equal(await code.getAttribute('inputmode'), 'numeric');
  assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'code', 'focus starts in the code field');
  assert.match(await page.locator('label[for=code]').innerText(), /6 桁/);
  assert.match(await page.locator('#foot').innerText(), /0123450001/);
  await assertFits(page);
  await shot(page, '41-oidc-totp-ja');

  const right = totp(app.secret, Date.now() + 30000);
  const wrong = right === '000000' ? '111111' : '000000';
  await page.keyboard.type(wrong);
  await page.keyboard.press('Enter');
  await page.locator('#msg.error', { hasText: '残り 4 回' }).waitFor();
  // The language switch keeps the page's state: the same method, the message.
  await page.fill('#code', right.slice(0, 3));
  await page.click('#lang');
  await page.locator('#prompt', { hasText: 'Enter the code from your authenticator app' }).waitFor();
  assert.equal(await page.inputValue('#code'), right.slice(0, 3));
  assert.match(new URL(page.url()).search, /lang=en/);
  await shot(page, '42-oidc-totp-wrong-code-en');
  await page.fill('#code', right);
  await page.press('#code', 'Enter');
  const claims = await idToken(page, r, 'otp');
  assert.equal(claims.aud, CLIENT);
  await page.close();
});

test('SMS: the code from the handset, the id_token says sms', async () => {
  const user = '0123450002';
  const number = '090-4100-0002';
  await phoneUser(user, number);
  const page = await b.ctx.newPage();
  const r = await startSignin(page, user);
  await signinPage(page);
  const start = page.locator('#start');
  assert.match(await start.innerText(), /\+81 .*0002 に SMS を送信/);
  assert.doesNotMatch(await page.locator('main').innerText(), /4100/, 'the number is masked');
  await start.click();
  await page.locator('#wait', { hasText: /送信しました|届きました/ }).waitFor();
  assert.equal(await page.locator('#wait').getAttribute('aria-live'), 'polite');
  const code = await g.handsetCode(number, 3);
  assert.doesNotMatch(await page.locator('main').innerText(), new RegExp(code), 'the page never shows the code');
  await shot(page, '43-oidc-sms-sent');
  await page.fill('#code', code);
  await page.press('#code', 'Enter');
  await idToken(page, r, 'sms');
  await page.close();
});

test('voice: another option of the mobile phone, two digits keyed in, the id_token says tel', async () => {
  const user = '0123450003';
  const number = '090-4100-0003';
  await phoneUser(user, number);
  const page = await b.ctx.newPage();
  const r = await startSignin(page, user);
  await signinPage(page);
  await page.click('#lang');
  // Keyboard: the other options, then the call.
  await page.locator('#other-option').focus();
  await page.keyboard.press('Enter');
  await page.locator('#options').waitFor();
  const opts = await page.locator('#options button').allInnerTexts();
  assert.equal(opts.length, 2, 'SMS and a call for a mobile phone: ' + opts.join(' | '));
  await shot(page, '44-oidc-other-options');
  await page.locator('#options button[data-kind=phone-voice]').click();
  await page.locator('#start', { hasText: /^Call \+81/ }).click();
  const match = page.locator('#match');
  await match.waitFor();
  const digits = (await match.innerText()).replace(/\D/g, '');
  assert.match(digits, /^\d{2}$/);
  await page.locator('#wait', { hasText: 'Answered' }).waitFor();
  await shot(page, '45-oidc-voice-number-match');
  await g.pressKeys(number, digits + '#');
  await idToken(page, r, 'tel');
  await page.close();
});

// keyUser is the user whose security key is the demo's software key,
// registered at the kiosk through libfido2 (once: the key's PIN is set
// then), with its exported credential ID and private key.
let keyUserOnce = null;
function keyUser() {
  keyUserOnce ||= (async () => {
    const user = '0123450004';
    const app = await addTOTP(user);
    await g.enrollKeyAtKiosk(b.ctx, user);
    await testSignin(user, app.id, async () => totp(app.secret));
    await applyMFA(user);
    const u = await ok(await g.call('GET', '/v1/users/' + user), 200, 'user');
    const key = u.methods.find((m) => m.kind === 'fido' && m.confirmed);
    assert.ok(key, 'the key is registered');
    const reg = await ok(await g.call('GET', `/v1/users/${user}/methods/${key.id}/credential`), 200, 'credential export');
    const credentialID = Buffer.from(reg.rawId || reg.id, 'base64url');
    return { user, key, reg, credentialID, pkcs8: softkeyPrivateKey(g.stateDir, credentialID, 'localhost') };
  })();
  return keyUserOnce;
}

test('security key: registered at the kiosk, used by the browser, the id_token says fido', async () => {
  const { user, reg, credentialID, pkcs8 } = await keyUser();

  const page = await b.ctx.newPage();
  const r = await startSignin(page, user);
  await signinPage(page);
  const vk = await virtualKey(page, { credentialID, rpID: 'localhost', pkcs8, signCount: (reg.sign_count || 0) + 100 });
  // The default is the app; the key is another option.
  await page.click('#other-option');
  await page.locator('#options button[data-kind=fido]').click();
  await page.locator('#start', { hasText: 'セキュリティキーを使う' }).click();
  await idToken(page, r, 'fido');
  const creds = await vk.credentials();
  assert.equal(creds.length, 1);
  assert.ok(creds[0].signCount > (reg.sign_count || 0) + 100, 'the virtual key signed');
  await page.close();
});

// "Sign in with a passkey": a challenge any of the user's keys answers,
// its request options naming no credential, so only a discoverable
// (resident) credential can answer it. Chromium's virtual authenticator
// holds the kiosk key's credential as a resident one, with the user
// handle the registration used (the user ID's bytes).
test('passkey: one option for all keys, a resident credential answers, the id_token says fido', async () => {
  const { user, key, credentialID, pkcs8 } = await keyUser();
  const before = (await ok(await g.call('GET', '/v1/users/' + user), 200, 'user')).methods.find((m) => m.id === key.id);

  const page = await b.ctx.newPage();
  const r = await startSignin(page, user);
  await signinPage(page);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
  } });
  await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: {
    credentialId: credentialID.toString('base64'), isResidentCredential: true, rpId: 'localhost',
    privateKey: Buffer.from(pkcs8).toString('base64'), userHandle: Buffer.from(user).toString('base64'),
    signCount: (before.sign_count || 0) + 100,
  } });

  await page.click('#other-option');
  const options = page.locator('#options button');
  assert.equal(await page.locator('#options button[data-kind=passkey]').count(), 1, 'one passkey option');
  assert.equal(await options.first().getAttribute('data-kind'), 'passkey', 'the passkey option comes first');
  await page.locator('#options button[data-kind=passkey]', { hasText: 'パスキーでサインイン' }).click();
  await page.locator('[data-option=passkey] .hint', { hasText: 'どれでも使えます' }).waitFor();
  await assertFits(page);
  await shot(page, '48-oidc-passkey');
  // The virtual authenticator answers at once and the page posts its
  // form, so the challenge's body is read on its way to the page (a
  // response the page has navigated away from has none left to read).
  let ch;
  await page.route((url) => url.pathname.endsWith('/api/challenges'), async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    const res = await route.fetch();
    ch = await res.json();
    await route.fulfill({ response: res, json: ch });
  });
  await page.locator('#start', { hasText: 'パスキーを使う' }).click();
  await idToken(page, r, 'fido');
  assert.ok(ch, 'the page created a challenge');
  assert.equal(ch.kind, 'fido');
  assert.equal(ch.method, '', 'no key named before one answers');
  assert.deepEqual(ch.webauthn.publicKey.allowCredentials, [], 'the request options allow any credential');

  const creds = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  assert.equal(creds.length, 1);
  assert.ok(creds[0].signCount > (before.sign_count || 0) + 100, 'the resident credential signed');
  const after = (await ok(await g.call('GET', '/v1/users/' + user), 200, 'user')).methods.find((m) => m.id === key.id);
  assert.ok(after.last_used_at && (!before.last_used_at || after.last_used_at >= before.last_used_at), 'the key\'s last use is recorded: ' + JSON.stringify(after));
  assert.ok(after.sign_count > (before.sign_count || 0) + 100, 'the stored counter moved on');
  const ev = await ok(await g.call('GET', '/v1/audit?user=' + user), 200, 'audit');
  const approval = ev.find((e) => e.type === 'challenge_approved' && e.challenge === ch.id);
  assert.equal(approval && approval.method, key.id, 'the approval names the key that answered');
  await page.close();
});

test('refusal: a user without MFA sees why, and Return answers access_denied', async () => {
  const user = '0123450005';
  const page = await b.ctx.newPage();
  const r = await startSignin(page, user);
  await signinPage(page);
  const refused = page.locator('#refused');
  assert.equal(await refused.getAttribute('data-code'), 'mfa_off');
  assert.match(await page.locator('#refusal').innerText(), /多要素認証（MFA）が有効になっていない/);
  assert.equal(await page.locator('main input').count(), 0, 'nothing to verify with');
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus on the explanation');
  await page.click('#lang');
  await page.locator('#refusal', { hasText: 'not turned on' }).waitFor();
  await assertFits(page);
  await shot(page, '46-oidc-refused-mfa-off');
  await page.click('#return');
  await page.locator('#callback').waitFor();
  const a = await entra.answer(r.state);
  assert.equal(a.fields.error, 'access_denied');
  assert.ok(a.fields.error_description, 'error_description');
  assert.equal(a.fields.state, r.state);
  assert.equal(a.fields.id_token, undefined);
  await page.close();
});

test('an unknown redirect_uri gets the plain error page, never the callback', async () => {
  const page = await b.ctx.newPage();
  const r = await startSignin(page, '0123450006', { redirectURI: entra.origin + '/federation/elsewhere' });
  const err = page.locator('#error');
  await err.waitFor();
  assert.equal(await page.locator('#error-code').innerText(), 'invalid_redirect_uri');
  assert.match(await page.locator('#error-reason').innerText(), /戻り先のアドレス/);
  await page.click('#lang');
  await page.locator('#error-reason', { hasText: 'not registered for this application' }).waitFor();
  await shot(page, '47-oidc-unknown-redirect-uri');
  assert.equal(entra.answers.filter((a) => a.fields.state === r.state).length, 0, 'nothing reached the redirect URI');
  await page.close();
});
