// What the browser tests share: one GraphQL request against the started server, and a headless
// Chromium (Debian's) in a fresh profile, every request off the allowed hosts blocked and
// recorded (the pages must work with the network cable pulled).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** One GraphQL request to `base + path`: the data, or a failed assertion with the errors. */
export async function graphql(base, path, query, variables = {}, bearer = undefined, timeout = 30_000) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeout),
  });
  const body = await res.json();
  assert.equal(body.errors, undefined, `${path}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/**
 * Chromium in a fresh profile directory (returned, for removal), requests to any host not in
 * `allowedHosts` (nor `data:`) aborted and passed to `onForeign(request)`.
 */
export async function launchChromium({ allowedHosts, onForeign, viewport = { width: 1000, height: 760 }, timeout = 30_000 }) {
  const profile = mkdtempSync(join(tmpdir(), 'latchkey-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport,
  });
  context.setDefaultTimeout(timeout);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || allowedHosts.has(url.host)) return route.continue();
    onForeign(route.request());
    return route.abort('blockedbyclient');
  });
  return { context, profile };
}
