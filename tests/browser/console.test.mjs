// The admin console (/t/{tenant}/console and /console) driven in Debian's headless Chromium
// as a person would, against a running latchkey (LATCHKEY_URL, ADMIN_API_KEY from
// scripts/e2e.sh): signing in through the tenant's hosted sign-in page, searching a user,
// revoking a session, disabling and enabling, creating an app and copying its secret, a
// setting refused with the server's message next to the field, rotating a key, filtering
// the audit log, a FORBIDDEN banner, the "not an admin" page; on the platform console a
// wrong key, then creating and finding a tenant among many. Every screen is scanned by
// axe-core (no serious or critical violation), and requests off latchkey's host are blocked
// and fail the test (the console works with the network cable pulled). What the test checks
// is what is on the screen; the API is asked only to set up and to confirm a change landed.
// Screenshots: test-output/console-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graphql as sharedGraphql, launchChromium } from './support.mjs';

const BASE = process.env.LATCHKEY_URL?.replace(/\/+$/, '');
const ADMIN_KEY = process.env.ADMIN_API_KEY;
assert.ok(BASE, 'LATCHKEY_URL must point at a running latchkey (scripts/e2e.sh sets it)');
assert.ok(ADMIN_KEY, 'ADMIN_API_KEY must be the started server\'s admin key (scripts/e2e.sh exports it)');
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'test-output');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TIMEOUT = 30_000;

const rand = Math.random().toString(36).slice(2, 8);
const SLUG = `console-${rand}`;
const NAME = 'Contoso Pharmaceuticals';
const PASSWORD = 'correct horse battery staple';
const ADMIN = { email: `root-${rand}@contoso.example`, username: 'root' };
const GRACE = { email: `grace-${rand}@contoso.example`, username: 'grace' };

let context;
let profile;
let page;
const foreign = [];
const pageErrors = [];
const state = {};

const gql = (path, query, variables, bearer) => sharedGraphql(BASE, path, query, variables, bearer, TIMEOUT);
const platform = (query, variables) => gql('/admin/graphql', query, variables, ADMIN_KEY);
const tenant = (query, variables, bearer) => gql(`/t/${SLUG}/graphql`, query, variables, bearer);
const login = async (who) =>
  (await tenant('mutation($i: LoginInput!) { login(input: $i) { accessToken user { id } } }', { i: { identifier: who.email, password: PASSWORD } })).login;

/** axe-core on the page as it is now: no serious or critical violation. */
async function axe(what) {
  // Through DevTools, not a <script> tag: the console's policy forbids inline script, and
  // must stay on while it is scanned.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${what}: axe-core violations ${JSON.stringify(bad, null, 1)}`);
  state.scanned = (state.scanned ?? 0) + 1;
}

const shot = (name) => page.screenshot({ path: join(OUT, `console-${name}.png`), fullPage: true });
const heading = (name) => page.getByRole('heading', { level: 1, name, exact: true });
const banner = () => page.locator('.banner');

before(async () => {
  mkdirSync(OUT, { recursive: true });
  await platform('mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }', {
    i: { slug: SLUG, displayName: NAME, admin: { ...ADMIN, password: PASSWORD } },
  });
  const admin = await login(ADMIN);
  state.adminId = admin.user.id;
  state.adminToken = admin.accessToken;
  const g = await tenant(
    'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
    { i: { ...GRACE, password: PASSWORD, emailVerified: true } },
    admin.accessToken,
  );
  state.graceId = g.createUser.id;
  // Two sessions of Grace's, for the sessions list.
  await login(GRACE);
  await login(GRACE);
  ({ context, profile } = await launchChromium({
    allowedHosts: new Set([new URL(BASE).host]),
    onForeign: (r) => foreign.push(r.url()),
    viewport: { width: 1280, height: 860 },
    timeout: TIMEOUT,
  }));
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  assert.deepEqual(foreign, [], 'the console asked for something off latchkey\'s host');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});

test('the tenant console signs in through the hosted sign-in page (code + PKCE) and keeps no token in storage', async () => {
  // The page sends the browser on to the sign-in page at once: wait for the answer only.
  const res = await page.goto(`${BASE}/t/${SLUG}/console`, { waitUntil: 'commit' });
  // The page's policy: its own scripts only, no framing.
  const csp = res.headers()['content-security-policy'] ?? '';
  await page.getByRole('heading', { name: `Sign in to ${NAME}`, exact: true }).waitFor();
  const authorize = new URL(page.url());
  assert.equal(authorize.pathname, `/t/${SLUG}/login`);
  await page.getByLabel('Email or username').fill(ADMIN.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await heading('Users').waitFor();
  assert.equal(new URL(page.url()).search, '', 'the code is gone from the address');
  assert.match(await page.locator('header').innerText(), new RegExp(ADMIN.email));
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  const stored = await page.evaluate(() => ({
    local: JSON.stringify(localStorage),
    session: JSON.stringify(sessionStorage),
    cookie: document.cookie,
  }));
  for (const [where, text] of Object.entries(stored)) {
    assert.doesNotMatch(text, /eyJ|access_token|refresh_token/, `${where} holds a token: ${text}`);
  }
  assert.equal(stored.session, '{}', 'the PKCE verifier is removed on return');
  await page.getByRole('status').filter({ hasText: '1–2 of 2 users' }).waitFor();
  await axe('users list');
  await shot('users');
});

test('search a user as you type; open their page', async () => {
  await page.getByLabel('Search by email or username').fill('gra');
  await page.getByRole('status').filter({ hasText: '1–1 of 1 users' }).waitFor();
  const rows = page.locator('tbody tr');
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().innerText(), new RegExp(GRACE.email));
  await page.getByRole('link', { name: GRACE.email }).click();
  await heading(GRACE.email).waitFor();
  await page.getByRole('heading', { name: 'Sessions' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /^Revoke the session started/ }).count(), 2);
  await axe('user page');
  await shot('user');
});

test('revoke one session of a user; the API agrees', async () => {
  await page.getByRole('button', { name: /^Revoke the session started/ }).first().click();
  await page.getByRole('status').filter({ hasText: 'Session revoked.' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('button[aria-label^="Revoke the session started"]').length === 1);
  const { user } = await tenant('query($id: ID!) { user(id: $id) { sessions { id } } }', { id: state.graceId }, state.adminToken);
  assert.equal(user.sessions.length, 1);
});

test('disable a user (sign-in then refused), then enable them, from the keyboard', async () => {
  // Keyboard only: Tab to the button, Enter.
  await page.getByRole('link', { name: 'Users' }).first().focus();
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement?.textContent === 'Disable user');
  }
  assert.ok(found, 'the Disable button is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'User disabled; their sessions are revoked.' }).waitFor();
  await page.locator('.title-row .tag.bad', { hasText: 'disabled' }).waitFor();
  const refused = await fetch(`${BASE}/t/${SLUG}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }', variables: { i: { identifier: GRACE.email, password: PASSWORD } } }),
  }).then((r) => r.json());
  assert.equal(refused.errors?.[0]?.extensions?.code, 'ACCOUNT_DISABLED');
  await shot('user-disabled');
  await page.getByRole('button', { name: 'Enable user' }).click();
  await page.getByRole('status').filter({ hasText: 'User enabled.' }).waitFor();
  await page.locator('.title-row .tag.good', { hasText: 'active' }).waitFor();
  await login(GRACE);
});

test('create a confidential app; its secret is shown once, copied, and works at the token endpoint', async () => {
  await page.getByRole('link', { name: 'Applications' }).click();
  await heading('Applications').waitFor();
  await axe('applications');
  await page.getByRole('link', { name: 'Create application' }).click();
  await heading('Create application').waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Billing backend');
  await page.getByLabel('Type').selectOption('CONFIDENTIAL');
  await page.getByLabel('Redirect URIs', { exact: true }).fill('https://billing.contoso.example/callback');
  await page.getByLabel('client_credentials').check();
  await axe('create application');
  await page.getByRole('button', { name: 'Create application' }).click();
  await heading('Application created').waitFor();
  const secret = await page.locator('.secret-value').innerText();
  const clientId = await page.locator('main p code').first().innerText();
  assert.ok(secret.length >= 32, secret);
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await shot('app-secret');
  const token = await fetch(`${BASE}/t/${SLUG}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  assert.equal(token.status, 200, await token.clone().text());
  // Gone once the page changes: the app's page offers rotation, not the secret.
  await page.getByRole('link', { name: 'Go to the application' }).click();
  await heading('Billing backend').waitFor();
  assert.equal(await page.locator('.secret-value').count(), 0);
  await axe('application page');
});

test('a setting the server refuses shows its message next to the field; a good one saves', async () => {
  await page.getByRole('link', { name: 'Settings' }).click();
  await heading('Settings').waitFor();
  const field = page.getByLabel('Access token lifetime (minutes)');
  await field.fill('5000');
  await page.getByRole('button', { name: 'Save settings' }).click();
  const message = page.locator('.field.invalid .field-error');
  await message.waitFor();
  assert.match(await message.innerText(), /accessTokenMinutes/);
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  await axe('settings with an error');
  await shot('settings-error');
  await field.fill('30');
  // What a directory's DELETE does, as a person reads the choice.
  await page.getByLabel('When a directory deletes a user (SCIM)').selectOption({ label: 'Disable the account and keep it, for audit' });
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
  const { tenantSettings } = await tenant('{ tenantSettings { accessTokenMinutes scimDeprovision } }', {}, state.adminToken);
  assert.equal(tenantSettings.accessTokenMinutes, 30);
  assert.equal(tenantSettings.scimDeprovision, 'DISABLE');
});

test('rotate the signing key; the emergency rotation says what it breaks, and the console survives it', async () => {
  await page.getByRole('link', { name: 'Signing keys' }).click();
  await heading('Signing keys').waitFor();
  const before = await page.locator('tbody tr').count();
  await page.getByRole('button', { name: 'Emergency rotation…' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /stops verifying immediately/);
  await axe('emergency rotation dialog');
  // Focus starts on Cancel: Enter here destroys nothing.
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
  await page.keyboard.press('Enter');
  await dialog.waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'Rotate key' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Rotate key' }).click();
  await page.getByRole('status').filter({ hasText: /^New key .* is published and signs in 6 minutes\.$/ }).waitFor();
  await page.locator('tbody tr .tag', { hasText: 'published, signs soon' }).first().waitFor();
  assert.ok((await page.locator('tbody tr').count()) > before);
  await axe('signing keys');
  await shot('keys');
  // The emergency: the console's own access token was signed by a key it revokes; the page
  // refreshes its token (the session lives on) and goes on, as the dialog promised.
  await page.getByRole('button', { name: 'Emergency rotation…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Rotate now and revoke the old keys' }).click();
  await page.getByRole('status').filter({ hasText: /^New key .* signs now; the earlier keys are revoked\.$/ }).waitFor();
  await page.locator('tbody tr .tag', { hasText: 'revoked' }).first().waitFor();
  assert.equal(await page.getByText('Your sign-in has ended').count(), 0);
  await page.getByRole('link', { name: 'Users' }).first().click();
  await page.getByRole('status').filter({ hasText: '1–2 of 2 users' }).waitFor();
  // This file's own API token died with the old keys too.
  state.adminToken = (await login(ADMIN)).accessToken;
});

test('filter the audit log by kind', async () => {
  await page.getByRole('link', { name: 'Audit log' }).click();
  await heading('Audit log').waitFor();
  await page.getByLabel('Kind').fill('user_disabled');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByRole('status').filter({ hasText: '1–1 of 1 events' }).waitFor();
  const kinds = await page.locator('tbody tr td:nth-child(2)').allInnerTexts();
  assert.deepEqual(kinds, ['user_disabled']);
  await axe('audit log');
  await shot('audit');
});

test('identity providers screen lists and adds', async () => {
  await page.getByRole('link', { name: 'Identity providers' }).click();
  await heading('Identity providers').waitFor();
  await page.getByText('No providers yet.').waitFor();
  await page.getByRole('link', { name: 'Add provider' }).click();
  await heading('Add identity provider').waitFor();
  await page.getByLabel('Kind').selectOption('GITHUB');
  await page.getByLabel('Name', { exact: true }).fill('GitHub');
  await page.getByLabel('Client id at the provider').fill('Iv1.console-test');
  await page.getByLabel('Client secret').fill('not-shown-again');
  await axe('add identity provider');
  await page.getByRole('button', { name: 'Add provider' }).click();
  await heading('GitHub').waitFor();
  await page.getByText('Set. Leave empty to keep it.').waitFor();
  assert.equal(await page.getByLabel('Client secret').inputValue(), '', 'the secret is write-only');
  await page.getByRole('link', { name: 'Identity providers' }).first().click();
  await page.getByRole('button', { name: 'Disable GitHub' }).click();
  await page.getByRole('status').filter({ hasText: 'GitHub disabled.' }).waitFor();
  await axe('identity providers');
});

test('add a webhook: its secret shown once; a test event lands in its delivery log', async () => {
  await page.getByRole('link', { name: 'Webhooks' }).click();
  await heading('Webhooks').waitFor();
  await page.getByText('No webhooks yet.').waitFor();
  await page.getByRole('link', { name: 'Add webhook' }).click();
  await heading('Add webhook').waitFor();
  // Nothing listens there: the delivery log shows the refused connection.
  await page.getByLabel('URL').fill('http://127.0.0.1:9/hook');
  await page.getByLabel('Events').fill('user.created, user.deleted');
  await page.getByLabel('Description').fill('CRM sync');
  await axe('add webhook');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await heading('Webhook added').waitFor();
  assert.match(await page.locator('.secret-value').innerText(), /^whsec_/);
  await page.getByRole('link', { name: 'Go to the webhook' }).click();
  await heading('http://127.0.0.1:9/hook').waitFor();
  await page.getByRole('button', { name: 'Send test event' }).click();
  await page.getByRole('status').filter({ hasText: 'Test event sent.' }).waitFor();
  // The attempt is made within a second or so; the page shows it after a reload of the log.
  const row = page.locator('tbody tr', { hasText: 'webhook.test' });
  for (let i = 0; i < 100 && !(await row.innerText().catch(() => '')).includes('unreachable'); i++) {
    await page.getByLabel('Status').selectOption(i % 2 ? '' : 'PENDING');
    await page.getByLabel('Status').selectOption('');
  }
  assert.match(await row.innerText(), /unreachable/);
  await axe('webhook page');
  await shot('webhook');
});

test('organizations: create one, a domain refused then added, the sign-in policy, a member, an invitation mailed then revoked', async () => {
  // Invitations need the app's page to land on (set up through the API: not what is tested here).
  await tenant(
    'mutation { updateTenantSettings(input: {invitationUrlTemplate: "https://app.contoso.example/join?token={token}"}) { invitationUrlTemplate } }',
    {},
    state.adminToken,
  );
  await page.getByRole('link', { name: 'Organizations' }).click();
  await heading('Organizations').waitFor();
  await page.getByRole('status').filter({ hasText: 'No organizations' }).waitFor();
  await page.getByRole('link', { name: 'Create organization' }).click();
  await heading('Create organization').waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Fabrikam');
  await axe('create organization');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await heading('Fabrikam').waitFor();
  // A public mail provider's domain is refused, with the reason next to the field.
  const domain = page.getByLabel('Domain', { exact: true });
  await domain.fill('gmail.com');
  await page.getByRole('button', { name: 'Add domain' }).click();
  await page.locator('.field-error', { hasText: "public mail provider's" }).waitFor();
  await domain.fill('fabrikam.example');
  await page.getByRole('button', { name: 'Add domain' }).click();
  await page.getByRole('status').filter({ hasText: 'Domain added.' }).waitFor();
  await page.locator('.plain-list code', { hasText: 'fabrikam.example' }).waitFor();
  // The policy needs the organization's provider: said next to the box; then chosen and saved.
  await page.getByLabel('Addresses of its domains must sign in through its provider (no password)').check();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('.field-error', { hasText: "needs the organization's identityProviderId" }).waitFor();
  await page.getByLabel('Its own identity provider').selectOption({ label: 'GitHub' });
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Organization saved.' }).waitFor();
  // Grace becomes a member.
  await page.getByLabel('Email of an existing user').fill(GRACE.email);
  await page.getByRole('button', { name: 'Add member' }).click();
  await page.getByRole('status').filter({ hasText: 'Member added.' }).waitFor();
  await page.getByRole('link', { name: GRACE.email }).waitFor();
  await page.getByRole('status').filter({ hasText: '1 member (the first 50 shown)' }).waitFor();
  // Someone new is invited: mailed, listed as pending.
  const invitee = `new-hire-${rand}@fabrikam.example`;
  await page.getByLabel('Email to invite').fill(invitee);
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await page.getByRole('status').filter({ hasText: `Invitation mailed to ${invitee}.` }).waitFor();
  const row = page.locator('tbody tr', { hasText: invitee });
  assert.match(await row.innerText(), /pending/);
  await axe('organization page');
  await shot('organization');
  await page.getByRole('button', { name: `Revoke the invitation of ${invitee}` }).click();
  await page.getByRole('status').filter({ hasText: 'Invitation revoked.' }).waitFor();
  await row.filter({ hasText: 'revoked' }).waitFor();
  // The API agrees with the page.
  const api = await tenant(
    'query { organizations(search: "fabrikam") { edges { node { memberCount ssoRequired identityProviderId domains { domain } invitations { edges { node { email state } } } } } } }',
    {},
    state.adminToken,
  );
  const o = api.organizations.edges[0].node;
  assert.equal(o.memberCount, 1);
  assert.equal(o.ssoRequired, true);
  assert.ok(o.identityProviderId);
  assert.deepEqual(o.domains, [{ domain: 'fabrikam.example' }]);
  assert.deepEqual(o.invitations.edges.map((e) => e.node), [{ email: invitee, state: 'REVOKED' }]);
  // Listed, with its policy.
  await page.getByRole('link', { name: 'Organizations' }).first().click();
  await heading('Organizations').waitFor();
  const listed = page.locator('tbody tr', { hasText: 'Fabrikam' });
  await listed.waitFor();
  assert.match(await listed.innerText(), /its provider only/);
  await axe('organizations list');
  await shot('organizations');
});

test('SCIM provisioning: a token confined to an organization is shown once, copied and works; revoked, it is refused', async () => {
  await page.getByRole('link', { name: 'SCIM provisioning' }).click();
  await heading('SCIM provisioning').waitFor();
  await page.getByText('No SCIM tokens yet.').waitFor();
  await page.getByLabel('Token name').fill('Fabrikam Entra ID');
  await page.getByLabel('Confined to').selectOption({ label: 'Fabrikam' });
  await axe('scim tokens');
  await page.getByRole('button', { name: 'Make token' }).click();
  await page.getByRole('status').filter({ hasText: 'SCIM token made.' }).waitFor();
  const token = await page.locator('.secret-value').innerText();
  assert.match(token, /^scim_/);
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  const row = page.locator('tbody tr', { hasText: 'Fabrikam Entra ID' });
  assert.match(await row.innerText(), /Fabrikam\s+active/);
  // The directory's side (asked from the test): the token works at the SCIM endpoint.
  const spc = `${BASE}/t/${SLUG}/scim/v2/ServiceProviderConfig`;
  assert.equal((await fetch(spc, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  await shot('scim');
  await page.getByRole('button', { name: 'Revoke Fabrikam Entra ID' }).click();
  await page.getByRole('button', { name: 'Revoke token' }).click();
  await page.getByRole('status').filter({ hasText: 'SCIM token revoked.' }).waitFor();
  await row.filter({ hasText: 'revoked' }).waitFor();
  assert.equal((await fetch(spc, { headers: { authorization: `Bearer ${token}` } })).status, 401);
  await axe('scim tokens after revoking');
});

test('an admin who loses the role sees FORBIDDEN in the page, not a blank screen', async () => {
  await page.goto(`${BASE}/t/${SLUG}/console#/users/${state.adminId}`);
  await heading(ADMIN.email).waitFor();
  // A reload keeps no token: the browser session (SSO cookie) signs in again without a form,
  // back on the same screen.
  await page.reload({ waitUntil: 'commit' });
  await heading(ADMIN.email).waitFor();
  assert.equal(new URL(page.url()).hash, `#/users/${state.adminId}`);
  // No admin can drop their own role: Grace, made an admin, takes Root's away.
  await tenant('mutation($id: ID!) { setUserRoles(id: $id, roles: ["admin"]) { id } }', { id: state.graceId }, state.adminToken);
  const grace = await login(GRACE);
  await tenant('mutation($id: ID!) { setUserRoles(id: $id, roles: []) { id } }', { id: state.adminId }, grace.accessToken);
  // The console's access token still names Root; the role is checked per request.
  await page.getByRole('link', { name: 'Users' }).first().click();
  const alert = page.locator('.banner.error[data-code="FORBIDDEN"]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /not allowed/);
  await shot('forbidden');
});

test('sign out; signed in again without the admin role, the console says "you are not an admin of this tenant"', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading(`${NAME} console`).waitFor();
  await page.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: `Sign in to ${NAME}`, exact: true }).waitFor();
  await page.getByLabel('Email or username').fill(ADMIN.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await heading('You are not an admin of this tenant').waitFor();
  assert.match(await page.getByRole('alert').innerText(), new RegExp(ADMIN.email));
  await axe('not an admin');
  await shot('not-admin');
});

test('platform console: a wrong key is refused in the page; with the key, create and find a tenant among many', async () => {
  // Many tenants, so the search has something to find among.
  const prefix = `many-${rand}`;
  for (let i = 0; i < 30; i++) {
    await platform('mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }', {
      i: { slug: `${prefix}-${String(i).padStart(2, '0')}`, displayName: `Tenant ${i}` },
    });
  }
  await page.goto(`${BASE}/console`);
  await heading('latchkey platform console').waitFor();
  await axe('platform sign-in');
  await page.getByLabel('Platform API key').fill('not-the-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'That is not the platform API key (ADMIN_API_KEY).' }).waitFor();
  await shot('platform-wrong-key');
  await page.getByLabel('Platform API key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading('Tenants').waitFor();
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
  assert.ok(!stored.includes(ADMIN_KEY), 'the key is in memory only');
  await page.getByRole('button', { name: 'Create tenant' }).click();
  const form = page.getByRole('form', { name: 'Create tenant' });
  await form.getByLabel('Slug').fill(`fabrikam-${rand}`);
  await form.getByLabel('Name', { exact: true }).fill('Fabrikam Inc');
  await form.getByLabel('Admin email').fill(`admin@fabrikam-${rand}.example`);
  await form.getByLabel('Admin username').fill('admin');
  await form.getByLabel('Admin password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create tenant' }).click();
  await page.getByRole('status').filter({ hasText: `Tenant fabrikam-${rand} created.` }).waitFor();
  await page.getByRole('status').filter({ hasText: '1–1 of 1 tenants' }).waitFor();
  assert.match(await page.locator('tbody tr').first().innerText(), /Fabrikam Inc/);
  await page.getByLabel('Search by slug or name').fill(`${prefix}-2`);
  await page.getByRole('status').filter({ hasText: '1–10 of 10 tenants' }).waitFor();
  await page.getByLabel('Search by slug or name').fill(prefix);
  await page.getByRole('status').filter({ hasText: '1–20 of 30 tenants' }).waitFor();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('status').filter({ hasText: '21–30 of 30 tenants' }).waitFor();
  await axe('tenants');
  await shot('tenants');
});
