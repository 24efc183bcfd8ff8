// Signing in through an upstream OpenID provider, as a person does it in Chromium: the
// tenant's hosted sign-in page shows one "Continue with ..." button per provider (two here),
// a click goes through latchkey's /start to the upstream (npm oidc-provider, started here on
// 127.0.0.1 from tests/upstream), its sign-in and consent pages are filled in, and the
// browser comes back through latchkey's callback to the relying party with its code.
// Runs against the server scripts/e2e.sh started (LATCHKEY_URL, ADMIN_API_KEY, with
// OUTBOUND_ALLOW_PRIVATE_NETWORKS=true). Requests to any other host fail the test.
// Screenshots: test-output/federation-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { graphql as sharedGraphql, launchChromium } from './support.mjs';

const BASE = process.env.LATCHKEY_URL?.replace(/\/+$/, '');
const ADMIN_KEY = process.env.ADMIN_API_KEY;
assert.ok(BASE && ADMIN_KEY, 'LATCHKEY_URL and ADMIN_API_KEY (scripts/e2e.sh sets them)');
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'test-output');
const TIMEOUT = 30_000;
const rand = Math.random().toString(36).slice(2, 8);
const SLUG = `fed-${rand}`;
const TENANT_NAME = 'Contoso Travel';
const PASSWORD = 'correct horse battery staple';

let context;
let profile;
let upstream; // { child, issuer }
let rp; // { server, base, hits }
const allowedHosts = new Set([new URL(BASE).host]);
const foreignRequests = [];
const state = {};

function graphql(path, query, variables = {}, bearer = undefined) {
  return sharedGraphql(BASE, path, query, variables, bearer, TIMEOUT);
}

/** The upstream provider, started with its development sign-in; resolves once it listens. */
function startUpstream() {
  const child = spawn(process.execPath, [join(ROOT, 'tests/upstream/upstream.mjs'), '{}'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('the upstream did not start')), TIMEOUT);
    lines.once('line', (line) => {
      clearTimeout(timer);
      lines.on('line', () => {});
      ok({ child, issuer: JSON.parse(line).issuer });
    });
  });
}

/** The relying party's redirect target on loopback: records what it was sent. */
function startRp() {
  const hits = [];
  const server = createServer((req, res) => {
    hits.push(req.url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Contoso app</title><h1>Back at the app</h1>');
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    ok({ server, hits, base: `http://localhost:${server.address().port}` });
  }));
}

/** A provider for the upstream named `name`, with latchkey's client registered there. */
async function addProvider(name) {
  const { createIdentityProvider: p } = await graphql(`/t/${SLUG}/graphql`,
    'mutation($i: CreateIdentityProviderInput!) { createIdentityProvider(input: $i) { id redirectUri buttonLabel } }',
    { i: { kind: 'OIDC', name, issuer: upstream.issuer, clientId: 'pending' } }, state.admin);
  const reg = await (await fetch(`${upstream.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [p.redirectUri], grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic' }),
  })).json();
  await graphql(`/t/${SLUG}/graphql`,
    'mutation($id: ID!, $i: UpdateIdentityProviderInput!) { updateIdentityProvider(id: $id, input: $i) { clientSecretSet } }',
    { id: p.id, i: { clientId: reg.client_id, clientSecret: reg.client_secret } }, state.admin);
  return p;
}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  await graphql('/admin/graphql', 'mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }', {
    i: { slug: SLUG, displayName: TENANT_NAME, admin: { email: `owner-${rand}@contoso.example`, username: 'owner', password: PASSWORD } },
  }, ADMIN_KEY);
  state.admin = (await graphql(`/t/${SLUG}/graphql`, 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    { i: { identifier: 'owner', password: PASSWORD } })).login.accessToken;
  upstream = await startUpstream();
  rp = await startRp();
  allowedHosts.add(new URL(upstream.issuer).host).add(new URL(rp.base).host);
  state.client = (await graphql(`/t/${SLUG}/graphql`,
    'mutation($i: CreateClientInput!) { createClient(input: $i) { client { id } } }',
    { i: { name: 'Contoso app', type: 'PUBLIC', firstParty: true, redirectUris: [`${rp.base}/cb`] } }, state.admin)).createClient.client.id;
  state.work = await addProvider('Contoso Workforce');
  state.partners = await addProvider('Partner Directory');

  ({ context, profile } = await launchChromium({
    allowedHosts,
    timeout: TIMEOUT,
    onForeign: (request) => {
      let from = '';
      try { from = request.frame().url(); } catch { /* a request of no frame */ }
      foreignRequests.push({ url: request.url(), from });
    },
  }));
  state.page = await context.newPage();
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  upstream?.child.kill();
  await new Promise((ok) => (rp ? rp.server.close(ok) : ok()));
  if (state.admin) await graphql('/admin/graphql', 'mutation($s: String!) { deleteTenant(slug: $s) }', { s: SLUG }, ADMIN_KEY);
});

test('the hosted sign-in page offers both providers and a click signs in through the upstream', async () => {
  const page = state.page;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL(`${BASE}/t/${SLUG}/authorize`);
  for (const [k, v] of Object.entries({
    client_id: state.client, redirect_uri: `${rp.base}/cb`, response_type: 'code', scope: 'openid email',
    state: 'st-fed', code_challenge: challenge, code_challenge_method: 'S256',
  })) authorize.searchParams.set(k, v);
  await page.goto(authorize.href);
  await page.getByRole('heading', { name: `Sign in to ${TENANT_NAME}`, exact: true }).waitFor();
  const work = page.getByRole('link', { name: 'Continue with Contoso Workforce', exact: true });
  const partners = page.getByRole('link', { name: 'Continue with Partner Directory', exact: true });
  await work.waitFor();
  await partners.waitFor();
  // The password form is still there, below the providers.
  await page.getByLabel('Password').waitFor();
  await page.screenshot({ path: join(OUT, 'federation-1-sign-in-page.png') });

  await work.click();
  // The upstream's own sign-in page (oidc-provider's development interaction).
  await page.waitForURL((u) => u.href.startsWith(upstream.issuer));
  await page.locator('input[name=login]').fill('ada');
  await page.locator('input[name=password]').fill('anything');
  await page.screenshot({ path: join(OUT, 'federation-2-upstream-sign-in.png') });
  await page.locator('button[type=submit]').click();
  // Its consent page, then back through latchkey to the app.
  await page.locator('input[name=prompt][value=consent]').waitFor({ state: 'attached' });
  await page.screenshot({ path: join(OUT, 'federation-3-upstream-consent.png') });
  await page.locator('button[type=submit]').click();
  await page.waitForURL((u) => u.href.startsWith(`${rp.base}/cb`));
  await page.getByRole('heading', { name: 'Back at the app' }).waitFor();
  await page.screenshot({ path: join(OUT, 'federation-4-back-at-the-app.png') });
  const back = new URL(page.url());
  assert.equal(back.searchParams.get('state'), 'st-fed');
  assert.equal(back.searchParams.get('iss'), `${BASE}/t/${SLUG}`);
  const code = back.searchParams.get('code');
  assert.ok(code, page.url());

  // The code is the app's: exchanged with its verifier, for a user made from the upstream's.
  const res = await fetch(`${BASE}/t/${SLUG}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${rp.base}/cb`,
      client_id: state.client, code_verifier: verifier }),
  });
  const tokens = await res.json();
  assert.equal(res.status, 200, JSON.stringify(tokens));
  const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
  assert.equal(claims.email, 'ada@upstream.example');
  assert.deepEqual(claims.amr, ['fed']);
  // Nothing left loopback: every other request was blocked. oidc-provider's development pages
  // (the upstream fixture, not latchkey) link a Google font; latchkey's pages asked for nothing.
  assert.deepEqual(foreignRequests.filter((r) => !r.from.startsWith(upstream.issuer)), []);
  assert.ok(foreignRequests.every((r) => r.url.startsWith('https://fonts.googleapis.com/')), JSON.stringify(foreignRequests));
});
