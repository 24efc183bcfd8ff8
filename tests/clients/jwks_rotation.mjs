// Access tokens verified the way a resource server written in JavaScript does it: jose's
// createRemoteJWKSet + jwtVerify against the tenant's JWKS, with nothing else known about
// latchkey. Then a signing-key rotation, with the verifier keeping the JWKS it fetched
// before the rotation (its cache): a normal rotation must not break it, so the key that
// signs after the rotation has to be in the JWKS before it is used.
//
//   LATCHKEY_URL=http://127.0.0.1:PORT ADMIN_API_KEY=... node jwks_rotation.mjs
//
// Steps:
//   1. register a user on the default tenant (/graphql) and verify its access token against
//      /t/default/.well-known/jwks.json (issuer and audience: the discovery document's issuer);
//   2. create a tenant with a first admin through the platform API, log the admin in, verify
//      the token with a JWKS client that is kept (and will not refetch: long cooldown);
//   3. rotateSigningKey as that admin; log in again; verify the new token with the SAME client
//      without it fetching the JWKS again; the old token still verifies (and the server
//      still accepts it). Whether the new key signs at once or only later does not matter:
//      what signs must be in a JWKS fetched before the rotation.
//   4. only with JWKS_WAIT_FOR_ACTIVATION=1 (~6 minutes): wait until the new key signs and
//      verify its token with a JWKS fetched right after the rotation, without a refetch.
// Exit status 1 when any step fails.
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

const BASE = process.env.LATCHKEY_URL?.replace(/\/+$/, '');
const ADMIN_API_KEY = process.env.ADMIN_API_KEY;
if (!BASE || !ADMIN_API_KEY) {
  console.error('jwks (jose): LATCHKEY_URL and ADMIN_API_KEY must be set (the server started with that key)');
  process.exit(2);
}
const TIMEOUT_MS = 15_000;
const rand = () => Math.random().toString(16).slice(2, 10);
// Passwords that contain neither the username nor the email's local part, and are not common.
const USER_PASSWORD = 'correct horse battery';
const ADMIN_USERNAME = 'root-admin';
const ADMIN_PASSWORD = 'a long admin passphrase';

let failures = 0;
const ok = (msg) => console.log(`  ok    ${msg}`);
const fail = (msg) => {
  failures++;
  console.log(`  FAIL  ${msg}`);
};

async function gql(path, query, variables = {}, bearer) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (body.errors?.length) throw new Error(`${path}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function getJson(path) {
  const res = await fetch(`${BASE}${path}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/** A JWKS client as a resource server keeps it, counting how often it fetches. */
function jwksClient(tenant, { cooldownDuration = 30_000 } = {}) {
  const client = {
    fetches: 0,
    url: `${BASE}/t/${tenant}/.well-known/jwks.json`,
  };
  client.getKey = createRemoteJWKSet(new URL(client.url), {
    cooldownDuration,
    cacheMaxAge: 3_600_000,
    [customFetch]: (...args) => {
      client.fetches++;
      return fetch(...args);
    },
  });
  return client;
}

async function verify(client, token, issuer) {
  const { payload, protectedHeader } = await jwtVerify(token, client.getKey, { issuer, audience: issuer });
  return { payload, protectedHeader };
}

const kidsOf = (jwks) => (jwks?.keys ?? []).map((k) => k.kid);
const LOGIN = 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }';
const ME = '{ me { id username roles } }';

async function main() {
  // 1. The default tenant.
  console.log('jwks (jose): default tenant');
  const discovery = await getJson('/t/default/.well-known/openid-configuration');
  const issuer = discovery.issuer;
  const name = `jose-${rand()}`;
  const reg = await gql(
    '/graphql',
    'mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }',
    { i: { email: `${name}@example.com`, username: name, password: USER_PASSWORD } },
  );
  const token = reg.register.accessToken;
  const claims = decodeJwt(token);
  if (claims.iss === issuer) ok(`token iss ${claims.iss} = discovery issuer`);
  else fail(`token iss ${claims.iss} != discovery issuer ${issuer}`);
  try {
    const { payload, protectedHeader } = await verify(jwksClient('default'), token, issuer);
    ok(`register token verifies: alg ${protectedHeader.alg}, kid ${protectedHeader.kid}, sub ${payload.sub}`);
    if (payload.sub !== reg.register.user.id) fail(`sub ${payload.sub} is not the user id ${reg.register.user.id}`);
  } catch (err) {
    fail(`register token does not verify against /t/default/.well-known/jwks.json: ${err.code ?? ''} ${err.message}`);
  }

  // 2. A tenant of our own, with a first admin.
  const slug = `jwks-jose-${rand()}`;
  console.log(`jwks (jose): rotation on tenant ${slug}`);
  await gql(
    '/admin/graphql',
    'mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }',
    {
      i: {
        slug,
        displayName: 'JWKS rotation (jose)',
        admin: { email: `${ADMIN_USERNAME}@${slug}.example`, username: ADMIN_USERNAME, password: ADMIN_PASSWORD },
      },
    },
    ADMIN_API_KEY,
  );
  const tenantPath = `/t/${slug}/graphql`;
  const tenantIssuer = (await getJson(`/t/${slug}/.well-known/openid-configuration`)).issuer;
  const login = async () =>
    (await gql(tenantPath, LOGIN, { i: { identifier: ADMIN_USERNAME, password: ADMIN_PASSWORD } })).login.accessToken;
  const before = await login();
  const kidBefore = decodeProtectedHeader(before).kid;
  // The resource server's client: kept across the rotation, and with a long cooldown it does
  // not refetch the JWKS when it meets an unknown kid (jose's default refetches after 30 s).
  const cached = jwksClient(slug, { cooldownDuration: 600_000 });
  try {
    await verify(cached, before, tenantIssuer);
    ok(`admin token before rotation verifies (kid ${kidBefore}); cached JWKS kids: ${kidsOf(cached.getKey.jwks()).join(', ')}`);
  } catch (err) {
    fail(`admin token before rotation does not verify: ${err.code ?? ''} ${err.message}`);
    return;
  }
  const cachedKids = kidsOf(cached.getKey.jwks());

  // 3. Rotate, log in again, verify with the same client.
  const newKid = (await gql(tenantPath, 'mutation { rotateSigningKey }', {}, before)).rotateSigningKey;
  const jwksRes = await fetch(`${BASE}/t/${slug}/.well-known/jwks.json`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  const published = kidsOf(await jwksRes.json());
  ok(
    `rotateSigningKey answered kid ${newKid}; the JWKS now has: ${published.join(', ')} ` +
      `(cache-control: ${jwksRes.headers.get('cache-control') ?? 'none'})`,
  );
  // A verifier that fetches now (and keeps it as long as it likes) must meet no unknown kid
  // when the new key starts signing; checked only with JWKS_WAIT_FOR_ACTIVATION=1 (it waits
  // for the switch, ~6 minutes).
  const late = jwksClient(slug, { cooldownDuration: 3_600_000 });
  await late.getKey.reload();
  if (!published.includes(kidBefore)) fail(`the previous kid ${kidBefore} left the JWKS at once; its unexpired tokens break`);
  if (!published.includes(newKid)) fail(`the new kid ${newKid} is not in the JWKS`);

  const after = await login();
  const kidAfter = decodeProtectedHeader(after).kid;
  // Either design is fine for a caching verifier: sign with the new key at once (then it must
  // have been in the JWKS before the rotation), or keep signing with the previous key until
  // every cached JWKS has the new one. The check below is the same for both.
  if (kidAfter === newKid) ok(`the token after rotation is signed with the new kid ${kidAfter} at once`);
  else if (kidAfter === kidBefore) ok(`the token after rotation is still signed with the previous kid ${kidAfter} (the new key signs later)`);
  else fail(`the token after rotation has kid ${kidAfter}: neither the previous (${kidBefore}) nor the new (${newKid}) one`);

  const fetchesBefore = cached.fetches;
  try {
    await verify(cached, after, tenantIssuer);
    const refetched = cached.fetches - fetchesBefore;
    if (refetched === 0) ok(`the token after rotation verifies with the JWKS cached before it (kid ${kidAfter} was in it)`);
    else fail(`the token after rotation verified only after ${refetched} new JWKS fetch(es)`);
  } catch (err) {
    fail(
      `the token after rotation (kid ${kidAfter}) does not verify with the JWKS cached before the rotation ` +
        `(kids ${cachedKids.join(', ')}): ${err.code ?? ''} ${err.message}. A verifier caching the JWKS rejects ` +
        'every new token until its cache expires: publish the next key before signing with it',
    );
  }
  try {
    await verify(jwksClient(slug), after, tenantIssuer);
    ok('the token after rotation verifies with a freshly fetched JWKS');
  } catch (err) {
    fail(`the token after rotation does not verify even with a fresh JWKS: ${err.code ?? ''} ${err.message}`);
  }
  try {
    await verify(cached, before, tenantIssuer);
    await verify(jwksClient(slug), before, tenantIssuer);
    ok('the token from before the rotation still verifies (cached and fresh JWKS)');
  } catch (err) {
    fail(`the token from before the rotation no longer verifies: ${err.code ?? ''} ${err.message}`);
  }
  if (process.env.JWKS_WAIT_FOR_ACTIVATION === '1' && kidAfter !== newKid) {
    const deadline = Date.now() + 600_000;
    let switched;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 15_000));
      const t = await login();
      if (decodeProtectedHeader(t).kid !== kidBefore) {
        switched = t;
        break;
      }
    }
    if (!switched) {
      fail(`the new key ${newKid} did not start signing within 10 minutes`);
    } else {
      const kid = decodeProtectedHeader(switched).kid;
      const fetches = late.fetches;
      try {
        await verify(late, switched, tenantIssuer);
        if (kid !== newKid) fail(`the key that took over is ${kid}, not ${newKid}`);
        else if (late.fetches !== fetches) fail(`the switched token verified only after a refetch`);
        else ok(`the new key ${kid} started signing; a JWKS fetched right after the rotation verifies it`);
      } catch (err) {
        fail(`once the new key signs, a JWKS fetched right after the rotation does not verify it: ${err.code ?? ''} ${err.message}`);
      }
    }
  }
  try {
    const [a, b] = [await gql(tenantPath, ME, {}, before), await gql(tenantPath, ME, {}, after)];
    if (a.me.id === b.me.id) ok('the server accepts both tokens (me)');
    else fail('me answered different users for the two tokens');
  } catch (err) {
    fail(`the server refuses a token after the rotation: ${err.message}`);
  }
}

try {
  await main();
} catch (err) {
  fail(`unexpected: ${err.message}`);
}
console.log(failures ? `jwks rotation (jose): ${failures} failure(s)` : 'jwks rotation (jose): ok');
process.exit(failures ? 1 : 0);
