// A stand-in for Microsoft Entra ID as an External MFA client, written from
// Microsoft Learn's "External MFA method provider reference"
// (concept-authentication-external-method-provider): its own RSA key, a
// tenant discovery document and JWKS on loopback, id_token_hints signed
// like Entra's, the form-POSTed authorization request, and the redirect
// URI that receives the provider's form_post answer. verifyIDToken checks
// the answer with node:crypto only, independently of the gateway's code.
// Also: the Chromium virtual authenticator over CDP, and the unwrapping
// of the demo software key's credential IDs (device/softkey/crypto.go).
import { createServer } from 'node:http';
import { createHash, createDecipheriv, createECDH, createPrivateKey, createPublicKey, generateKeyPairSync,
  randomBytes, randomUUID, sign, verify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const fromB64u = (s) => Buffer.from(s, 'base64url');
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

// The reference's example claims parameter: acr possessionorinherence and
// every amr value Entra accepts.
export const CLAIMS = JSON.stringify({ id_token: {
  acr: { essential: true, values: ['possessionorinherence'] },
  amr: { essential: true, values: ['face', 'fido', 'fpt', 'hwk', 'iris', 'otp', 'pop', 'retina', 'sc', 'sms', 'swk', 'tel', 'vbm'] },
} });

export class Entra {
  static async start() {
    const e = new Entra();
    await new Promise((resolve, reject) => {
      e.server.on('error', reject);
      e.server.listen(0, '127.0.0.1', resolve);
    });
    e.origin = 'http://127.0.0.1:' + e.server.address().port;
    e.issuer = e.origin + '/' + e.tenant + '/v2.0';
    e.redirectURI = e.origin + '/federation/externalauthprovider';
    return e;
  }

  constructor() {
    this.tenant = randomUUID();
    this.kid = b64u(randomBytes(12));
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.jwk = Object.assign(publicKey.export({ format: 'jwk' }), { kid: this.kid, use: 'sig', kty: 'RSA' });
    this.requests = new Map(); // start id -> form fields
    this.answers = []; // form_post bodies received at the redirect URI
    this.waiters = [];
    this.server = createServer((req, res) => this.serve(req, res));
  }

  async stop() { await new Promise((r) => this.server.close(r)); }

  serve(req, res) {
    const url = new URL(req.url, this.origin);
    const json = (v) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(v)); };
    if (req.method === 'GET' && url.pathname === '/' + this.tenant + '/v2.0/.well-known/openid-configuration') {
      return json({ issuer: this.issuer, jwks_uri: this.origin + '/' + this.tenant + '/discovery/v2.0/keys',
        authorization_endpoint: this.origin + '/' + this.tenant + '/oauth2/v2.0/authorize', response_types_supported: ['code', 'id_token'],
        subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (req.method === 'GET' && url.pathname === '/' + this.tenant + '/discovery/v2.0/keys') return json({ keys: [this.jwk] });
    if (req.method === 'GET' && url.pathname.startsWith('/start/')) {
      // The page Entra's sign-in would be: a form POSTed to the provider.
      const r = this.requests.get(url.pathname.slice(7));
      if (!r) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Entra</title><form id="eam" method="post" action="' + esc(r.action) + '">' +
        Object.entries(r.fields).map(([k, v]) => '<input type="hidden" name="' + esc(k) + '" value="' + esc(v) + '">').join('') +
        '<button id="go" type="submit">Continue</button></form>');
      return;
    }
    if (req.method === 'POST' && url.pathname === '/federation/externalauthprovider') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const fields = Object.fromEntries(new URLSearchParams(body));
        this.answers.push({ contentType: req.headers['content-type'], fields });
        for (const w of this.waiters.splice(0)) w();
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>callback</title><p id="callback">received</p>');
      });
      return;
    }
    res.writeHead(404);
    res.end();
  }

  // hint signs an id_token_hint like Entra's (reference, "Default
  // id_token_hint claims"): issued as expired, so exp is before iat.
  hint(clientID, user, extra) {
    const now = Math.floor(Date.now() / 1000);
    const claims = Object.assign({
      ver: '2.0', iss: this.issuer, aud: clientID, sub: b64u(randomBytes(24)), oid: randomUUID(), tid: this.tenant,
      preferred_username: user + '@example.ac.jp', name: 'Test User ' + user, iat: now, nbf: now, exp: now - 1,
    }, extra || {});
    const header = { typ: 'JWT', alg: 'RS256', kid: this.kid };
    const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(claims));
    const sig = sign('sha256', Buffer.from(input), this.privateKey);
    return { token: input + '.' + b64u(sig), claims };
  }

  // request prepares an authorization request (reference, "Microsoft Entra
  // ID call to the external identity provider") and returns the URL of the
  // page that POSTs it to authorize, with what the answer must echo.
  request(authorize, clientID, user, opts) {
    const o = opts || {};
    const hint = this.hint(clientID, user);
    const nonce = randomUUID();
    const state = b64u(randomBytes(24));
    const fields = {
      scope: 'openid', response_type: 'id_token', response_mode: 'form_post', client_id: clientID,
      redirect_uri: o.redirectURI || this.redirectURI, nonce, state, id_token_hint: hint.token,
      claims: CLAIMS, 'client-request-id': randomUUID(),
    };
    const id = b64u(randomBytes(9));
    this.requests.set(id, { action: authorize, fields });
    return { url: this.origin + '/start/' + id, nonce, state, hint: hint.claims, fields };
  }

  // answer waits for the form_post whose state is state.
  async answer(state, timeoutMs = 20000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const a = this.answers.find((x) => x.fields.state === state);
      if (a) return a;
      const left = end - Date.now();
      if (left <= 0) throw new Error('no answer at the redirect URI for this state');
      await new Promise((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }
}

// verifyIDToken checks the provider's id_token against its published
// discovery document and keys (reference, "Microsoft Entra ID processing of
// the provider response"), using node:crypto only. Returns the claims.
export async function verifyIDToken(provider, token, want) {
  const disc = await (await fetch(provider + '/.well-known/openid-configuration')).json();
  if (disc.issuer !== provider) throw new Error('discovery issuer ' + disc.issuer + ' is not ' + provider);
  const jwks = await (await fetch(disc.jwks_uri)).json();
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('id_token is not a compact JWS');
  const header = JSON.parse(fromB64u(parts[0]));
  const claims = JSON.parse(fromB64u(parts[1]));
  if (header.alg !== 'RS256') throw new Error('alg ' + header.alg);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error('no published key has kid ' + header.kid);
  const pub = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: 'jwk' });
  if (!jwk.x5c || !jwk.x5c.length) throw new Error('the JWK has no x5c');
  const cert = new X509Certificate(Buffer.from(jwk.x5c[0], 'base64'));
  const spki = (k) => k.export({ format: 'der', type: 'spki' }).toString('hex');
  if (spki(cert.publicKey) !== spki(pub)) throw new Error("the x5c certificate holds another key than the JWK's n/e");
  if (!verify('sha256', Buffer.from(parts[0] + '.' + parts[1]), pub, fromB64u(parts[2]))) throw new Error('the id_token signature does not verify');
  const now = Math.floor(Date.now() / 1000);
  const problems = [];
  const check = (ok, what) => { if (!ok) problems.push(what); };
  check(claims.iss === disc.issuer, 'iss ' + claims.iss);
  check(claims.aud === want.aud || (Array.isArray(claims.aud) && claims.aud.length === 1 && claims.aud[0] === want.aud), 'aud ' + JSON.stringify(claims.aud));
  check(claims.sub === want.hint.sub, 'sub is not the hint\'s');
  check(claims.oid === want.hint.oid, 'oid not copied');
  check(claims.tid === want.hint.tid, 'tid not copied');
  check(claims.nonce === want.nonce, 'nonce not echoed');
  check(Number.isInteger(claims.iat) && Math.abs(claims.iat - now) <= 120, 'iat ' + claims.iat);
  check(Number.isInteger(claims.exp) && claims.exp > now && claims.exp - claims.iat <= 600, 'exp ' + claims.exp);
  check(claims.acr === 'possessionorinherence', 'acr ' + claims.acr);
  check(Array.isArray(claims.amr) && claims.amr.length === 1 && claims.amr[0] === want.amr, 'amr ' + JSON.stringify(claims.amr));
  if (problems.length) throw new Error('id_token: ' + problems.join('; '));
  return claims;
}

// softkeyPrivateKey unwraps a credential ID made by the demo's software
// key (device/softkey/crypto.go wrapCredential: version(1) ‖ nonce(12) ‖
// AES-256-GCM seal(scalar(32) ‖ credProtect(1) ‖ flags(1)) under the
// state file's 32-byte master secret, AAD = SHA-256(rpId)) and returns the
// credential's P-256 private key as PKCS#8 DER.
export function softkeyPrivateKey(stateDir, credentialID, rpID) {
  const st = JSON.parse(readFileSync(join(stateDir, 'softkey.json'), 'utf8'));
  const master = Buffer.from(st.master, 'base64');
  const id = Buffer.from(credentialID);
  if (master.length !== 32) throw new Error('softkey master secret is not 32 bytes');
  if (id.length !== 1 + 12 + 34 + 16 || id[0] !== 1) throw new Error('not a version-1 softkey credential ID (' + id.length + ' bytes)');
  const d = createDecipheriv('aes-256-gcm', master, id.subarray(1, 13));
  d.setAAD(createHash('sha256').update(rpID).digest());
  d.setAuthTag(id.subarray(id.length - 16));
  const plain = Buffer.concat([d.update(id.subarray(13, id.length - 16)), d.final()]);
  const scalar = plain.subarray(0, 32);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(scalar);
  const pt = ecdh.getPublicKey(); // 04 ‖ X ‖ Y
  const key = createPrivateKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', d: b64u(scalar), x: b64u(pt.subarray(1, 33)), y: b64u(pt.subarray(33, 65)) } });
  return key.export({ format: 'der', type: 'pkcs8' });
}

// virtualKey gives the page a Chromium virtual authenticator (DevTools
// protocol, WebAuthn domain) holding one non-resident credential.
export async function virtualKey(page, { credentialID, rpID, pkcs8, signCount }) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
    protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
  } });
  await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: {
    credentialId: Buffer.from(credentialID).toString('base64'), isResidentCredential: false, rpId: rpID,
    privateKey: Buffer.from(pkcs8).toString('base64'), signCount,
  } });
  return {
    cdp, authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}
