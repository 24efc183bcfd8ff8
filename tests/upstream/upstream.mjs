// A real upstream OpenID provider for latchkey's federation tests: panva's oidc-provider
// (OpenID Certified), on 127.0.0.1 and a port the kernel picks, with its development
// interactions (a sign-in form that accepts any name, then a consent form).
//
//   node upstream.mjs '{"clients": [...], "entra": {...}, "apple": {...}}'
//
// prints one line of JSON, {"issuer": "http://127.0.0.1:PORT", "origin": ...}, once it listens,
// and serves until it is killed. Accounts are made up from the name typed at sign-in: `ada` has the
// verified address ada@upstream.example; a name that starts with `unverified` has its address
// unverified (the case account linking must not trust). A name that starts with `mfa` signs in
// with amr ["pwd", "otp"] (any other: no amr). The ID token carries the granted scopes' claims
// (email, email_verified, name), not only userinfo, and `response_mode=form_post` is accepted
// as a request parameter (the answer is then an auto-submitting form, not a redirect).
//
// Beside the provider, a fixture of GitHub's shape: GET /github/user/emails with one of the
// provider's access tokens answers the account's addresses as GitHub's /user/emails does
// ([{email, primary, verified}]: the primary one unverified for `unverified…` names).
//
// "entra": {"tid": GUID} makes it Microsoft Entra ID-shaped: the provider lives under
// /{tid}/v2.0 (its issuer, as Entra's per-directory issuer), its tokens carry `tid` and `oid`
// (the account's object id, `oid-{name}`) and an `email` without `email_verified` (Entra does
// not verify it), and /organizations/v2.0 and /common/v2.0 serve the multi-tenant discovery
// document: the same endpoints, the issuer as the template https://host/{tenantid}/v2.0.
//
// "apple": {"teamId", "keyId", "publicJwk"} makes it check client secrets as Apple does: the
// secret a client sends must be an ES256 JWT signed by that public key, with `kid` the key id,
// `iss` the team, `sub` the client id, `aud` the issuer, and not expired (checked by jose, an
// independent JOSE library).
import http from 'node:http';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? '{}');
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const entra = config.entra;
const mount = entra ? `/${entra.tid}/v2.0` : '';
const issuer = `${origin}${mount}`;

const provider = new Provider(issuer, {
  clients: config.clients ?? [],
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        if (entra) {
          return { sub, tid: entra.tid, oid: `oid-${sub}`, email: `${sub}@upstream.example`, name: sub };
        }
        return {
          sub,
          email: `${sub}@upstream.example`,
          email_verified: !sub.startsWith('unverified'),
          name: sub,
        };
      },
    };
  },
  // `amr` with `openid`: the ID token says how the account authenticated whenever it is known
  // (the provider otherwise sends it only when asked for with the claims parameter).
  claims: {
    openid: entra ? ['sub', 'amr', 'tid', 'oid'] : ['sub', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The interaction pages live under the mount too (the default is the origin's root).
  interactions: { url: (ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
  // By default the claims of the scopes go to userinfo only when an access token for it is
  // issued; the tests want them in the ID token, as many real upstreams send them.
  conformIdTokenClaims: false,
  // Dynamic registration (RFC 7591): a test registers latchkey's client once it knows the
  // provider's id, which is part of the callback URL.
  features: { devInteractions: { enabled: true }, registration: { enabled: true } },
  pkce: { required: () => true },
  // "idTokenTtl": seconds, for a test of an id_token that expired before latchkey read it.
  ...(config.idTokenTtl ? { ttl: { IdToken: config.idTokenTtl } } : {}),
});
// The development sign-in form only knows an account id; how the account authenticated (amr) is
// made up from the name, at the one place every interaction result passes.
const interactionFinished = provider.interactionFinished.bind(provider);
provider.interactionFinished = (req, res, result, options) => {
  if (result?.login?.accountId?.startsWith('mfa')) {
    result.login.amr = ['pwd', 'otp'];
  }
  return interactionFinished(req, res, result, options);
};
if (config.apple) {
  const { teamId, keyId, publicJwk } = config.apple;
  const key = await jose.importJWK(publicJwk, 'ES256');
  provider.Client.prototype.compareClientSecret = async function compareAppleSecret(secret) {
    try {
      const { protectedHeader } = await jose.jwtVerify(secret, key, {
        algorithms: ['ES256'],
        issuer: teamId,
        subject: this.clientId,
        audience: issuer,
        requiredClaims: ['iat', 'exp'],
      });
      return protectedHeader.kid === keyId;
    } catch {
      return false;
    }
  };
}
// The tests talk plain HTTP on loopback; the provider's own checks of TLS are for production.
provider.proxy = false;
const callback = provider.callback();

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

server.on('request', async (req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/github/user/emails') {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const at = token && (await provider.AccessToken.find(token));
    if (!at) return json(res, 401, { message: 'Bad credentials' });
    const id = at.accountId;
    return json(res, 200, [
      { email: `${id}@elsewhere.example`, primary: false, verified: true },
      { email: `${id}@upstream.example`, primary: true, verified: !id.startsWith('unverified') },
    ]);
  }
  if (entra && /^\/(organizations|common)\/v2\.0\/\.well-known\/openid-configuration$/.test(path)) {
    const doc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
    doc.issuer = `${origin}/{tenantid}/v2.0`;
    // Entra does not send `iss` with its answers (RFC 9207).
    doc.authorization_response_iss_parameter_supported = false;
    return json(res, 200, doc);
  }
  if (mount && path.startsWith(`${mount}/`)) {
    // Mounted under the directory's path: the provider sees the rest (and finds its mount
    // from originalUrl, as under express).
    req.originalUrl = req.url;
    req.url = req.url.slice(mount.length);
  } else if (mount) {
    return json(res, 404, { error: 'not_found' });
  }
  return callback(req, res);
});
process.stdout.write(`${JSON.stringify({ issuer, origin })}\n`);
