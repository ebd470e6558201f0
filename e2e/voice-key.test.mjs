// A phone confirmed by a voice call as the first method (the number shown
// keyed in on the demo handset), a security key as the alternative (the
// demo's software key, its PIN set at the kiosk), and a test sign-in
// through "use a different verification option" with the key.
// Landscape kiosk screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, browser, shot, assertFits } from './lib.mjs';

const user = '0123456788';
const number = '090-3333-4444';
let g, b, page;

before(async () => {
  g = await Gateway.demo();
  b = await browser({ width: 1920, height: 1080 });
  page = await b.ctx.newPage();
});
after(async () => {
  if (b) await b.close();
  if (g) await g.stop();
});

// boxOf is the element's box once it is laid out: the page re-renders the
// waiting area on every status change, and between two renders there may
// be no box to measure (bounded: 50 tries, 20 ms apart).
async function boxOf(locator) {
  for (let i = 0; i < 50; i++) {
    const box = await locator.boundingBox();
    if (box) return box;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the element never got a box');
}

test('voice call, security key, test sign-in with the key, apply', async () => {
  const sess = await g.openSession(user);
  await page.goto(g.url + sess.url + '?lang=en');
  await page.locator('main h1', { hasText: 'Step 1' }).waitFor();

  await page.click('#choose-phone');
  await page.fill('#number', number);
  await page.check('input[name=channel][value=voice]');
  await page.click('#phonesubmit');
  const match = page.locator('#match');
  await match.waitFor();
  const digits = (await match.innerText()).replace(/\D/g, '');
  assert.match(digits, /^\d{2}$/);
  const box = await boxOf(page.locator('#wait'));
  await page.locator('#wait', { hasText: 'Answered' }).waitFor();
  const box2 = await boxOf(page.locator('#wait'));
  assert.equal(box2.height, box.height, 'the waiting area keeps its size');
  await assertFits(page);
  await shot(page, '11-voice-number-match');
  await g.pressKeys(number, digits + '#');
  await page.locator('#msg.success', { hasText: 'is registered' }).waitFor();
  assert.match(await page.locator('#methods').innerText(), /Mobile phone \+81 90-\*\*\*\*-4444 \(Voice call\)\s*default/);
  assert.equal(await page.locator('#single-warning').count(), 1);
  await shot(page, '11b-step2-single-method-landscape');

  // The security key: a PIN too short is refused with the minimum shown.
  await page.click('#add-more');
  await page.click('#choose-fido');
  await page.locator('#pin2').waitFor();
  assert.match(await page.locator('#pinhelp').innerText(), /at least 6 characters/);
  await page.fill('#pin', '123');
  await page.fill('#pin2', '123');
  await page.press('#pin2', 'Enter');
  await page.locator('#msg.error', { hasText: 'at least 6' }).waitFor();
  await page.fill('#pin', '482910');
  await page.fill('#pin2', '482911');
  await page.click('#pinsubmit');
  await page.locator('#msg.error', { hasText: 'differ' }).waitFor();
  await page.fill('#pin2', '482910');
  await page.click('#pinsubmit');
  await page.locator('#wait').waitFor();
  await shot(page, '12-key-touch');
  await page.locator('#msg.success', { hasText: 'Security key is registered' }).waitFor({ timeout: 30000 });
  assert.equal(await page.locator('#single-warning').count(), 0);
  assert.match(await page.locator('#methods').innerText(), /Security key/);
  await shot(page, '13-step2-two-methods');

  // Step 3: the default is the phone; use the key instead.
  await page.click('#to-step3');
  await page.locator('#verify-with', { hasText: 'Voice call' }).waitFor();
  await page.click('#other-option');
  await page.locator('#others button', { hasText: 'Security key' }).click();
  await page.locator('#verify-with', { hasText: 'Security key' }).waitFor();
  await assertFits(page);
  await shot(page, '14-step3-other-option');
  await page.click('#start-test');
  await page.locator('#pin').waitFor();
  await page.fill('#pin', '000000');
  await page.press('#pin', 'Enter');
  await page.locator('#msg.error', { hasText: 'Wrong PIN' }).waitFor({ timeout: 30000 });
  await page.fill('#pin', '482910');
  await page.press('#pin', 'Enter');
  await page.locator('#passed', { hasText: 'Security key' }).waitFor({ timeout: 30000 });

  await page.click('#to-step4');
  await page.click('#apply');
  await page.locator('#applied', { hasText: 'MFA takes effect' }).waitFor();
  await shot(page, '15-step4-applied-landscape');
  const u = await g.call('GET', '/v1/users/' + user);
  assert.equal(u.body.mfa.state, 'pending');
});
