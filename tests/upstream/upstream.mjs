// A real upstream OpenID provider for latchkey's federation tests: panva's oidc-provider
// (OpenID Certified), on 127.0.0.1 and a port the kernel picks, with its development
// interactions (a sign-in form that accepts any name, then a consent form).
//
//   node upstream.mjs '{"clients": [...]}'
//
// prints one line of JSON, {"issuer": "http://127.0.0.1:PORT"}, once it listens, and serves
// until it is killed. Accounts are made up from the name typed at sign-in: `ada` has the
// verified address ada@upstream.example; a name that starts with `unverified` has its address
// unverified (the case account linking must not trust). A name that starts with `mfa` signs in
// with amr ["pwd", "otp"] (any other: no amr). The ID token carries the granted scopes' claims
// (email, email_verified, name), not only userinfo, and `response_mode=form_post` is accepted
// as a request parameter (the answer is then an auto-submitting form, not a redirect).
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? '{}');
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients ?? [],
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
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
  claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified'], profile: ['name'] },
  // By default the claims of the scopes go to userinfo only when an access token for it is
  // issued; the tests want them in the ID token, as many real upstreams send them.
  conformIdTokenClaims: false,
  // Dynamic registration (RFC 7591): a test registers latchkey's client once it knows the
  // provider's id, which is part of the callback URL.
  features: { devInteractions: { enabled: true }, registration: { enabled: true } },
  pkce: { required: () => true },
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
// The tests talk plain HTTP on loopback; the provider's own checks of TLS are for production.
provider.proxy = false;
server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
