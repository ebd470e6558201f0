// A session that ends: the page says so and offers nothing. The daemon runs
// from a configuration file with the shortest session_ttl it allows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, browser, shot } from './lib.mjs';

let g, b;

before(async () => {
  g = await Gateway.withConfig('session_ttl = "1m"');
  b = await browser({ width: 1080, height: 1920 });
});
after(async () => {
  if (b) await b.close();
  if (g) await g.stop();
});

async function assertEnded(page) {
  const ended = page.locator('#ended');
  await ended.waitFor();
  assert.match(await ended.innerText(), /This session has ended/);
  assert.equal(await page.locator('main button, main input').count(), 0, 'an ended session offers nothing');
}

test('an unknown session shows the ended screen', async () => {
  const page = await b.ctx.newPage();
  const res = await page.goto(g.url + '/kiosk/e_' + 'a'.repeat(26) + '?lang=en');
  assert.equal(res.status(), 404);
  await assertEnded(page);
  await page.close();
});

test('a session that expires while open', async () => {
  const sess = await g.openSession('0123456787');
  const page = await b.ctx.newPage();
  await page.goto(g.url + sess.url + '?lang=en');
  await page.locator('main h1', { hasText: 'Step 1' }).waitFor();
  assert.match(await page.locator('#foot').innerText(), /This session ends at/);
  // Start a phone registration so the page has something in progress.
  await page.click('#choose-phone');
  await page.fill('#number', '090-5555-6666');
  await page.locator('#ended').waitFor({ timeout: 100000 });
  await assertEnded(page);
  await shot(page, '21-session-ended');
  const api = await fetch(g.url + sess.url + '/api/state');
  assert.ok(api.status === 404 || api.status === 410, 'the API refuses the ended session: ' + api.status);
  await page.close();
});
