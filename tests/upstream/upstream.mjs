// A real upstream OpenID provider for latchkey's federation tests: panva's oidc-provider
// (OpenID Certified), on 127.0.0.1 and a port the kernel picks, with its development
// interactions (a sign-in form that accepts any name, then a consent form).
//
//   node upstream.mjs '{"clients": [...]}'
//
// prints one line of JSON, {"issuer": "http://127.0.0.1:PORT"}, once it listens, and serves
// until it is killed. Accounts are made up from the name typed at sign-in: `ada` has the
// verified address ada@upstream.example; a name that starts with `unverified` has its address
// unverified (the case account linking must not trust).
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
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
});
// The tests talk plain HTTP on loopback; the provider's own checks of TLS are for production.
provider.proxy = false;
server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
