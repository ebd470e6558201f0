// The help-desk console's staff sign-in through an OpenID provider
// ([console] oidc_issuer; the provider is the test's own, lib.mjs's
// OpenIDProvider). A help-desk member (group "helpdesk") signs in through
// the provider by keyboard, finds a person and issues a Temporary Access
// Pass; the admin parts are not offered and the server refuses an admin
// action from that session with 403, changing nothing. An administrator
// (group "mfa-admins") signs in and terminates MFA with a reason; the
// console's audit history shows both actions as staff:<name>, and the
// termination's reason with the client address. Someone in neither group
// is refused with a page saying so. Screenshots of the sign-in page on a
// phone and a desktop, in Japanese and English.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Gateway, OpenIDProvider, ok, browser, shot, totp, assertFits } from './lib.mjs';

let g, op, desk, phone, dir;

before(async () => {
  const secret = randomBytes(24).toString('hex');
  op = await OpenIDProvider.start('mfagate-console', secret);
  dir = mkdtempSync(join(tmpdir(), 'mfagate-e2e-console-'));
  const secretFile = join(dir, 'console.secret');
  writeFileSync(secretFile, secret + '\n', { mode: 0o600 });
  g = await Gateway.withConfig('', (url) => ['[console]', `oidc_issuer = "${op.issuer}"`, 'client_id = "mfagate-console"',
    `client_secret_file = "${secretFile}"`, `redirect_uri = "${url}/console/callback"`,
    'helpdesk_group = "helpdesk"', 'admin_group = "mfa-admins"', ''].join('\n'));
  desk = await browser({ width: 1280, height: 900 });
  phone = await browser({ width: 390, height: 844 });
});
after(async () => {
  if (desk) await desk.close();
  if (phone) await phone.close();
  if (g) await g.stop();
  if (op) await op.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const activeID = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);

// A user with a confirmed authenticator app, a test sign-in and MFA
// applied, set up with the gateway's enroll token.
async function userWithApp(user) {
  const add = await ok(await g.call('POST', `/v1/users/${user}/methods`, { kind: 'totp', label: 'old phone' }), 201, 'add app');
  const secret = add.totp.secret;
  await ok(await g.call('POST', `/v1/users/${user}/methods/${add.method.id}/confirm`, { code: totp(secret) }), 200, 'confirm');
  const ch = await ok(await g.call('POST', `/v1/users/${user}/challenges`, { method: add.method.id, purpose: 'test' }), 201, 'test challenge');
  await ok(await g.call('POST', `/v1/challenges/${ch.id}/verify`, { code: totp(secret, Date.now() + 30000) }), 200, 'test sign-in');
  await ok(await g.call('PUT', `/v1/users/${user}/mfa`, { enabled: true }), 200, 'apply');
}

// signInThroughProvider signs name (in groups) in from the console's
// signed-out view, by keyboard, and waits for the signed-in console.
async function signInThroughProvider(page, name, groups) {
  op.nextSignIn(name, groups);
  await page.goto(g.url + '/console?lang=en');
  await page.locator('#main[data-view=signin] #oidc-signin').waitFor();
  assert.equal(await activeID(page), 'oidc-signin', 'focus on Sign in');
  await page.keyboard.press('Enter');
  await page.waitForURL(g.url + '/console');
  await page.locator('#main[data-view=find] #whoami', { hasText: 'staff:' + name }).waitFor();
  if (await page.evaluate(() => document.documentElement.lang) !== 'en') await page.click('#lang');
  await page.locator('#whoami', { hasText: 'Signed in as' }).waitFor();
}
async function find(page, user) {
  await page.fill('#find-user', user);
  await page.press('#find-user', 'Enter');
  await page.locator('#main[data-view=user] #user-title', { hasText: user }).waitFor();
}

test('the sign-in page offers the provider and the token, on a phone and a desktop, in both languages', async () => {
  for (const [b, size] of [[phone, 'phone'], [desk, 'desktop']]) {
    const page = await b.ctx.newPage();
    await page.goto(g.url + '/console');
    await page.locator('#main[data-view=signin] #oidc-signin').waitFor();
    assert.equal(await page.locator('#token').count(), 1, 'the token sign-in stays');
    if (await page.evaluate(() => document.documentElement.lang) !== 'ja') await page.click('#lang');
    assert.match(await page.locator('main').innerText(), /組織のアカウントでサインイン/);
    await assertFits(page);
    await shot(page, `71-console-oidc-signin-${size}-ja`);
    await page.click('#lang');
    await page.locator('#oidc-title', { hasText: 'Staff sign-in' }).waitFor();
    assert.match(await page.locator('main').innerText(), /Sign in with your organization account/);
    await assertFits(page);
    await shot(page, `71-console-oidc-signin-${size}-en`);
    await page.close();
  }
});

test('a help-desk member issues a pass, an administrator terminates MFA with a reason, both audited as staff:<name>', async () => {
  const user = '0123471001';
  await userWithApp(user);

  // The help desk: enroll, no admin parts.
  const con = await desk.ctx.newPage();
  await signInThroughProvider(con, 'hana', ['students', 'helpdesk']);
  assert.match(await con.locator('#whoami').innerText(), /staff:hana \(help desk\)/);
  assert.equal(await con.evaluate(() => document.cookie), '', 'the session cookie is HttpOnly');
  await find(con, user);
  await con.locator('#not-admin').waitFor();
  assert.equal(await con.locator('#terminate').count(), 0, 'no termination for the help desk');
  assert.equal(await con.locator('#audit').count(), 0, 'no audit history for the help desk');
  await shot(con, '71-console-oidc-helpdesk-desktop-en');

  // A one-time pass, by keyboard.
  await con.focus('#tap-issue');
  await con.keyboard.press('Enter');
  await con.locator('#main[data-view=pass] #tap-pass').waitFor();
  assert.match((await con.locator('#tap-pass').innerText()).trim(), /^[A-Z0-9]{4}(-[A-Z0-9]{4}){2}$/);
  await con.click('#tap-dismiss');
  await con.locator('#main[data-view=user]').waitFor();
  const u = await ok(await g.call('GET', '/v1/users/' + user), 200, 'user');
  assert.ok(u.methods.some((m) => m.kind === 'tap'), 'the pass is issued');

  // The server refuses an admin action from the help desk's session (with
  // its own CSRF token): 403, nothing changed.
  const refused = await con.evaluate(async (u) => {
    const s = await (await fetch('/console/api/session')).json();
    const r = await fetch('/console/v1/users/' + u + '/mfa?reason=test', { method: 'DELETE', headers: { 'X-CSRF-Token': s.csrf } });
    const noCSRF = await fetch('/console/v1/users/' + u + '/tap', { method: 'DELETE' });
    return [r.status, (await r.json()).code, noCSRF.status];
  }, user);
  assert.deepEqual(refused, [403, 'forbidden', 403]);
  assert.equal((await ok(await g.call('GET', '/v1/users/' + user), 200, 'user')).mfa.state, u.mfa.state, 'nothing changed');

  // Signing out ends the session.
  await con.click('#signout');
  await con.locator('#main[data-view=signin] #msg', { hasText: 'signed out' }).waitFor();
  const after = await con.evaluate(async () => (await fetch('/console/api/session')).status);
  assert.equal(after, 401);

  // The administrator terminates MFA with a reason.
  await signInThroughProvider(con, 'aki', ['mfa-admins']);
  await find(con, user);
  assert.match(await con.locator('#unlock-hint').innerText(), /both the consecutive-failure lock and the fraud block/, 'unlock says it clears the fraud block too');
  await con.click('#terminate');
  await con.locator('#main[data-view=terminate]').waitFor();
  await con.fill('#terminate-reason', 'lost every method, identity checked at the desk');
  await con.click('#terminate-confirm');
  await con.locator('#msg.success').waitFor();
  assert.equal((await ok(await g.call('GET', '/v1/users/' + user), 200, 'user')).mfa.state, 'off');
  const audit = await con.locator('#audit').innerText();
  assert.match(audit, /mfa_terminated · staff:aki · reason: lost every method, identity checked at the desk; from: 127\.0\.0\.1/);
  assert.match(audit, /tap_issued · staff:hana · .*from: 127\.0\.0\.1/);
  await con.locator('#audit').scrollIntoViewIfNeeded();
  await shot(con, '71-console-oidc-admin-audit-desktop-en');
  assert.equal(op.refused.length, 0, 'the provider refused no token request: ' + op.refused.join(', '));
  await con.close();
});

test('someone in neither staff group is refused with a page that says so', async () => {
  const page = await phone.ctx.newPage();
  op.nextSignIn('sora', ['students']);
  await page.goto(g.url + '/console');
  await page.locator('#oidc-signin').waitFor();
  await page.click('#oidc-signin');
  await page.locator('#error-code', { hasText: 'login_staff' }).waitFor();
  assert.match(await page.locator('#error-title-en').innerText(), /not registered as help desk staff/);
  assert.match(await page.locator('#error-detail').innerText(), /neither staff group/);
  await assertFits(page);
  await shot(page, '71-console-oidc-refused-phone');
  await page.click('#again');
  await page.locator('#main[data-view=signin]').waitFor();
  assert.equal(await page.evaluate(async () => (await fetch('/console/api/session')).status), 401, 'no session');
  await page.close();
});
