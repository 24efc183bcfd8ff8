// "Sign in with latchkey": a small web app that signs its users in through a latchkey tenant
// with OpenID Connect, using the certified relying-party library openid-client (v6) and
// nothing else (node:http, no framework). What it does:
//   /          who is signed in (the id_token's claims and userinfo), or a sign-in link
//   /login     the authorization code flow with PKCE (S256), state and nonce; ?prompt=none
//              asks latchkey to answer without showing a page (silent sign-in)
//   /callback  checks the answer (state, iss, PKCE, the id_token's signature, iss, aud,
//              nonce), exchanges the code, fetches userinfo
//   /logout    RP-initiated logout: latchkey ends its browser session, then sends the
//              browser back to /signed-out
//
// Run it against a confidential client registered with the redirect URI
// http://localhost:3000/callback and the post-logout URI http://localhost:3000/signed-out:
//
//   cd examples/oidc && npm ci
//   ISSUER=http://localhost:8000/t/acme CLIENT_ID=... CLIENT_SECRET=... node sign-in.mjs
//
// then open http://localhost:3000. tests/browser/oidc.test.mjs runs this file in CI.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import * as client from 'openid-client';

const ISSUER = new URL(process.env.ISSUER ?? 'http://localhost:8000/t/acme');
const PORT = Number(process.env.PORT ?? 3000);
const APP = `http://localhost:${PORT}`;
const REDIRECT_URI = `${APP}/callback`;
const SIGNED_OUT_URI = `${APP}/signed-out`;
const SCOPE = process.env.SCOPE ?? 'openid profile email';

// Discovery: endpoints, keys and capabilities from {ISSUER}/.well-known/openid-configuration.
// openid-client talks https only; plain http is allowed here for a latchkey on localhost.
const config = await client.discovery(
  ISSUER,
  process.env.CLIENT_ID,
  process.env.CLIENT_SECRET, // sent as client_secret_post, which latchkey supports
  undefined,
  ISSUER.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined,
);

// Sessions in memory, keyed by a random cookie (a real app keeps them in its store).
const sessions = new Map();
const COOKIE = 'example_session';

function session(req, res) {
  const id = /(?:^|;\s*)example_session=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
  if (id && sessions.has(id)) return sessions.get(id);
  const fresh = randomBytes(24).toString('base64url');
  const s = {};
  sessions.set(fresh, s);
  res.setHeader('set-cookie', `${COOKIE}=${fresh}; Path=/; HttpOnly; SameSite=Lax`);
  return s;
}

const escape = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
dt{font-weight:600;margin-top:.5rem}dd{margin-left:1rem;font-family:monospace}</style></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`);
}

function redirect(res, to) {
  res.writeHead(303, { location: String(to) });
  res.end();
}

const routes = {
  '/': (req, res, s) => {
    if (!s.user) {
      return page(res, 200, 'Example app', '<p>You are not signed in.</p><p><a href="/login">Sign in with latchkey</a></p>');
    }
    const { claims, userinfo } = s.user;
    const rows = [
      ['Email (userinfo)', userinfo.email],
      ['Username (userinfo)', userinfo.preferred_username],
      ['Subject (sub)', claims.sub],
      ['Signed in at latchkey (auth_time)', new Date(claims.auth_time * 1000).toISOString()],
      ['Methods (amr)', (claims.amr ?? []).join(', ')],
      ['latchkey session (sid)', claims.sid],
      ['This sign-in', s.user.how],
    ];
    const list = rows.map(([k, v]) => `<dt>${escape(k)}</dt><dd>${escape(v)}</dd>`).join('');
    return page(res, 200, `Signed in as ${userinfo.preferred_username}`,
      `<dl aria-label="Your account">${list}</dl><p><a href="/logout">Sign out</a></p>`);
  },

  '/login': async (req, res, s, url) => {
    const verifier = client.randomPKCECodeVerifier();
    s.pending = { verifier, state: client.randomState(), nonce: client.randomNonce() };
    const parameters = {
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: s.pending.state,
      nonce: s.pending.nonce,
    };
    const prompt = url.searchParams.get('prompt');
    if (prompt === 'none') parameters.prompt = 'none';
    s.pending.prompt = prompt;
    return redirect(res, client.buildAuthorizationUrl(config, parameters));
  },

  '/callback': async (req, res, s, url) => {
    const pending = s.pending;
    delete s.pending; // one answer per request
    if (!pending) return page(res, 400, 'Sign-in failed', '<p>No sign-in was started here.</p>');
    let tokens;
    try {
      tokens = await client.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      // An error latchkey sent back (login_required after prompt=none, access_denied...).
      if (err instanceof client.AuthorizationResponseError) {
        return page(res, 200, 'Not signed in',
          `<p role="alert">latchkey answered <code>${escape(err.error)}</code>: ${escape(err.error_description ?? '')}</p>` +
          '<p><a href="/login">Sign in with latchkey</a></p>');
      }
      throw err;
    }
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    const how = pending.prompt === 'none' ? 'silent (prompt=none)' : 'interactive';
    s.user = { claims, userinfo, idToken: tokens.id_token, how };
    return redirect(res, '/');
  },

  '/logout': (req, res, s) => {
    const idToken = s.user?.idToken;
    delete s.user;
    if (!idToken) return redirect(res, '/');
    return redirect(res, client.buildEndSessionUrl(config, {
      id_token_hint: idToken,
      post_logout_redirect_uri: SIGNED_OUT_URI,
    }));
  },

  '/signed-out': (req, res) => page(res, 200, 'Signed out',
    '<p role="status">You are signed out of this app and of latchkey.</p><p><a href="/login">Sign in again</a></p>'),
};

createServer(async (req, res) => {
  const url = new URL(req.url, APP);
  const route = req.method === 'GET' && routes[url.pathname];
  if (!route) return page(res, 404, 'Not found', '');
  try {
    await route(req, res, session(req, res), url);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) page(res, 500, 'Sign-in failed', `<p role="alert">${escape(err.message)}</p>`);
  }
}).listen(PORT, '127.0.0.1', () => console.log(`example app at ${APP} (issuer ${ISSUER})`));
