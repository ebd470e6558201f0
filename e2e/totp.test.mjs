// An authenticator app as the first method, in Japanese then English:
// a wrong code, the single-method warning, an SMS phone added as the
// alternative (code read from the demo handset), a test sign-in with a
// wrong code first, and applying for MFA. Portrait kiosk screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, browser, shot, totp, assertFits } from './lib.mjs';

const user = '0123456789';
let g, b, page;

before(async () => {
  g = await Gateway.demo();
  b = await browser({ width: 1080, height: 1920 });
  page = await b.ctx.newPage();
});
after(async () => {
  if (b) await b.close();
  if (g) await g.stop();
});

const main = () => page.locator('main');

test('authenticator app, SMS alternative, test sign-in, apply', async () => {
  const sess = await g.openSession(user);
  await page.goto(g.url + sess.url);
  await page.locator('main h1', { hasText: 'ステップ 1' }).waitFor();
  assert.match(await main().innerText(), /既定のサインイン方法/);
  await assertFits(page);
  await shot(page, '01-step1-choose-ja');

  // Keyboard only: the heading has focus, Tab reaches the first choice.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'choose-totp');
  await page.keyboard.press('Enter');
  const secretEl = page.locator('#secret');
  await secretEl.waitFor();
  const secret = (await secretEl.innerText()).replace(/\s/g, '');
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  assert.equal(await page.locator('#qr').evaluate((img) => img.naturalWidth > 0), true, 'the QR code image loads');
  await shot(page, '02-totp-qr-ja');

  // Switch to English mid-flow: the same secret, the typed digits kept.
  const wrong = totp(secret) === '000000' ? '111111' : '000000';
  await page.fill('#code', wrong.slice(0, 3));
  await page.click('#lang');
  await page.locator('main h1', { hasText: 'Set up your authenticator app' }).waitFor();
  assert.equal((await secretEl.innerText()).replace(/\s/g, ''), secret);
  assert.equal(await page.inputValue('#code'), wrong.slice(0, 3));

  // A wrong code keeps the person here with what to do.
  await page.fill('#code', wrong);
  await page.press('#code', 'Enter');
  await page.locator('#msg.error', { hasText: 'not correct' }).waitFor();
  assert.match(await page.locator('#msg').innerText(), /newest one/);
  await shot(page, '03-totp-wrong-code-en');

  await page.fill('#code', totp(secret));
  await page.press('#code', 'Enter');
  await page.locator('main h1', { hasText: 'Step 2' }).waitFor();
  const warning = page.locator('#single-warning');
  await warning.waitFor();
  assert.match(await warning.innerText(), /only one verification method/);
  assert.match(await page.locator('#methods').innerText(), /Authenticator app\s*default/);
  assert.match(await main().innerText(), /App passwords and e-mail are not offered/);
  await assertFits(page);
  await shot(page, '04-step2-single-method-warning');

  // An SMS phone as the alternative.
  await page.click('#add-more');
  await page.click('#choose-phone');
  await page.fill('#number', '090-1111-2222');
  await page.click('#phonesubmit');
  await page.locator('main', { hasText: 'by SMS to +81 90-****-2222' }).waitFor();
  const code = await g.handsetCode('090-1111-2222', 1);
  assert.doesNotMatch(await main().innerText(), new RegExp(code), 'the page never shows the code');
  await page.locator('#wait', { hasText: /Sent|Delivered/ }).waitFor();
  await shot(page, '05-sms-code-sent');
  await page.fill('#code', code);
  await page.press('#code', 'Enter');
  await page.locator('#msg.success', { hasText: 'is registered' }).waitFor();
  assert.equal(await warning.count(), 0, 'no single-method warning with two methods');
  assert.match(await page.locator('#methods').innerText(), /Mobile phone \+81 90-\*\*\*\*-2222/);

  // Step 3 with the default method; back to Japanese on the way.
  await page.click('#to-step3');
  await page.locator('#verify-with', { hasText: 'Authenticator app' }).waitFor();
  await page.click('#lang');
  await page.locator('#verify-with', { hasText: '認証アプリ' }).waitFor();
  await page.click('#start-test');
  await page.locator('#code').waitFor();
  await page.fill('#code', wrong);
  await page.press('#code', 'Enter');
  await page.locator('#msg.error', { hasText: '残り 4 回' }).waitFor();
  assert.equal(await page.locator('#to-step4').count(), 0, 'a failed try does not unlock step 4');
  await assertFits(page);
  await shot(page, '06-step3-wrong-code-ja');
  // The next time step's code: the confirmation used the current one.
  await page.fill('#code', totp(secret, Date.now() + 30000));
  await page.press('#code', 'Enter');
  await page.locator('#passed').waitFor();
  await shot(page, '07-step3-passed');

  await page.click('#to-step4');
  assert.equal(await page.locator('#reminders li').count(), 3);
  assert.match(await page.locator('#reminders').innerText(), /古いものがまだ使えるうちに/);
  await page.click('#apply');
  const applied = page.locator('#applied');
  await applied.waitFor();
  assert.match(await applied.innerText(), /有効になります/);
  await page.click('#lang');
  assert.match(await applied.innerText(), /MFA takes effect at \d\d:\d\d \(in about 1 min\)/);
  await shot(page, '08-step4-applied');

  const u = await g.call('GET', '/v1/users/' + user);
  assert.equal(u.body.mfa.state, 'pending');
  assert.equal(u.body.methods.filter((m) => m.confirmed).length, 2);
});

test('staff status page', async () => {
  const p = await b.ctx.newPage();
  await p.goto(g.url + '/kiosk/status');
  await p.fill('#token', 'not-a-token');
  await p.press('#token', 'Enter');
  await p.locator('#err', { hasText: 'not accepted' }).waitFor();
  await p.fill('#token', g.token);
  await p.click('button[type=submit]');
  await p.locator('#modems li.ok', { hasText: 'sim-quectel: up' }).waitFor();
  assert.equal(await p.locator('#modems li.ok').count(), 2);
  await p.locator('#keys li', { hasText: 'FIDO2 key' }).waitFor();
  assert.match(await p.locator('#outbox').innerText(), /\d+ queued, \d+ sending/);
  assert.doesNotMatch(await p.locator('main').innerText(), /0123456789|\+81/, 'no user data on the status page');
  await shot(p, '09-staff-status');
  await p.close();
});

test('keyboard only: phone form, refused numbers explained', async () => {
  const sess = await g.openSession('0123456786');
  const p = await b.ctx.newPage();
  await p.goto(g.url + sess.url + '?lang=en');
  await p.locator('main h1', { hasText: 'Step 1' }).waitFor();
  const focused = () => p.evaluate(() => document.activeElement.id || document.activeElement.name);
  await p.keyboard.press('Tab');
  await p.keyboard.press('Tab');
  assert.equal(await focused(), 'choose-phone');
  await p.keyboard.press('Space');
  await p.locator('#number').waitFor();
  assert.equal(await focused(), 'number');
  await p.keyboard.type('12');
  await p.keyboard.press('Enter');
  await p.locator('#msg.error', { hasText: 'not a valid phone number' }).waitFor();

  await p.keyboard.press('Control+A');
  await p.keyboard.type('03-1234-5678');
  await p.keyboard.press('Tab'); // the slot radios
  assert.equal(await focused(), 'slot');
  await p.keyboard.press('ArrowRight');
  await p.keyboard.press('ArrowRight');
  assert.equal(await p.locator('input[name=slot]:checked').getAttribute('value'), 'office');
  await p.keyboard.press('Tab'); // the channel radios, SMS chosen
  assert.equal(await focused(), 'channel');
  await p.keyboard.press('Tab');
  assert.equal(await focused(), 'phonesubmit');
  await p.keyboard.press('Enter');
  await p.locator('#msg.error', { hasText: 'cannot receive SMS. Choose a voice call' }).waitFor();
  await shot(p, '10-phone-not-mobile');

  await p.keyboard.press('Shift+Tab');
  assert.equal(await focused(), 'channel');
  await p.keyboard.press('ArrowRight');
  await p.keyboard.press('Tab');
  await p.keyboard.press('Enter');
  await p.locator('#match').waitFor();
  assert.match(await p.locator('main').innerText(), /We are calling \+81 3-\*\*\*\*-5678/);
  await p.close();
});
