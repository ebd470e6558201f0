// The help-desk console (/console) in a lost-phone recovery: a person with
// an authenticator app and MFA active has lost the phone. Staff (the demo's
// admin token) find them in the console and issue a one-time Temporary
// Access Pass; the person opens a Security info link, proves themselves
// with the pass, adds and confirms a new app (codes from the test's own
// TOTP) and removes the lost one. The admin API checks, independently of
// the pages, that the pass is gone and refused a second time. Then an admin
// terminates MFA in the console with a reason, which the audit log holds
// with the staff client's name and address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, ok, browser, shot, totp, assertFits } from './lib.mjs';

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

const userOf = async (user) => ok(await g.call('GET', '/v1/users/' + user), 200, 'user ' + user);
const activeID = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);

// A user with a confirmed authenticator app, a test sign-in and MFA
// active (the daemon restarted with its clock past the activation delay).
async function userWithApp(user) {
  const add = await ok(await g.call('POST', `/v1/users/${user}/methods`, { kind: 'totp', label: 'old phone' }), 201, 'add app');
  const secret = add.totp.secret;
  await ok(await g.call('POST', `/v1/users/${user}/methods/${add.method.id}/confirm`, { code: totp(secret, g.now()) }), 200, 'confirm');
  const ch = await ok(await g.call('POST', `/v1/users/${user}/challenges`, { method: add.method.id, purpose: 'test' }), 201, 'test challenge');
  await ok(await g.call('POST', `/v1/challenges/${ch.id}/verify`, { code: totp(secret, g.now() + 30000) }), 200, 'test sign-in');
  await ok(await g.call('PUT', `/v1/users/${user}/mfa`, { enabled: true }), 200, 'apply');
  return add.method;
}

async function signIn(page) {
  await page.goto(g.url + '/console');
  await page.locator('#main[data-view=signin]').waitFor();
  assert.equal(await activeID(page), 'token', 'focus in the token field');
  await page.keyboard.type(g.token);
  await page.keyboard.press('Enter');
  await page.locator('#main[data-view=find]').waitFor();
  assert.equal(await page.evaluate(() => JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + document.cookie + location.href).then((s) => s.includes(g.token)), false,
    'the token is in no storage, cookie or address');
}
async function find(page, user) {
  await page.fill('#find-user', user);
  await page.press('#find-user', 'Enter');
  await page.locator('#main[data-view=user] #user-title', { hasText: user }).waitFor();
}

test('lost phone: a one-time pass from the console, a new app on the Security info page, then MFA terminated with a reason', async () => {
  const user = '0123470001';
  const lost = await userWithApp(user);
  await g.restart({ MFAGATED_E2E_CLOCK_OFFSET: '3m' });
  assert.equal((await userOf(user)).mfa.state, 'active');

  // Staff find the user; focus moves to the result.
  const con = await desk.ctx.newPage();
  await signIn(con);
  await find(con, user);
  assert.equal(await activeID(con), 'user-title');
  assert.match(await con.locator('#mfa-state').innerText(), /有効/);
  assert.equal(await con.locator(`#methods li[data-kind=totp]#m-${lost.id}`).count(), 1);
  assert.match(await con.locator('#audit').innerText(), /mfa_applied|method_confirmed/, 'the admin sees the history');
  await shot(con, '70-console-user-desktop-ja');

  // A one-time pass for one hour, issued by keyboard.
  await con.selectOption('#tap-lifetime', '1h');
  assert.equal(await con.isChecked('#tap-onetime'), true, 'one-time by default');
  await con.focus('#tap-issue');
  await con.keyboard.press('Enter');
  await con.locator('#main[data-view=pass] #tap-pass').waitFor();
  const pass = (await con.locator('#tap-pass').innerText()).trim();
  assert.match(pass, /^[A-Z0-9]{4}(-[A-Z0-9]{4}){2}$/, 'a pass like 7KQ4-MX9P-R3TD');
  await shot(con, '70-console-pass-desktop-ja');
  await con.click('#tap-dismiss');
  await con.locator('#main[data-view=user]').waitFor();
  assert.equal((await con.locator('main').innerText()).includes(pass), false, 'the pass is gone from the page');
  const tap = (await userOf(user)).methods.find((m) => m.kind === 'tap');
  assert.ok(tap && tap.one_time, 'the API lists a one-time pass');
  assert.match(await con.locator('#m-' + tap.id).innerText(), /一時アクセスパス/);

  // The person, on their own phone: adding an app asks for a proof, and the
  // pass is offered among the methods.
  const me = await phone.ctx.newPage();
  const link = await g.selfserviceLink(user);
  await me.goto(link.href + '?lang=en');
  await me.waitForURL(/\/me(\?.*)?$/);
  await me.locator('#main[data-view=home]').waitFor();
  if (await me.evaluate(() => document.documentElement.lang) !== 'en') await me.click('#lang');
  await me.click('#add-method');
  await me.click('#choose-totp');
  await me.locator('#proof-' + tap.id).waitFor();
  await me.click('#proof-' + tap.id);
  await me.locator('#main[data-view=verify] #pass').waitFor();
  assert.equal(await me.locator('#code').count(), 0, 'no digits-only code field for a pass');
  await shot(me, '70-console-me-pass-phone-en');
  await me.fill('#pass', pass.toLowerCase().replace(/-/g, ''));
  await me.press('#pass', 'Enter');
  await me.locator('#secret').waitFor();
  const secret = (await me.locator('#secret').innerText()).replace(/\s/g, '');
  await me.fill('#code', totp(secret, g.now()));
  await me.press('#code', 'Enter');
  await me.locator('#msg.success').waitFor({ timeout: 30000 });
  let u = await userOf(user);
  const fresh = u.methods.find((m) => m.kind === 'totp' && m.id !== lost.id);
  assert.ok(fresh && fresh.confirmed, 'the new app is confirmed');

  // The lost app goes, with the same proof.
  await me.click('#remove-' + lost.id);
  await me.click('#remove-confirm');
  await me.locator('#msg.success').waitFor({ timeout: 30000 });
  u = await userOf(user);
  assert.equal(u.methods.some((m) => m.id === lost.id), false, 'the lost app is removed');
  assert.equal(u.methods.some((m) => m.kind === 'tap'), false, 'the used pass is gone from the methods');

  // A second use of the pass is refused.
  const again = await g.call('POST', `/v1/users/${user}/challenges`, { method: tap.id, purpose: 'proof' });
  assert.ok(again.status >= 400, 'a spent pass cannot start a proof: ' + JSON.stringify(again.body));

  // The admin terminates MFA in the console: a confirmation that names the
  // consequences and needs a reason.
  await con.click('#lang');
  await find(con, user);
  assert.match(await con.locator('#methods').innerText(), /Authenticator app/);
  await shot(con, '70-console-user-desktop-en');
  await con.click('#terminate');
  await con.locator('#main[data-view=terminate]').waitFor();
  assert.match(await con.locator('main').innerText(), /sign-ins no longer ask for a second factor/);
  await con.press('#terminate-reason', 'Enter');
  await con.locator('#msg.error', { hasText: /reason/ }).waitFor();
  assert.equal(await activeID(con), 'msg', 'focus on the error');
  assert.equal((await userOf(user)).mfa.state, 'active', 'nothing changed without a reason');
  // The API refuses the console's request without a reason too.
  const bare = await con.evaluate(async ([u, tok]) => (await fetch('/v1/users/' + u + '/mfa', { method: 'DELETE', headers: { Authorization: 'Bearer ' + tok, 'Mfagate-Console': '1' } })).status, [user, g.token]);
  assert.equal(bare, 400);
  await con.fill('#terminate-reason', 'left the university (ticket 4711)');
  await shot(con, '70-console-terminate-desktop-en');
  await con.click('#terminate-confirm');
  await con.locator('#msg.success').waitFor();
  assert.equal((await userOf(user)).mfa.state, 'off');
  const audit = await ok(await g.call('GET', '/v1/audit?user=' + user), 200, 'audit');
  const ev = audit.find((e) => e.type === 'mfa_terminated');
  assert.ok(ev, 'an mfa_terminated event');
  assert.equal(ev.detail, 'reason: left the university (ticket 4711); from: 127.0.0.1', 'the reason and the staff client address');
  assert.equal(ev.actor, 'demo-admin', 'the staff client is named');
  assert.match(await con.locator('#audit').innerText(), /left the university/);
});

test('the console on a phone, in both languages, fits the screen', async () => {
  const user = '0123470002';
  await userWithApp(user);
  const page = await phone.ctx.newPage();
  await signIn(page);
  await find(page, user);
  await assertFits(page);
  await shot(page, '70-console-user-phone-ja');
  await page.click('#lang');
  await page.locator('#user-title', { hasText: 'User ' + user }).waitFor();
  await assertFits(page);
  await shot(page, '70-console-user-phone-en');
  // A wrong token: a specific error, back to the sign-in.
  const other = await phone.ctx.newPage();
  await other.goto(g.url + '/console?lang=en');
  await other.fill('#token', 'not-a-token');
  await other.press('#token', 'Enter');
  await other.fill('#find-user', user);
  await other.press('#find-user', 'Enter');
  await other.locator('#main[data-view=signin] #msg.error', { hasText: /not accepted/ }).waitFor();
});
