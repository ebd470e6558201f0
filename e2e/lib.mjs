// Shared helpers of the kiosk browser tests: the real mfagated (built by
// scripts/e2e.sh, path in MFAGATED), Debian's Chromium through
// playwright-core, the demo's phone API, and an RFC 6238 implementation
// independent of the gateway's.
import { spawn } from 'node:child_process';
import { createHmac, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createServer } from 'node:net';
import { createServer as createHTTPServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const binary = process.env.MFAGATED || join(here, '..', 'bin', 'mfagated');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ok asserts that an API answer r (from Gateway.call) has status and
// returns its body; what names the call in the failure message.
export function ok(r, status, what) {
  assert.equal(r.status, status, what + ': ' + JSON.stringify(r.body));
  return r.body;
}

// waitFor polls fn until it returns a truthy value or the deadline passes.
export async function waitFor(what, fn, timeoutMs = 20000, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Gateway runs mfagated until stop(): in -demo mode (simulated modems,
// virtual handsets, the software key) or with a configuration file.
export class Gateway {
  // extra are more flags, for example -demo-hint-issuer.
  static async demo(extra = []) {
    const dir = mkdtempSync(join(tmpdir(), 'mfagate-e2e-'));
    const port = await freePort();
    const g = new Gateway(dir, port);
    g.stateDir = join(dir, 'state');
    // The demo's WebAuthn origin (the External MFA and Security info pages).
    g.origin = 'http://localhost:' + port;
    await g.start(['-demo', '-state-dir', g.stateDir, '-listen', '127.0.0.1:' + port,
      '-sim-sms-latency', '300ms', '-sim-answer-after', '500ms', '-log-level', 'warn', ...extra], 'Stop it with Ctrl-C');
    g.token = readFileSync(join(dir, 'state', 'admin.token'), 'utf8').trim();
    return g;
  }

  // withConfig runs the daemon from a configuration file whose [fido]
  // section is extra (for example a short session_ttl), after the other
  // sections in sections (for example '[totp]\ndigits = 8'; or a function
  // of the gateway's address, for a redirect_uri). No modems.
  static async withConfig(fido, sections = '') {
    const dir = mkdtempSync(join(tmpdir(), 'mfagate-e2e-'));
    const port = await freePort();
    const g = new Gateway(dir, port);
    if (typeof sections === 'function') sections = sections(g.url);
    g.token = 'e2e-' + randomBytes(16).toString('hex');
    writeFileSync(join(dir, 'secret.key'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const sum = createHash('sha256').update(g.token).digest('hex');
    writeFileSync(join(dir, 'mfagate.toml'), [
      '[server]', `listen = "127.0.0.1:${port}"`,
      '[store]', `path = "${join(dir, 'mfagate.db')}"`,
      '[secrets]', `key_file = "${join(dir, 'secret.key')}"`,
      '[[api.client]]', 'name = "staff"', `token_sha256 = "${sum}"`, 'roles = ["enroll"]',
      sections,
      '[fido]', 'rp_id = "localhost"', 'origin = "http://localhost"', fido, '',
    ].join('\n'));
    await g.start(['-config', join(dir, 'mfagate.toml'), '-log-level', 'warn'], null);
    return g;
  }

  constructor(dir, port) {
    this.dir = dir;
    this.port = port;
    this.url = 'http://127.0.0.1:' + port;
    this.log = '';
  }

  async start(args, readyLine, env) {
    this.args = args;
    this.readyLine = readyLine;
    this.log = '';
    this.proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: Object.assign({}, process.env, env || {}) });
    this.proc.stdout.on('data', (d) => { this.log += d; });
    this.proc.stderr.on('data', (d) => { this.log += d; });
    const exited = new Promise((resolve) => this.proc.on('exit', resolve));
    this.exited = exited;
    await waitFor('mfagated to start', async () => {
      if (this.proc.exitCode !== null) throw new Error('mfagated exited: ' + this.log);
      if (readyLine) return this.log.includes(readyLine);
      try { return (await fetch(this.url + '/healthz')).ok; } catch { return false; }
    }, 30000, 100);
  }

  // restart stops the daemon and starts it again on the same port and
  // state, with env added to its environment (for example
  // MFAGATED_E2E_CLOCK_OFFSET, which the e2e build honours).
  async restart(env) {
    const off = /^(\d+)(ms|s|m|h)$/.exec((env && env.MFAGATED_E2E_CLOCK_OFFSET) || '0s');
    if (!off) throw new Error('restart: MFAGATED_E2E_CLOCK_OFFSET must be like 90s or 3m');
    this.clockOffsetMs = Number(off[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[off[2]];
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      await this.exited;
    }
    await this.start(this.args, this.readyLine, env);
  }

  // now is the daemon's clock: the test's, plus the offset it was
  // restarted with (for codes of an authenticator app).
  now() { return Date.now() + (this.clockOffsetMs || 0); }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  async call(method, path, body) {
    const res = await fetch(this.url + path, {
      method,
      headers: Object.assign({ Authorization: 'Bearer ' + this.token }, body ? { 'Content-Type': 'application/json' } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  async openSession(user) {
    const r = await this.call('POST', '/v1/kiosk/sessions', { user });
    if (r.status !== 201) throw new Error('open session: ' + r.status + ' ' + JSON.stringify(r.body));
    return r.body;
  }

  // handsetCode waits for the n-th SMS at number and returns its code.
  // enrollKeyAtKiosk registers the demo's software key for user at the
  // kiosk page, in a new page of browser context ctx, with a new PIN.
  async enrollKeyAtKiosk(ctx, user, pin = '482910') {
    const sess = await this.openSession(user);
    const kiosk = await ctx.newPage();
    await kiosk.goto(this.url + sess.url + '?lang=en');
    await kiosk.locator('main h1', { hasText: 'Step 2' }).waitFor();
    await kiosk.click('#add-more');
    await kiosk.click('#choose-fido');
    await kiosk.locator('#pin2').waitFor();
    await kiosk.fill('#pin', pin);
    await kiosk.fill('#pin2', pin);
    await kiosk.click('#pinsubmit');
    await kiosk.locator('#msg.success', { hasText: 'Security key is registered' }).waitFor({ timeout: 30000 });
    await kiosk.close();
  }

  // selfserviceLink creates a one-time link to the Security info page for
  // user (as the identity provider would) and returns it with its absolute
  // address on the demo's WebAuthn origin.
  async selfserviceLink(user) {
    const r = await this.call('POST', '/v1/users/' + encodeURIComponent(user) + '/selfservice-links', {});
    if (r.status !== 201) throw new Error('selfservice link: ' + r.status + ' ' + JSON.stringify(r.body));
    return Object.assign({}, r.body, { href: (this.origin || this.url) + r.body.url });
  }

  // handsetMessages is how many SMS the demo handset at number has had.
  async handsetMessages(number) {
    const r = await this.call('GET', '/v1/demo/phones/' + encodeURIComponent(number) + '/messages');
    return r.status === 200 ? r.body.length : 0;
  }

  async handsetCode(number, n) {
    const msgs = await waitFor(`SMS ${n} at ${number}`, async () => {
      const r = await this.call('GET', '/v1/demo/phones/' + encodeURIComponent(number) + '/messages');
      return r.status === 200 && r.body.length >= n ? r.body : null;
    });
    const m = /\b(\d{6})\b/.exec(msgs[n - 1].text);
    if (!m) throw new Error('no code in the SMS');
    return m[1];
  }

  async pressKeys(number, digits) {
    const r = await this.call('POST', '/v1/demo/phones/' + encodeURIComponent(number) + '/keys', { digits });
    if (r.status !== 204) throw new Error('press keys: ' + r.status + ' ' + JSON.stringify(r.body));
  }
}

// OpenIDProvider is a small OpenID provider of the test's own on
// loopback, written from OpenID Connect Core 1.0 and Discovery 1.0 with
// RFC 7636: the discovery document, a JWKS with one RSA key, an
// authorization endpoint that signs in whoever the test named with
// nextSignIn (no login form) and redirects back with a code, and a token
// endpoint that checks client_secret_basic, the redirect_uri and
// code_challenge = BASE64URL(SHA256(code_verifier)) before it answers
// an RS256 ID token (node:crypto only) with the nonce of the request.
export class OpenIDProvider {
  static async start(clientID, secret) {
    const op = new OpenIDProvider(clientID, secret);
    await new Promise((resolve, reject) => {
      op.server.on('error', reject);
      op.server.listen(0, '127.0.0.1', resolve);
    });
    op.issuer = 'http://127.0.0.1:' + op.server.address().port;
    return op;
  }

  constructor(clientID, secret) {
    this.clientID = clientID;
    this.secret = secret;
    this.kid = randomBytes(8).toString('base64url');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.jwk = Object.assign(publicKey.export({ format: 'jwk' }), { kid: this.kid, use: 'sig', alg: 'RS256' });
    this.codes = new Map();
    this.next = null;
    this.refused = [];
    this.server = createHTTPServer((req, res) => this.serve(req, res));
  }

  // nextSignIn names who signs in next: the preferred_username and groups.
  nextSignIn(name, groups) { this.next = { name, groups }; }

  async stop() { await new Promise((r) => this.server.close(r)); }

  serve(req, res) {
    const url = new URL(req.url, this.issuer);
    const json = (status, v) => { res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }); res.end(JSON.stringify(v)); };
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(200, { issuer: this.issuer, authorization_endpoint: this.issuer + '/authorize', token_endpoint: this.issuer + '/token',
        jwks_uri: this.issuer + '/jwks', response_types_supported: ['code'], subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'], token_endpoint_auth_methods_supported: ['client_secret_basic'],
        code_challenge_methods_supported: ['S256'] });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') return json(200, { keys: [this.jwk] });
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== this.clientID || !q.get('redirect_uri')) {
        res.writeHead(400); return res.end('unknown client');
      }
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('state', q.get('state') || '');
      if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('nonce') || !this.next) {
        back.searchParams.set('error', 'invalid_request');
      } else {
        const code = randomBytes(16).toString('base64url');
        this.codes.set(code, { redirectURI: q.get('redirect_uri'), challenge: q.get('code_challenge'), nonce: q.get('nonce'), who: this.next });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { Location: back.toString() });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const f = new URLSearchParams(body);
        const [id, secret] = Buffer.from((req.headers.authorization || '').replace(/^Basic /, ''), 'base64').toString().split(':').map(decodeURIComponent);
        const g = this.codes.get(f.get('code'));
        this.codes.delete(f.get('code'));
        const refuse = (why) => { this.refused.push(why); json(400, { error: 'invalid_grant', error_description: why }); };
        if (id !== this.clientID || secret !== this.secret) return refuse('client authentication failed');
        if (!g || f.get('grant_type') !== 'authorization_code') return refuse('unknown or used code');
        if (f.get('redirect_uri') !== g.redirectURI) return refuse('redirect_uri differs');
        if (createHash('sha256').update(f.get('code_verifier') || '').digest('base64url') !== g.challenge) return refuse('code_verifier does not match');
        const now = Math.floor(Date.now() / 1000);
        const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
        const input = enc({ alg: 'RS256', typ: 'JWT', kid: this.kid }) + '.' + enc({ iss: this.issuer, aud: this.clientID, sub: 'sub-' + g.who.name,
          iat: now, exp: now + 300, nonce: g.nonce, preferred_username: g.who.name, groups: g.who.groups });
        const idToken = input + '.' + sign('sha256', Buffer.from(input), this.privateKey).toString('base64url');
        json(200, { access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
      });
      return undefined;
    }
    res.writeHead(404);
    return res.end();
  }
}

// RFC 6238 TOTP (SHA-1, 30 s, 6 digits unless told), written here from
// the RFC.
export function totp(secretBase32, atMs = Date.now(), digits = 6) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secretBase32.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error('not base32: ' + ch);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const v = (mac.readUInt32BE(off) & 0x7fffffff) % 10 ** digits;
  return String(v).padStart(digits, '0');
}

// browser starts Debian's Chromium headless with a fresh profile.
export async function browser(viewport) {
  const profile = mkdtempSync(join(tmpdir(), 'mfagate-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport,
    locale: 'ja-JP',
    timezoneId: 'Asia/Tokyo',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60000,
  });
  ctx.setDefaultTimeout(20000);
  const close = async () => { await ctx.close(); rmSync(profile, { recursive: true, force: true }); };
  return { ctx, close };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, name + '.png'), fullPage: false });
}

// assertFits checks that the page needs no sideways scrolling and that every
// button is a comfortable touch target.
export async function assertFits(page) {
  const r = await page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    small: [...document.querySelectorAll('button')].filter((b) => b.offsetParent && b.getBoundingClientRect().height < 44).map((b) => b.textContent),
  }));
  if (r.overflow > 0) throw new Error('the page scrolls sideways by ' + r.overflow + 'px');
  if (r.small.length) throw new Error('buttons smaller than a touch target: ' + r.small.join(', '));
}

// passkeyAuthenticator gives the page a Chromium virtual authenticator
// (DevTools protocol, WebAuthn domain) that makes passkeys as a platform
// authenticator does: CTAP 2.1, resident (discoverable) credentials, user
// verification that always succeeds, presence simulated.
export async function passkeyAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
    protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal', hasResidentKey: true,
    hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
  } });
  return {
    cdp, authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    remove: () => cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId }),
  };
}
