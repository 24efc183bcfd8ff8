// Browser test: Debian's headless Chromium, driven by playwright-core, against a running
// latchkey (LATCHKEY_URL, started by scripts/e2e.sh). Every request to anything but the
// server itself is blocked and recorded, and the test fails if one happened: the pages
// must work with the network cable pulled. Screenshots go to test-output/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.LATCHKEY_URL;
assert.ok(BASE, 'LATCHKEY_URL must point at a running latchkey (scripts/e2e.sh sets it)');
const BASE_HOST = new URL(BASE).host;
const OUT = resolve(dirname(fileURLToPath(import.meta.url)), '../../test-output');
// A page that never settles fails the test rather than hanging CI.
const TIMEOUT = 30_000;

let context;
let profile;
const foreignRequests = [];
const consoleErrors = [];

before(async () => {
  mkdirSync(OUT, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'latchkey-chromium-'));
  // A fresh profile directory (playwright passes it as --user-data-dir).
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || url.host === BASE_HOST) {
      return route.continue();
    }
    foreignRequests.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  context.on('page', (page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** The text of the CodeMirror editor inside `selector` (the whole document, not just the
 *  lines CodeMirror happens to have rendered). */
async function editorText(page, selector) {
  return page.locator(`${selector} .CodeMirror`).first().evaluate((el) => el.CodeMirror.getValue());
}

/** Presses GraphiQL's run button and picks `operation` from the menu it shows when the
 *  document holds several operations. */
async function run(page, operation) {
  await page.locator('.graphiql-execute-button').click();
  await page.getByRole('menuitem', { name: operation, exact: true }).click();
}

/** Waits until the result pane holds one of `needles` (the previous answer holds none),
 *  and returns it parsed. */
async function result(page, needles) {
  await page.waitForFunction((ns) => {
    const el = document.querySelector('.result-window .CodeMirror');
    const text = el ? el.CodeMirror.getValue() : '';
    return ns.some((n) => text.includes(n));
  }, needles);
  return JSON.parse(await editorText(page, '.result-window'));
}

test('GraphiQL: register, then me with the token in the headers pane', async () => {
  const page = await context.newPage();
  await page.goto(`${BASE}/graphql`);
  await page.locator('.graphiql-container').waitFor();
  const query = await editorText(page, '.graphiql-query-editor');
  for (const op of ['mutation Register', 'mutation Login', 'query Me']) {
    assert.ok(query.includes(op), `default query shows ${op}`);
  }

  await run(page, 'Register');
  const registered = await result(page, ['"register"', '"errors"']);
  assert.equal(registered.errors, undefined, JSON.stringify(registered.errors));
  const token = registered.data.register.accessToken;
  assert.equal(registered.data.register.user.email, 'ada@example.com');
  await page.screenshot({ path: join(OUT, 'graphiql-register.png') });

  // Type the header into the headers pane as a person would (insertText: no auto-closed braces).
  await page.getByRole('button', { name: 'Headers', exact: true }).click();
  const headers = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
  await headers.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));

  await run(page, 'Me');
  const me = await result(page, ['"me"', '"errors"']);
  assert.equal(me.errors, undefined, JSON.stringify(me.errors));
  assert.equal(me.data.me.email, 'ada@example.com');
  assert.equal(me.data.me.username, 'ada');
  // And the answer is what the page shows, not only what the editor holds.
  await assert.doesNotReject(
    page.locator('.result-window').getByText('"username": "ada"').waitFor(),
  );
  await page.screenshot({ path: join(OUT, 'graphiql-me.png') });
  await page.close();
});

test('Swagger UI at /docs lists the REST endpoints and calls one', async () => {
  const page = await context.newPage();
  await page.goto(`${BASE}/docs`);
  await page.locator('.opblock').first().waitFor();
  const paths = await page.locator('.opblock-summary-path').allInnerTexts();
  const seen = paths.map((p) => p.replace(/\u200b/g, '').trim());
  for (const p of ['/api/auth/register', '/api/auth/login', '/api/auth/me', '/api/auth/refresh']) {
    assert.ok(seen.includes(p), `${p} listed in ${JSON.stringify(seen)}`);
  }
  await page.screenshot({ path: join(OUT, 'swagger-ui.png'), fullPage: true });

  // "Try it out" really calls the server from the page.
  const op = page.locator('#operations-auth-register');
  await op.locator('.opblock-summary').click();
  await op.getByRole('button', { name: 'Try it out' }).click();
  await op.locator('textarea.body-param__text').fill(
    JSON.stringify({ email: 'swagger@example.com', username: 'swagger', password: 'correct horse battery' }),
  );
  await op.getByRole('button', { name: 'Execute' }).click();
  const live = op.locator('.live-responses-table .response-col_status');
  await live.getByText('201').waitFor();
  await op.locator('.live-responses-table').getByText('"swagger@example.com"').first().waitFor();
  await op.screenshot({ path: join(OUT, 'swagger-ui-try-register.png') });
  await page.close();
});

test('ReDoc at /redoc renders the document', async () => {
  const page = await context.newPage();
  await page.goto(`${BASE}/redoc`);
  await page.getByRole('heading', { name: /latchkey REST API/ }).waitFor();
  for (const summary of ['Register a new account.', 'Log in with email or username.', 'The signed-in user.']) {
    await page.getByRole('heading', { name: summary }).waitFor();
  }
  await page.screenshot({ path: join(OUT, 'redoc.png') });
  await page.close();
});

test('the plain fetch example logs in and shows me', async () => {
  const email = 'grace@example.com';
  const res = await fetch(`${BASE}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, username: 'grace', password: 'correct horse battery' }),
  });
  assert.equal(res.status, 201, await res.text());

  const page = await context.newPage();
  await page.goto(`${BASE}/examples/login.html`);
  await page.getByLabel('Email or username').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText('Logged in as grace').waitFor();
  const shown = JSON.parse(await page.locator('#me').innerText());
  assert.equal(shown.email, email);
  assert.equal(shown.is_active, true);
  await page.screenshot({ path: join(OUT, 'login-example.png') });
  await page.close();
});

test('no request left the server and no page logged an error', () => {
  assert.deepEqual(foreignRequests, []);
  assert.deepEqual(consoleErrors, []);
});
