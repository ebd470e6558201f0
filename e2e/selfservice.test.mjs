// The Security info page (/me) for a person on their own device, reached
// through a one-time link that the test creates with the demo's admin
// token, as an identity provider would. Chromium's virtual authenticator
// (DevTools WebAuthn domain) makes and uses a real passkey; the demo's
// handsets receive the SMS; the admin API and the authenticator's own
// credential list check what the page did, independently of the page.
// The demo applies MFA with a one-minute delay and keeps sessions for 15
// minutes: the test restarts the daemon with its clock ahead
// (MFAGATED_E2E_CLOCK_OFFSET, honoured by the e2e build) instead of
// waiting; sessions live in the store, so they survive the restart. The
// last case runs the daemon from a configuration with OpenID Connect
// sign-in on and links off, with the Entra stand-in as the provider.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Gateway, ok, browser, shot, totp, assertFits, passkeyAuthenticator } from './lib.mjs';
import { Entra } from './entra.mjs';

let g, desk, phone;

before(async () => {
  g = await Gateway.demo();
  desk = await browser({ width: 1280, height: 900 });
  phone = await browser({ width: 390, height: 844 });
});
after(async () => {
  if (desk) await desk.close();
  if (phone) await phone.close();
  if (g) await g.stop();
});

// ---- helpers ----
const userOf = async (user) => ok(await g.call('GET', '/v1/users/' + user), 200, 'user ' + user);

async function openLink(page, user) {
  const link = await g.selfserviceLink(user);
  assert.match(link.url, /^\/me\/link\/[A-Za-z0-9_-]{22,}$/, 'a link with a long random token');
  await page.goto(link.href);
  await page.waitForURL(/\/me(\?.*)?$/);
  await page.locator('#main[data-view=home]').waitFor();
  return link;
}
const success = (page, re) => page.locator('#msg.success', { hasText: re }).waitFor({ timeout: 30000 });
const activeID = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);
const activeTag = (page) => page.evaluate(() => document.activeElement && document.activeElement.tagName);

// raw calls a /me/api route from the page, as its own script would, with
// exactly the headers given (the session cookie goes along).
function raw(page, method, path, body, headers) {
  return page.evaluate(async ([method, path, body, headers]) => {
    const res = await fetch(path, { method, headers: Object.assign(body ? { 'Content-Type': 'application/json' } : {}, headers || {}),
      body: body ? JSON.stringify(body) : undefined, credentials: 'same-origin' });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }, [method, path, body, headers]);
}
async function csrf(page) {
  const r = await raw(page, 'GET', '/me/api/state');
  assert.equal(r.status, 200, 'state: ' + JSON.stringify(r.body));
  assert.ok(r.body.csrf, 'the state carries a CSRF token');
  return r.body.csrf;
}
const ids = (u) => u.methods.map((m) => m.id).sort();

test('a one-time link: an app, a phone and a passkey made in the browser, MFA, then a phone replaced with a proof', async () => {
  const user = '0123460001';
  const oldNumber = '090-4200-0101';
  const newNumber = '080-4200-0102';
  const page = await desk.ctx.newPage();
  const vk = await passkeyAuthenticator(page);
  await openLink(page, user);

  // Japanese first, nothing registered, focus on the heading.
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'ja');
  assert.match(await page.locator('#me-title').innerText(), /セキュリティ情報/);
  assert.match(await page.locator('#methods').innerText(), /まだ認証方法が登録されていません/);
  assert.equal(await activeID(page), 'me-title');
  assert.match(await page.locator('#foot').innerText(), /0123460001/);
  assert.match(await page.locator('#reminders').innerText(), /古いものがまだ使えるうちに/);

  // An authenticator app, confirmed with a code from the test's own TOTP.
  await page.click('#add-method');
  await page.click('#choose-totp');
  const secret = (await page.locator('#secret').innerText()).replace(/\s/g, '');
  assert.equal(await activeID(page), 'code', 'focus in the code field');
  await page.keyboard.type(totp(secret));
  await page.keyboard.press('Enter');
  await success(page, /認証アプリ を登録しました/);
  assert.match(await page.locator('#single-warning').innerText(), /認証方法が 1 つしかありません/);
  let u = await userOf(user);
  const app = u.methods.find((m) => m.kind === 'totp');
  assert.ok(app && app.confirmed && app.default, 'the app is confirmed and the default');

  // A mobile phone, confirmed with the code the demo handset received.
  await page.click('#add-method');
  await page.click('#choose-phone');
  assert.deepEqual(await page.locator('input[name=slot]').evaluateAll((es) => es.map((e) => e.value)), ['mobile', 'alternate', 'office']);
  await page.fill('#number', oldNumber);
  await page.click('#phonesubmit');
  await page.locator('#main[data-view=sms]').waitFor();
  await page.fill('#code', await g.handsetCode(oldNumber, 1));
  await page.press('#code', 'Enter');
  await success(page, /携帯電話 .*0101.* を登録しました/);
  assert.equal(await page.locator('#single-warning').count(), 0, 'no single-method warning with two methods');
  u = await userOf(user);
  const oldPhone = u.methods.find((m) => m.kind === 'phone');
  assert.ok(oldPhone && oldPhone.confirmed && oldPhone.slot === 'mobile');
  assert.doesNotMatch(await page.locator('main').innerText(), /4200/, 'numbers are masked');

  // A passkey, made by Chromium's authenticator from the page's options.
  await page.click('#add-method');
  await page.click('#choose-fido');
  await page.fill('#passkey-label', 'Work laptop');
  await page.click('#passkey-create');
  await success(page, /を登録しました/);
  const creds = await vk.credentials();
  assert.equal(creds.length, 1, 'the authenticator holds one credential');
  assert.equal(creds[0].isResidentCredential, true, 'a discoverable credential (passkey)');
  assert.equal(creds[0].rpId, 'localhost');
  assert.equal(Buffer.from(creds[0].userHandle, 'base64').toString(), user, 'user handle = the user ID bytes');
  u = await userOf(user);
  const key = u.methods.find((m) => m.kind === 'fido');
  assert.ok(key && key.confirmed, 'the API lists a confirmed fido method');
  assert.equal(key.label, 'Work laptop');
  assert.equal(key.default, false);
  const exported = await ok(await g.call('GET', `/v1/users/${user}/methods/${key.id}/credential`), 200, 'credential export');
  assert.deepEqual(Buffer.from(exported.rawId || exported.id, 'base64url'), Buffer.from(creds[0].credentialId, 'base64'), 'the same credential');
  const row = page.locator('#m-' + key.id);
  assert.match(await row.innerText(), /Work laptop/);
  assert.equal(await page.locator('#default-' + key.id).count(), 0, 'a passkey cannot be made the default');
  await row.scrollIntoViewIfNeeded();
  await shot(page, '64-me-passkey-added');

  // Try signing in with it: a test challenge answered by navigator.credentials.get.
  // Without the browser's JSON helpers, the page converts by hand.
  await page.evaluate(() => { delete PublicKeyCredential.parseRequestOptionsFromJSON; delete PublicKeyCredential.prototype.toJSON; });
  await page.click('#test-' + key.id);
  await success(page, /成功しました。パスキー・セキュリティキー .*でサインインできます/);
  const used = (await vk.credentials())[0];
  assert.ok(used.signCount > creds[0].signCount, 'the authenticator signed');
  u = await userOf(user);
  assert.ok(u.methods.find((m) => m.id === key.id).last_used_at, 'the key has a last use');
  assert.match(await page.locator('#m-' + key.id).innerText(), /最終使用/);

  // Apply for MFA.
  await page.click('#apply');
  await page.locator('#mfa-state[data-state=pending]').waitFor();
  assert.equal(await activeID(page), 'mfa-state', 'focus on the new state');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, '62-me-desktop-ja');
  await page.click('#lang');
  await page.locator('#me-title', { hasText: 'Security info' }).waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, '63-me-desktop-en');

  // MFA becomes active: the daemon comes back with its clock ahead of the
  // one-minute activation delay; the session (kept in the store) goes on.
  await g.restart({ MFAGATED_E2E_CLOCK_OFFSET: '3m' });
  await page.reload();
  await page.locator('#mfa-state[data-state=active]').waitFor();
  assert.equal((await userOf(user)).mfa.state, 'active');

  // Without a proof, a change is refused and nothing changes.
  const token = await csrf(page);
  const before = await userOf(user);
  let r = await raw(page, 'POST', '/me/api/methods', { kind: 'phone', slot: 'alternate', phone: newNumber, channel: 'sms', language: 'en' }, { 'X-CSRF-Token': token });
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.code, 'proof_required');
  r = await raw(page, 'DELETE', '/me/api/methods/' + oldPhone.id, null, { 'X-CSRF-Token': token });
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.code, 'proof_required');
  assert.deepEqual(ids(await userOf(user)), ids(before), 'no method added or removed');
  assert.equal(await g.handsetMessages(newNumber), 0, 'nothing was sent to the new phone');

  // Replace the phone as the guide says: the new one first, verified with
  // the old one, then the old one deleted.
  await page.click('#add-method');
  await page.click('#choose-phone');
  assert.deepEqual(await page.locator('input[name=slot]').evaluateAll((es) => es.map((e) => e.value)), ['alternate', 'office'], 'only free slots');
  await page.fill('#number', newNumber);
  await page.click('#phonesubmit');
  await page.locator('#proof').waitFor();
  assert.equal(await activeTag(page), 'H1');
  assert.match(await page.locator('#proof').innerText(), /MFA is on for your account, so changing your methods needs a verification/);
  const offered = await page.locator('#proof-methods button').evaluateAll((bs) => bs.map((b) => b.id));
  assert.deepEqual(offered.sort(), [app.id, oldPhone.id, key.id].map((id) => 'proof-' + id).sort(), 'every confirmed method may prove');
  assert.equal(await g.handsetMessages(newNumber), 0, 'still nothing sent to the new phone');
  await shot(page, '65-me-proof-en');
  const sent = await g.handsetMessages(oldNumber);
  await page.click('#proof-' + oldPhone.id);
  await page.locator('#main[data-view=verify] #code').waitFor();
  await page.fill('#code', await g.handsetCode(oldNumber, sent + 1));
  await page.press('#code', 'Enter');
  // The proof approved, the page adds the phone again with it.
  await page.locator('#main[data-view=sms]').waitFor();
  await page.fill('#code', await g.handsetCode(newNumber, 1));
  await page.press('#code', 'Enter');
  await success(page, /Alternate phone .*0102.* is registered/);
  await page.click('#remove-' + oldPhone.id);
  await page.locator('#remove-text', { hasText: /0101/ }).waitFor();
  await page.click('#remove-confirm');
  await success(page, /was deleted/);
  u = await userOf(user);
  assert.equal(u.methods.find((m) => m.id === oldPhone.id), undefined, 'the old phone is gone');
  const newPhone = u.methods.find((m) => m.kind === 'phone');
  assert.ok(newPhone && newPhone.confirmed && newPhone.slot === 'alternate' && newPhone.phone.endsWith('0102'), JSON.stringify(newPhone));
  const audit = await ok(await g.call('GET', '/v1/audit?user=' + user + '&limit=200'), 200, 'audit');
  const events = audit.events || audit;
  assert.ok(events.some((e) => e.type === 'method_removed' && e.method === oldPhone.id && e.actor === 'self:' + user), 'removal audited as self:<user>');

  // A change without the CSRF header (or with a wrong one) is refused.
  const def = (await userOf(user)).default_method;
  for (const headers of [{}, { 'X-CSRF-Token': token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA') }]) {
    r = await raw(page, 'PUT', '/me/api/default-method', { method: newPhone.id }, headers);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.code, 'csrf');
  }
  assert.equal((await userOf(user)).default_method, def, 'the default did not change');

  // Sign out ends the session: the page says so, the API refuses it.
  await page.click('#signout');
  await page.locator('#signedout').waitFor();
  assert.match(await page.locator('#signedout-reason').innerText(), /You signed out/);
  await page.locator('#ask-link').waitFor();
  r = await raw(page, 'GET', '/me/api/state');
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'no_session');
  await page.reload();
  await page.locator('#signedout').waitFor();
  await page.close();
});

test('a link works once; without a session the page says how to get back in', async () => {
  const user = '0123460002';
  await phone.ctx.clearCookies();
  const page = await phone.ctx.newPage();
  // No session at all.
  await page.goto(g.origin + '/me');
  await page.locator('#signedout').waitFor();
  assert.match(await page.locator('#signedout-reason').innerText(), /サインインしないまま/);
  await page.locator('#ask-link').waitFor(); // links, no identity provider sign-in in the demo
  assert.equal(await page.locator('#signin').count(), 0);
  assert.equal(await page.locator('main button:not(#lang), main input').count(), 0, 'nothing to change without a session');
  await assertFits(page);
  await shot(page, '66-me-signed-out');

  const link = await openLink(page, user);
  await phone.ctx.clearCookies();
  const res = await page.goto(link.href);
  assert.equal(res.status(), 410, 'a used link is gone');
  assert.equal(await page.locator('#error-code').innerText(), 'link_used');
  assert.match(await page.locator('main').innerText(), /使用済み/);
  assert.match(await page.locator('main').innerText(), /already been used/);
  await shot(page, '67-me-link-used');
  // It made no session.
  await page.goto(g.origin + '/me');
  await page.locator('#signedout').waitFor();
  const unknown = await page.goto(g.origin + '/me/link/' + 'A'.repeat(43));
  assert.equal(unknown.status(), 404);

  // A session that ends while the page is open: the next action says so.
  // The daemon comes back with its clock past the session's 15 minutes.
  await openLink(page, user);
  await g.restart({ MFAGATED_E2E_CLOCK_OFFSET: '25m' });
  await page.click('#add-method');
  await page.click('#choose-totp');
  await page.locator('#signedout').waitFor();
  assert.match(await page.locator('#signedout-reason').innerText(), /利用時間が過ぎたか/);
  await page.locator('#ask-link').waitFor();
  assert.equal((await userOf(user)).methods.length, 0, 'nothing was added');
  await page.close();
});

test('on a phone: Japanese and English, errors in words, keyboard only', async () => {
  const user = '0123460003';
  const number = '090-4200-0301';
  // An app and a mobile phone, set up through the admin API.
  const a = await ok(await g.call('POST', `/v1/users/${user}/methods`, { kind: 'totp', label: '' }), 201, 'add totp');
  await ok(await g.call('POST', `/v1/users/${user}/methods/${a.method.id}/confirm`, { code: totp(a.totp.secret, g.now() - 30000) }), 200, 'confirm totp');
  const p = await ok(await g.call('POST', `/v1/users/${user}/methods`, { kind: 'phone', slot: 'mobile', phone: number, channel: 'sms', language: 'ja' }), 201, 'add phone');
  await ok(await g.call('POST', `/v1/users/${user}/methods/${p.method.id}/confirm`, { code: await g.handsetCode(number, 1) }), 200, 'confirm phone');
  const appID = a.method.id;
  const phoneID = p.method.id;

  await phone.ctx.clearCookies();
  const page = await phone.ctx.newPage();
  await openLink(page, user);
  assert.match(await page.locator('#default-line').innerText(), /既定のサインイン方法：認証アプリ/);
  assert.match(await page.locator('#m-' + phoneID).innerText(), /\+81 .*0301/);
  assert.match(await page.locator('#m-' + phoneID).innerText(), /まだ使用していません/);
  await assertFits(page);
  await shot(page, '60-me-phone-ja');

  // The language switch, by keyboard.
  await page.locator('#lang').focus();
  await page.keyboard.press('Enter');
  await page.locator('#me-title', { hasText: 'Security info' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.match(new URL(page.url()).search, /lang=en/);
  await assertFits(page);
  await shot(page, '61-me-phone-en');

  // Rename the app.
  await page.locator('#rename-' + appID).focus();
  await page.keyboard.press('Enter');
  await page.locator('#rename-label').waitFor();
  assert.equal(await activeID(page), 'rename-label');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Pixel 8');
  await page.keyboard.press('Enter');
  await success(page, /now called “Pixel 8”/);
  assert.equal((await userOf(user)).methods.find((m) => m.id === appID).label, 'Pixel 8');
  assert.match(await page.locator('#m-' + appID).innerText(), /Pixel 8/);

  // The phone becomes the default.
  await page.locator('#default-' + phoneID).focus();
  await page.keyboard.press('Enter');
  await success(page, /Your default method is now Mobile phone/);
  assert.equal((await userOf(user)).default_method, phoneID);
  assert.equal(await page.locator('#m-' + phoneID).getAttribute('data-default'), 'true');

  // A bad number: the error in words, focus on it, nothing registered.
  const before = await userOf(user);
  await page.locator('#add-method').focus();
  await page.keyboard.press('Enter');
  await page.locator('#choose-phone').focus();
  await page.keyboard.press('Enter');
  await page.locator('#number').waitFor();
  await page.keyboard.type('12');
  await page.locator('#phonesubmit').focus();
  await page.keyboard.press('Enter');
  await page.locator('#msg.error', { hasText: 'not a valid phone number' }).waitFor();
  assert.equal(await activeID(page), 'msg', 'focus on the error');
  assert.equal(await page.locator('#msg').getAttribute('role'), 'alert');
  assert.deepEqual(ids(await userOf(user)), ids(before));
  await assertFits(page);
  await page.locator('#back').focus();
  await page.keyboard.press('Enter');
  await page.locator('#back').focus();
  await page.keyboard.press('Enter');
  await page.locator('#main[data-view=home]').waitFor();

  // Delete the app: asked first; Cancel keeps it; Delete removes it.
  await page.locator('#remove-' + appID).focus();
  await page.keyboard.press('Enter');
  await page.locator('#remove-confirm').waitFor();
  await page.locator('#cancel').focus();
  await page.keyboard.press('Enter');
  await page.locator('#main[data-view=home]').waitFor();
  assert.ok((await userOf(user)).methods.some((m) => m.id === appID), 'Cancel kept the app');
  await page.locator('#remove-' + appID).focus();
  await page.keyboard.press('Enter');
  await page.locator('#remove-confirm').focus();
  await page.keyboard.press('Enter');
  await success(page, /Pixel 8 was deleted/);
  assert.equal((await userOf(user)).methods.some((m) => m.id === appID), false);
  await page.locator('#single-warning').waitFor();
  await assertFits(page);

  // A passkey again, now without the browser's JSON helpers: the page
  // converts the options and the credential by hand.
  const vk = await passkeyAuthenticator(page);
  await page.evaluate(() => { delete PublicKeyCredential.parseCreationOptionsFromJSON; delete PublicKeyCredential.prototype.toJSON; });
  await page.locator('#add-method').focus();
  await page.keyboard.press('Enter');
  await page.locator('#choose-fido').focus();
  await page.keyboard.press('Enter');
  await page.locator('#passkey-label').waitFor();
  assert.equal(await activeID(page), 'passkey-label');
  await page.keyboard.type('Phone passkey');
  await page.keyboard.press('Enter');
  await success(page, /Phone passkey is registered/);
  const creds = await vk.credentials();
  assert.equal(creds.length, 1);
  assert.equal(creds[0].isResidentCredential, true);
  const key = (await userOf(user)).methods.find((m) => m.kind === 'fido');
  assert.ok(key && key.confirmed && key.label === 'Phone passkey', JSON.stringify(key));
  assert.equal(await page.locator('#single-warning').count(), 0);
  await assertFits(page);
  await page.close();
});

test('with sign-in through the identity provider: the signed-out page offers Sign in, which starts the code flow', async () => {
  // The Entra stand-in as the OpenID provider: its discovery document
  // names an authorization endpoint; the test stops where it would answer.
  const op = await Entra.start();
  const dir = mkdtempSync(join(tmpdir(), 'mfagate-e2e-oidc-'));
  const secretFile = join(dir, 'client.secret');
  writeFileSync(secretFile, randomBytes(24).toString('hex') + '\n', { mode: 0o600 });
  const gw = await Gateway.withConfig('', ['[selfservice]', `oidc_issuer = "${op.issuer}"`, 'client_id = "mfagate-me"',
    `client_secret_file = "${secretFile}"`, 'links = false', ''].join('\n'));
  try {
    await desk.ctx.clearCookies();
    const page = await desk.ctx.newPage();
    await page.goto(gw.url + '/me?lang=en');
    await page.locator('#signedout').waitFor();
    const signin = page.locator('#signin');
    await signin.waitFor();
    assert.equal(await page.locator('#ask-link').count(), 0, 'no link advice when sign-in is on and links are off');
    assert.match(await page.locator('#signedout').innerText(), /Sign in with your organisation/);
    const authorize = op.origin + '/' + op.tenant + '/oauth2/v2.0/authorize';
    const [req] = await Promise.all([page.waitForRequest((r) => r.url().startsWith(authorize)), signin.click()]);
    const q = new URL(req.url()).searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), 'mfagate-me');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge') || '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok(q.get('state') && q.get('nonce'), 'state and nonce');
    assert.equal(q.get('redirect_uri'), 'http://localhost/me/callback');
    assert.ok((q.get('scope') || '').split(' ').includes('openid'));
    // Links are off: none can be made.
    const r = await gw.call('POST', '/v1/users/0123460004/selfservice-links', {});
    assert.notEqual(r.status, 201, 'no link without links = true');
    await page.close();
  } finally {
    await gw.stop();
    await op.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
