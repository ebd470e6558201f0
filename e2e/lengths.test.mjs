// Code lengths come from the configuration: with policy.code_length = 8
// and totp.digits = 8 the page asks for 8 digits, takes an 8-digit code
// from the authenticator app, and ends the session at the person's request
// once step 4 is done.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, browser, shot, totp } from './lib.mjs';

const user = '0123456785';
let g, b;

before(async () => {
  g = await Gateway.withConfig('', '[policy]\ncode_length = 8\n[totp]\ndigits = 8');
  b = await browser({ width: 1080, height: 1920 });
});
after(async () => {
  if (b) await b.close();
  if (g) await g.stop();
});

test('8-digit codes, then End session', async () => {
  const sess = await g.openSession(user);
  assert.equal(sess.code_length, 8);
  assert.equal(sess.totp_digits, 8);
  const page = await b.ctx.newPage();
  await page.goto(g.url + sess.url + '?lang=en');
  await page.locator('main h1', { hasText: 'Step 1' }).waitFor();
  assert.match(await page.locator('#choose-totp').innerText(), /shows an? 8-digit code/);

  await page.click('#choose-totp');
  const secretEl = page.locator('#secret');
  await secretEl.waitFor();
  const secret = (await secretEl.innerText()).replace(/\s/g, '');
  assert.match(await page.locator('main').innerText(), /Enter the 8-digit code/);
  assert.equal(await page.locator('#code').getAttribute('maxlength'), '8');
  // Six digits are not a code here any more.
  await page.fill('#code', totp(secret, Date.now(), 8).slice(0, 6));
  await page.press('#code', 'Enter');
  await page.locator('#msg.error', { hasText: 'Enter exactly 8 digits' }).waitFor();
  // Typed one key at a time, as at the kiosk: all eight digits are kept.
  const code = totp(secret, Date.now(), 8);
  await page.fill('#code', '');
  await page.type('#code', code + '9');
  assert.equal(await page.inputValue('#code'), code);
  await page.press('#code', 'Enter');
  await page.locator('main h1', { hasText: 'Step 2' }).waitFor();
  await shot(page, '31-eight-digit-code-accepted');

  // Step 3 with the next time step's code, then step 4.
  await page.click('#to-step3');
  await page.click('#start-test');
  await page.locator('#code').waitFor();
  assert.equal(await page.locator('#code').getAttribute('maxlength'), '8');
  await page.fill('#code', totp(secret, Date.now() + 30000, 8));
  await page.press('#code', 'Enter');
  await page.locator('#passed').waitFor();
  await page.click('#to-step4');
  await page.click('#apply');
  await page.locator('#applied').waitFor();

  // A shared kiosk must not leave this person's session open.
  await page.click('#lang');
  await page.locator('#end-session', { hasText: 'セッションを終了' }).waitFor();
  await page.click('#lang');
  await page.click('#end-session');
  const ended = page.locator('#ended');
  await ended.waitFor();
  assert.match(await ended.innerText(), /You ended this session/);
  assert.equal(await page.locator('main button, main input').count(), 0, 'an ended session offers nothing');
  await shot(page, '32-session-ended-by-user');
  const api = await fetch(g.url + sess.url + '/api/state');
  assert.equal(api.status, 410, 'the ended session is refused');
  await page.close();
});
