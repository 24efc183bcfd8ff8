// latchkey as an OpenID Connect provider, driven by the certified relying-party libraries
// people use, against a running latchkey (LATCHKEY_URL and ADMIN_API_KEY, from
// scripts/e2e.sh), with Debian's headless Chromium (playwright-core) as the person's browser:
//   - openid-client (panva, v6) for a public first-party client: discovery,
//     buildAuthorizationUrl with PKCE, the hosted sign-in page filled in the browser,
//     authorizationCodeGrant, fetchUserInfo, refreshTokenGrant; a machine client's
//     clientCredentialsGrant (checked by tokenIntrospection);
//   - examples/oidc/sign-in.mjs, the README's openid-client app, as a second (third-party)
//     client: the consent page, then silent SSO with prompt=none, then RP-initiated logout
//     (buildEndSessionUrl), after which prompt=none answers login_required;
//   - Authlib (tests/clients/oidc_authlib.py, a subprocess): discovery validate(), the code
//     flow with PKCE through this browser, the id_token validated by Authlib.
// Redirects land on small HTTP servers on loopback (this file's and the example app's): the
// browser really follows latchkey's redirects. Requests to any other host are blocked and
// fail the test. Screenshots: test-output/oidc-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { graphql as sharedGraphql, launchChromium } from './support.mjs';

const BASE = process.env.LATCHKEY_URL?.replace(/\/+$/, '');
const ADMIN_KEY = process.env.ADMIN_API_KEY;
assert.ok(BASE, 'LATCHKEY_URL must point at a running latchkey (scripts/e2e.sh sets it)');
assert.ok(ADMIN_KEY, 'ADMIN_API_KEY must be the started server\'s admin key (scripts/e2e.sh exports it)');
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'test-output');
const EXAMPLE = join(ROOT, 'examples/oidc/sign-in.mjs');
const AUTHLIB = join(ROOT, 'tests/clients/oidc_authlib.py');
// A page or a process that never answers fails the test rather than hanging CI.
const TIMEOUT = 30_000;

const rand = Math.random().toString(36).slice(2, 8);
const SLUG = `oidc-${rand}`;
const TENANT_NAME = 'Northwind Traders';
const ISSUER = `${BASE}/t/${SLUG}`;
const PASSWORD = 'correct horse battery staple';
const USER = { email: `ada-${rand}@northwind.example`, username: 'ada' };
// openid-client talks https only unless told: plain http is what this loopback server speaks.
const INSECURE = { execute: [client.allowInsecureRequests] };

let context;
let profile;
let rp; // this file's redirect target: { server, base }
let app; // the example app: { child, base, output }
const allowedHosts = new Set([new URL(BASE).host]);
const foreignRequests = [];
const consoleErrors = [];
// Filled in by before() and the tests, in order.
const state = {};

function graphql(path, query, variables = {}, bearer = undefined) {
  return sharedGraphql(BASE, path, query, variables, bearer, TIMEOUT);
}

const CREATE_CLIENT = `mutation($i: CreateClientInput!) {
  createClient(input: $i) { clientSecret client { id name type redirectUris grantTypes scopes firstParty idTokenSignedResponseAlg } }
}`;

/** Registers a client as the tenant admin; its id and secret (confidential only). */
async function createClient(input) {
  const { createClient: made } = await graphql(`/t/${SLUG}/graphql`, CREATE_CLIENT, { i: input }, state.adminToken);
  assert.equal(made.client.name, input.name);
  assert.equal(made.client.type, input.type);
  assert.equal(made.clientSecret === null, input.type === 'PUBLIC', 'a secret exactly for a confidential client');
  return { id: made.client.id, secret: made.clientSecret ?? undefined, client: made.client };
}

/** A port the kernel says is free now (released for the server that will bind it). */
function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Waits until `lines` (a readline interface) gives a line matching `re`, with a deadline;
 *  every line read meanwhile goes to `seen`. */
function lineMatching(lines, re, seen, what) {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      lines.off('line', onLine);
      fail(new Error(`${what}: no line matching ${re} within ${TIMEOUT} ms; seen:\n${seen.join('\n')}`));
    }, TIMEOUT);
    const onLine = (line) => {
      seen.push(line);
      const m = re.exec(line);
      if (m) {
        clearTimeout(timer);
        lines.off('line', onLine);
        ok(m);
      }
    };
    lines.on('line', onLine);
  });
}

/** The example app (examples/oidc/sign-in.mjs) as a person runs it, for `registered`. */
async function startExampleApp(port, registered) {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { ...process.env, ISSUER, CLIENT_ID: registered.id, CLIENT_SECRET: registered.secret, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  child.stderr.on('data', (d) => output.push(String(d)));
  const exited = new Promise((_, fail) => child.once('close', (code) => fail(new Error(`the example app exited (${code}):\n${output.join('')}`))));
  const lines = createInterface({ input: child.stdout });
  const ready = lineMatching(lines, /^example app at (http:\/\/localhost:\d+) /, output, 'examples/oidc/sign-in.mjs');
  const [, base] = await Promise.race([ready, exited]);
  exited.catch(() => {}); // from here on its exit is the after() hook's business
  assert.equal(base, `http://localhost:${port}`);
  return { child, base, output };
}

/** This file's redirect target: GET /cb/NAME shows what latchkey sent back, as a client's
 *  callback page would (the test, not the page, then uses the answer). */
function startRedirectTarget(port) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, `http://localhost:${port}`);
    const name = /^\/cb\/([\w-]+)$/.exec(url.pathname)?.[1];
    if (!name) {
      res.writeHead(404).end();
      return;
    }
    const got = url.searchParams.has('code') ? 'an authorization code' : `the error ${url.searchParams.get('error')}`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>${name} callback</title></head><body><h1>Back at ${name}</h1><p role="status">latchkey sent ${got}.</p></body></html>`);
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok({ server, base: `http://localhost:${port}` })));
}

/** The main frame's navigation requests from now on, redirect hops included. */
function recordNavigations(page) {
  const urls = [];
  const onRequest = (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) urls.push(req.url());
  };
  page.on('request', onRequest);
  return { urls, stop: () => page.off('request', onRequest) };
}

const latchkeyPage = (urls, path) => urls.filter((u) => u.startsWith(`${ISSUER}${path}`));

before(async () => {
  mkdirSync(OUT, { recursive: true });
  // A tenant of its own, with its first admin, a user and four clients.
  await graphql('/admin/graphql', 'mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }', {
    i: { slug: SLUG, displayName: TENANT_NAME, admin: { email: `owner-${rand}@northwind.example`, username: 'owner', password: PASSWORD } },
  }, ADMIN_KEY);
  state.adminToken = (await graphql(`/t/${SLUG}/graphql`, 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    { i: { identifier: 'owner', password: PASSWORD } })).login.accessToken;
  state.user = (await graphql(`/t/${SLUG}/graphql`,
    'mutation($i: CreateUserInput!) { createUser(input: $i) { id email username emailVerified } }',
    { i: { ...USER, password: PASSWORD } }, state.adminToken)).createUser;

  const [rpPort, appPort] = [await freePort(), await freePort()];
  rp = await startRedirectTarget(rpPort);
  const appBase = `http://localhost:${appPort}`;
  allowedHosts.add(new URL(rp.base).host).add(new URL(appBase).host);

  state.web = await createClient({
    name: 'Northwind Web', type: 'PUBLIC', firstParty: true, redirectUris: [`${rp.base}/cb/web`],
  });
  state.partner = await createClient({
    name: 'Partner Reports', type: 'CONFIDENTIAL', firstParty: false, idTokenSignedResponseAlg: 'EdDSA',
    redirectUris: [`${appBase}/callback`], postLogoutRedirectUris: [`${appBase}/signed-out`],
  });
  state.machine = await createClient({
    name: 'Nightly Billing', type: 'CONFIDENTIAL', grantTypes: ['client_credentials'],
    scopes: ['invoices:read', 'invoices:write'],
  });
  state.authlib = await createClient({
    name: 'Authlib Portal', type: 'CONFIDENTIAL', firstParty: true, redirectUris: [`${rp.base}/cb/authlib`],
  });
  assert.deepEqual(state.web.client.grantTypes, ['authorization_code', 'refresh_token']);
  assert.equal(state.partner.client.idTokenSignedResponseAlg, 'EdDSA');
  app = await startExampleApp(appPort, state.partner);

  ({ context, profile } = await launchChromium({
    allowedHosts,
    timeout: TIMEOUT,
    onForeign: (request) => foreignRequests.push(request.url()),
  }));
  context.on('page', (page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
  });
  state.page = await context.newPage();
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  app?.child.kill();
  await new Promise((ok) => (rp ? rp.server.close(ok) : ok()));
  if (state.adminToken) {
    await graphql('/admin/graphql', 'mutation($s: String!) { deleteTenant(slug: $s) }', { s: SLUG }, ADMIN_KEY);
  }
});

/** The hosted sign-in page: checks what it shows, fills it in as a person would, submits,
 *  and waits until the browser is back at `back` (a URL prefix). latchkey's error page on
 *  the way fails with what it says. */
async function signIn(page, shot, back) {
  await page.getByRole('heading', { name: `Sign in to ${TENANT_NAME}`, exact: true }).waitFor();
  assert.equal(await page.title(), `Sign in · ${TENANT_NAME}`);
  await page.getByLabel('Email or username').fill(USER.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('link', { name: 'Forgot your password?' }).waitFor();
  await page.screenshot({ path: join(OUT, shot) });
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await leftFor(page, back);
}

/** Waits for the browser to arrive at a URL starting with `prefix`; if latchkey shows its
 *  error page instead, fails with the page's words. */
async function leftFor(page, prefix) {
  const refused = page.getByRole('heading', { name: 'This sign-in cannot continue' });
  const arrived = page.waitForURL((u) => u.href.startsWith(prefix)).then(() => null);
  const stopped = refused.waitFor().then(async () => page.getByRole('alert').innerText());
  const why = await Promise.race([arrived, stopped]);
  if (why !== null) assert.fail(`latchkey refused at ${page.url()}: "${why}" (expected to go on to ${prefix})`);
}

test('openid-client: discovery of the tenant issuer', async () => {
  state.webConfig = await client.discovery(new URL(ISSUER), state.web.id, undefined, client.None(), INSECURE);
  const meta = state.webConfig.serverMetadata();
  assert.equal(meta.issuer, ISSUER);
  assert.equal(meta.authorization_endpoint, `${ISSUER}/authorize`);
  assert.equal(meta.end_session_endpoint, `${ISSUER}/logout`);
  assert.ok(meta.supportsPKCE(), 'code_challenge_methods_supported holds S256');
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
});

test('openid-client: code flow with PKCE through the hosted sign-in page (public first-party client)', async () => {
  const { page } = state;
  const verifier = client.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: client.randomState(), expectedNonce: client.randomNonce(), idTokenExpected: true };
  const url = client.buildAuthorizationUrl(state.webConfig, {
    redirect_uri: `${rp.base}/cb/web`,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
  });
  await page.goto(url.href);
  assert.ok(page.url().startsWith(`${ISSUER}/login?request=`), page.url());
  await signIn(page, 'oidc-sign-in.png', `${rp.base}/cb/web?`);
  await page.getByRole('heading', { name: 'Back at web' }).waitFor();
  assert.equal(await page.getByRole('status').innerText(), 'latchkey sent an authorization code.');

  // state, iss (RFC 9207), PKCE and the id_token (signature from the JWKS, iss, aud, nonce,
  // exp, iat) are checked by openid-client before it answers.
  const tokens = await client.authorizationCodeGrant(state.webConfig, new URL(page.url()), checks);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.expires_in > 0);
  assert.equal(tokens.scope, 'openid profile email offline_access');
  assert.equal(typeof tokens.refresh_token, 'string');
  const claims = tokens.claims();
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, state.web.id);
  assert.equal(claims.sub, state.user.id);
  assert.equal(claims.nonce, checks.expectedNonce);
  assert.equal(claims.email, USER.email);
  assert.equal(claims.preferred_username, USER.username);
  assert.deepEqual(claims.amr, ['pwd']);
  assert.equal(typeof claims.sid, 'string');
  assert.ok(Math.abs(claims.auth_time - Date.now() / 1000) < 120, `auth_time ${claims.auth_time}`);

  const info = await client.fetchUserInfo(state.webConfig, tokens.access_token, claims.sub);
  assert.equal(info.sub, state.user.id);
  assert.equal(info.email, USER.email);
  assert.equal(info.email_verified, state.user.emailVerified);
  assert.equal(info.preferred_username, USER.username);
  Object.assign(state, { webTokens: tokens, sid: claims.sid, authTime: claims.auth_time });
});

test('openid-client: refreshTokenGrant rotates the refresh token; the new access token reads userinfo', async () => {
  assert.ok(state.webTokens, 'needs the code flow above');
  const old = state.webTokens;
  const tokens = await client.refreshTokenGrant(state.webConfig, old.refresh_token);
  assert.equal(typeof tokens.access_token, 'string');
  assert.notEqual(tokens.access_token, old.access_token);
  assert.equal(typeof tokens.refresh_token, 'string');
  assert.notEqual(tokens.refresh_token, old.refresh_token, 'a refresh token is used once');
  assert.equal(tokens.scope, 'openid profile email offline_access');
  const info = await client.fetchUserInfo(state.webConfig, tokens.access_token, state.user.id);
  assert.equal(info.email, USER.email);
  state.refreshToken = tokens.refresh_token;
});

test('openid-client: clientCredentialsGrant for a machine client, checked by tokenIntrospection', async () => {
  const config = await client.discovery(new URL(ISSUER), state.machine.id, undefined,
    client.ClientSecretBasic(state.machine.secret), INSECURE);
  const tokens = await client.clientCredentialsGrant(config, { scope: 'invoices:read' });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(tokens.scope, 'invoices:read');
  assert.equal(tokens.refresh_token, undefined, 'no refresh token for client_credentials (RFC 6749 §4.4.3)');
  assert.equal(tokens.id_token, undefined);
  const seen = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(seen.active, true);
  assert.equal(seen.client_id, state.machine.id);
  assert.equal(seen.sub, state.machine.id);
  assert.equal(seen.scope, 'invoices:read');
  // A scope the client was not given: invalid_scope (RFC 6749 §5.2), as the library reads it.
  await assert.rejects(client.clientCredentialsGrant(config, { scope: 'invoices:delete' }), (err) => {
    assert.ok(err instanceof client.ResponseBodyError, err.stack);
    assert.equal(err.error, 'invalid_scope');
    assert.equal(err.status, 400);
    return true;
  });
});

test('a second, third-party client (examples/oidc/sign-in.mjs): the consent page, then signed in without signing in again', async () => {
  assert.ok(state.sid, 'needs the browser session of the sign-in above');
  const { page } = state;
  await page.goto(`${app.base}/`);
  await page.getByRole('heading', { name: 'Example app' }).waitFor();
  await page.getByText('You are not signed in.').waitFor();
  const nav = recordNavigations(page);
  await page.getByRole('link', { name: 'Sign in with latchkey' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${ISSUER}/consent?request=`));
  const heading = `Allow Partner Reports to use your ${TENANT_NAME} account?`;
  await page.getByRole('heading', { name: heading, exact: true }).waitFor();
  assert.deepEqual(await page.getByRole('listitem').allInnerTexts(), [
    'Know who you are (your account id)',
    'See your username',
    'See your email address and whether it is confirmed',
  ]);
  await page.getByRole('button', { name: 'Deny' }).waitFor();
  await page.screenshot({ path: join(OUT, 'oidc-consent.png') });
  // The browser session of the first sign-in answered: no sign-in page on the way.
  assert.deepEqual(latchkeyPage(nav.urls, '/login'), []);

  await page.getByRole('button', { name: 'Allow' }).click();
  await leftFor(page, `${app.base}/`);
  assert.equal(page.url(), `${app.base}/`);
  await page.getByRole('heading', { name: `Signed in as ${USER.username}`, exact: true }).waitFor();
  nav.stop();
  const shown = await accountShown(page);
  assert.equal(shown['Email (userinfo)'], USER.email);
  assert.equal(shown['Subject (sub)'], state.user.id);
  assert.equal(shown['latchkey session (sid)'], state.sid, 'the same latchkey browser session');
  assert.equal(shown['Signed in at latchkey (auth_time)'], new Date(state.authTime * 1000).toISOString());
  assert.equal(shown['Methods (amr)'], 'pwd');
  assert.equal(shown['This sign-in'], 'interactive');
  assert.ok(nav.urls.some((u) => u.startsWith(`${app.base}/callback?code=`)), nav.urls.join('\n'));
  await page.screenshot({ path: join(OUT, 'oidc-consent-signed-in.png') });
});

/** The example app's account list (its <dl>) as { term: value }. */
async function accountShown(page) {
  const list = page.locator('dl');
  const terms = await list.locator('dt').allInnerTexts();
  const values = await list.locator('dd').allInnerTexts();
  assert.equal(terms.length, values.length);
  return Object.fromEntries(terms.map((t, i) => [t, values[i]]));
}

test('silent SSO: prompt=none comes back with a code, no page of latchkey shown', async () => {
  assert.ok(state.sid, 'needs the browser session of the sign-in above');
  const { page } = state;
  const nav = recordNavigations(page);
  await page.goto(`${app.base}/login?prompt=none`);
  await page.waitForURL(`${app.base}/`);
  await page.getByRole('heading', { name: `Signed in as ${USER.username}`, exact: true }).waitFor();
  nav.stop();
  const shown = await accountShown(page);
  assert.equal(shown['This sign-in'], 'silent (prompt=none)');
  assert.equal(shown['latchkey session (sid)'], state.sid);
  const authorize = latchkeyPage(nav.urls, '/authorize?');
  assert.equal(authorize.length, 1, nav.urls.join('\n'));
  assert.equal(new URL(authorize[0]).searchParams.get('prompt'), 'none');
  assert.ok(nav.urls.some((u) => u.startsWith(`${app.base}/callback?code=`)), nav.urls.join('\n'));
  assert.deepEqual(latchkeyPage(nav.urls, '/login'), [], 'no sign-in page');
  assert.deepEqual(latchkeyPage(nav.urls, '/consent'), [], 'no consent page (given before)');
  await page.screenshot({ path: join(OUT, 'oidc-silent-sso.png') });
});

test('RP-initiated logout: buildEndSessionUrl with id_token_hint, back at the registered post_logout_redirect_uri', async () => {
  assert.ok(state.sid, 'needs the browser session of the sign-in above');
  const { page } = state;
  const nav = recordNavigations(page);
  await page.getByRole('link', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.origin === app.base && u.pathname === '/signed-out');
  await page.getByRole('heading', { name: 'Signed out', exact: true }).waitFor();
  assert.equal(await page.getByRole('status').innerText(), 'You are signed out of this app and of latchkey.');
  state.loggedOut = true;
  await page.screenshot({ path: join(OUT, 'oidc-signed-out.png') });
  nav.stop();
  const [logout, ...more] = latchkeyPage(nav.urls, '/logout?');
  assert.deepEqual(more, [], nav.urls.join('\n'));
  const params = new URL(logout).searchParams;
  assert.equal(params.get('post_logout_redirect_uri'), `${app.base}/signed-out`);
  assert.ok(params.get('id_token_hint'), 'the id_token as hint: no confirmation asked');
  assert.equal(params.get('state'), null);
  // RP-Initiated Logout 1.0 §3: the redirection target is the post_logout_redirect_uri
  // value, with state added only when one was sent; none was.
  assert.equal(nav.urls.at(-1), `${app.base}/signed-out`, 'the post_logout_redirect_uri exactly as sent');
});

test('after the logout prompt=none answers login_required, to both clients', async () => {
  assert.ok(state.loggedOut, 'needs the logout above');
  const { page } = state;
  // The example app asks silently again.
  await page.goto(`${app.base}/login?prompt=none`);
  await page.getByRole('heading', { name: 'Not signed in', exact: true }).waitFor();
  assert.match(await page.getByRole('alert').innerText(), /^latchkey answered login_required: /);
  await page.screenshot({ path: join(OUT, 'oidc-login-required.png') });

  // The first client, its answer read by openid-client from its callback.
  const expectedState = client.randomState();
  const url = client.buildAuthorizationUrl(state.webConfig, {
    redirect_uri: `${rp.base}/cb/web`, scope: 'openid', prompt: 'none', state: expectedState,
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  await page.goto(url.href);
  await page.waitForURL((u) => u.href.startsWith(`${rp.base}/cb/web?`));
  assert.equal(await page.getByRole('status').innerText(), 'latchkey sent the error login_required.');
  await assert.rejects(client.authorizationCodeGrant(state.webConfig, new URL(page.url()), { expectedState }), (err) => {
    assert.ok(err instanceof client.AuthorizationResponseError, err.stack);
    assert.equal(err.error, 'login_required');
    return true;
  });
});

test('the logout ended the client sessions of that browser session: the refreshed token is refused', async () => {
  assert.ok(state.loggedOut && state.refreshToken, 'needs the refresh and the logout above');
  // latchkey's own promise (its logout "ends the client sessions it started", as the Rust
  // test rp_initiated_logout checks for a token that was never refreshed).
  let refreshed;
  try {
    refreshed = await client.refreshTokenGrant(state.webConfig, state.refreshToken);
  } catch (err) {
    assert.ok(err instanceof client.ResponseBodyError, err.stack);
    assert.equal(err.error, 'invalid_grant');
    assert.equal(err.status, 400);
    return;
  }
  const info = await client.fetchUserInfo(state.webConfig, refreshed.access_token, state.user.id);
  assert.fail(`after the logout the token endpoint still refreshed (a new access token, whose userinfo names ${info.preferred_username})`);
});

test('Authlib: discovery validate(), code flow with PKCE through the browser, id_token validated', async () => {
  const { page } = state;
  const py = spawn('python3', [AUTHLIB], {
    env: {
      ...process.env, TENANT: SLUG, CLIENT_ID: state.authlib.id, CLIENT_SECRET: state.authlib.secret,
      REDIRECT_URI: `${rp.base}/cb/authlib`, PYTHONUNBUFFERED: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  try {
    const stderr = [];
    py.stderr.on('data', (d) => stderr.push(String(d)));
    // 'close': after its output was read to the end.
    const exit = new Promise((ok) => py.once('close', (code) => ok(code)));
    const lines = createInterface({ input: py.stdout });
    const seen = [];
    lines.on('line', (line) => {
      if (line.startsWith('authlib: ')) console.log(line);
    });
    const early = exit.then((code) => {
      throw new Error(`oidc_authlib.py exited ${code} early:\n${seen.join('\n')}\n${stderr.join('')}`);
    });
    early.catch(() => {});
    const [, authorizeUrl] = await Promise.race([lineMatching(lines, /^authorize (\S+)$/, seen, 'oidc_authlib.py'), early]);
    assert.ok(seen.some((l) => l.startsWith('authlib: discovery validate() passed')), seen.join('\n'));
    const asked = new URL(authorizeUrl);
    assert.equal(asked.origin + asked.pathname, `${ISSUER}/authorize`);
    assert.equal(asked.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(asked.searchParams.get('prompt'), 'login');

    await page.goto(authorizeUrl);
    await signIn(page, 'oidc-authlib-sign-in.png', `${rp.base}/cb/authlib?`);
    assert.equal(await page.getByRole('status').innerText(), 'latchkey sent an authorization code.');
    const result = lineMatching(lines, /^result (.*)$/, seen, 'oidc_authlib.py');
    py.stdin.end(`${page.url()}\n`);
    const [, json] = await Promise.race([result, early]);
    assert.equal(await exit, 0, stderr.join(''));
    const got = JSON.parse(json);
    assert.equal(got.sub, state.user.id);
    assert.equal(got.email, USER.email);
    assert.equal(got.preferred_username, USER.username);
    assert.equal(got.alg, 'RS256');
    assert.deepEqual(got.amr, ['pwd']);
    for (const line of ['authlib: code exchanged', 'authlib: id_token validated', 'authlib: userinfo: sub matches']) {
      assert.ok(seen.some((l) => l.startsWith(line)), `${line}…\n${seen.join('\n')}`);
    }
  } finally {
    if (py.exitCode === null) py.kill();
  }
});

test('README\'s "Sign in with latchkey (OIDC)" quotes examples/oidc/sign-in.mjs unchanged', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Sign in with latchkey (OIDC)\n');
  assert.ok(start >= 0, 'README.md has the section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const excerpts = [...section.matchAll(/^```js\n(.*?)^```$/gms)].map((m) => m[1]);
  assert.ok(excerpts.length >= 3, `js excerpts: ${excerpts.length}`);
  const source = readFileSync(EXAMPLE, 'utf8');
  for (const e of excerpts) assert.ok(source.includes(e), `not in examples/oidc/sign-in.mjs as written:\n${e}`);
  // The client the README registers is the one the app expects by default (port 3000).
  for (const uri of ['http://localhost:3000/callback', 'http://localhost:3000/signed-out']) {
    assert.ok(section.includes(`"${uri}"`), uri);
  }
  assert.match(source, /process\.env\.PORT \?\? 3000/);
});

test('no request left for another host and no page logged an error', () => {
  assert.deepEqual(foreignRequests, []);
  assert.deepEqual(consoleErrors, []);
});
