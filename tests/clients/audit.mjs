// GraphQL over HTTP conformance, judged by graphql-http's own server audits (the suite the
// GraphQL over HTTP working group maintains), against the three GraphQL endpoints of a running
// latchkey: the default tenant (/graphql), a tenant by path (/t/default/graphql) and the
// platform API (/admin/graphql, with `Authorization: Bearer $ADMIN_API_KEY`).
//
//   LATCHKEY_URL=http://127.0.0.1:PORT ADMIN_API_KEY=... node audit.mjs
//
// Every audit that is not ok is printed with its id, name and reason. Exit status 1 when any
// audit failed (a MUST) or warned (a SHOULD); notices (a MAY) are printed but do not fail.
import { serverAudits } from 'graphql-http';

const BASE = process.env.LATCHKEY_URL?.replace(/\/+$/, '');
const ADMIN_API_KEY = process.env.ADMIN_API_KEY;
if (!BASE) {
  console.error('audit: LATCHKEY_URL must point at a running latchkey');
  process.exit(2);
}
if (!ADMIN_API_KEY) {
  console.error('audit: ADMIN_API_KEY must be the key the server was started with');
  process.exit(2);
}
// One audit that hangs fails rather than hanging CI.
const TIMEOUT_MS = 15_000;

/** fetch with a timeout and, when given, extra headers (the platform API's key). */
function fetchWith(extraHeaders = {}) {
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(extraHeaders)) headers.set(k, v);
    return fetch(input, { ...init, headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  };
}

const endpoints = [
  { path: '/graphql', fetchFn: fetchWith() },
  { path: '/t/default/graphql', fetchFn: fetchWith() },
  { path: '/admin/graphql', fetchFn: fetchWith({ authorization: `Bearer ${ADMIN_API_KEY}` }) },
];

/** The first bytes of a failing answer, to see what the server said. */
async function bodyExcerpt(response) {
  if (!response || typeof response.clone !== 'function') return '';
  try {
    const text = await response.clone().text();
    const oneLine = text.replace(/\s+/g, ' ').trim();
    const type = response.headers.get('content-type') ?? '(no content-type)';
    return `HTTP ${response.status} ${type}: ${oneLine.length > 200 ? `${oneLine.slice(0, 200)}...` : oneLine}`;
  } catch {
    return '';
  }
}

let bad = 0;
for (const { path, fetchFn } of endpoints) {
  const url = `${BASE}${path}`;
  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  const problems = [];
  // One at a time: the audits are independent, and sequential output is easier to follow.
  for (const audit of serverAudits({ url, fetchFn })) {
    let result;
    try {
      result = await audit.fn();
    } catch (err) {
      // graphql-http throws only on a fatal problem (no answer at all, a timeout).
      result = { id: audit.id, name: audit.name, status: 'error', reason: `threw: ${err?.message ?? err}` };
    }
    counts[result.status] = (counts[result.status] ?? 0) + 1;
    if (result.status !== 'ok') {
      problems.push({ ...result, excerpt: await bodyExcerpt(result.response) });
    }
  }
  console.log(
    `graphql-http audit ${path}: ${counts.ok} ok, ${counts.warn} warnings, ${counts.error} failures, ${counts.notice} notices`,
  );
  const label = { error: 'FAIL', warn: 'WARN', notice: 'NOTE' };
  for (const p of problems) {
    console.log(`  ${label[p.status]} [${p.id}] ${p.name}`);
    console.log(`       ${p.reason}`);
    if (p.excerpt) console.log(`       ${p.excerpt}`);
  }
  bad += counts.warn + counts.error;
}

if (bad > 0) {
  console.log(`graphql-http audit: ${bad} failures and warnings in all`);
  process.exit(1);
}
console.log('graphql-http audit: every MUST and SHOULD passes on all three endpoints');
