"""Access tokens verified the way a Python resource server does it: PyJWT's PyJWKClient
against the tenant's JWKS, with nothing else known about latchkey. Then a signing-key
rotation with the client kept (its cached JWK Set): a normal rotation must not break a
verifier that caches the JWKS, so the key that signs after a rotation has to be in the JWKS
before it is used.

    LATCHKEY_URL=http://127.0.0.1:PORT ADMIN_API_KEY=... python3 jwks_rotation.py

Same steps as jwks_rotation.mjs (jose):
  1. register on the default tenant (/graphql), verify the access token against
     /t/default/.well-known/jwks.json (issuer and audience: the discovery document's issuer);
  2. create a tenant with a first admin through the platform API, log in, verify with a
     PyJWKClient that is kept;
  3. rotateSigningKey, log in again, verify the new token with the SAME client, without it
     fetching the JWKS again (PyJWKClient refetches on an unknown kid only once its cooldown,
     30 s by default, has passed; the kept client has 600 s so the check does not depend on
     timing, and it counts the client's fetches). Whether the new key signs at once or only
     later does not matter: what signs must be in the JWKS fetched before the rotation.
Exit status 1 when any step fails. Needs PyJWT[crypto] (tests/clients/requirements.txt).
"""

import json
import os
import secrets
import sys
import urllib.error
import urllib.request

import jwt
from jwt import PyJWKClient

BASE = os.environ.get("LATCHKEY_URL", "").rstrip("/")
ADMIN_API_KEY = os.environ.get("ADMIN_API_KEY", "")
if not BASE or not ADMIN_API_KEY:
    print("jwks (PyJWT): LATCHKEY_URL and ADMIN_API_KEY must be set (the server started with that key)",
          file=sys.stderr)
    sys.exit(2)

TIMEOUT = 15
# Passwords that contain neither the username nor the email's local part, and are not common.
USER_PASSWORD = "correct horse battery"
ADMIN_USERNAME = "root-admin"
ADMIN_PASSWORD = "a long admin passphrase"
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"
ME = "{ me { id username roles } }"

failures = 0


def ok(msg):
    print(f"  ok    {msg}")


def fail(msg):
    global failures
    failures += 1
    print(f"  FAIL  {msg}")


def http(method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{BASE}{path}", data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        raise RuntimeError(f"{path}: HTTP {status}, not JSON: {text[:300]}") from None


def gql(path, query, variables=None, bearer=None):
    headers = {"content-type": "application/json", "accept": "application/json"}
    if bearer:
        headers["authorization"] = f"Bearer {bearer}"
    status, body = http("POST", path, {"query": query, "variables": variables or {}}, headers)
    if body.get("errors"):
        raise RuntimeError(f"{path}: HTTP {status}: {json.dumps(body['errors'])}")
    return body["data"]


def get_json(path):
    status, body = http("GET", path)
    if status != 200:
        raise RuntimeError(f"{path}: HTTP {status}")
    return body


class CountingJWKClient(PyJWKClient):
    """PyJWKClient as a resource server keeps it, counting its JWKS fetches."""

    def __init__(self, tenant, cooldown_duration=30):
        self.fetches = 0
        super().__init__(f"{BASE}/t/{tenant}/.well-known/jwks.json", cache_jwk_set=True,
                         lifespan=3600, timeout=TIMEOUT, cooldown_duration=cooldown_duration)

    def fetch_data(self):
        self.fetches += 1
        return super().fetch_data()

    def cached_kids(self):
        cached = self.jwk_set_cache.get() if self.jwk_set_cache else None
        if isinstance(cached, dict):
            return [k.get("kid") for k in cached.get("keys", [])]
        return [k.key_id for k in cached.keys] if cached else []


def verify(client, token, issuer):
    key = client.get_signing_key_from_jwt(token)
    alg = jwt.get_unverified_header(token)["alg"]
    return jwt.decode(token, key.key, algorithms=[alg], issuer=issuer, audience=issuer,
                      options={"require": ["exp", "iat", "iss", "aud", "sub"]})


def kid_of(token):
    return jwt.get_unverified_header(token).get("kid")


def main():
    # 1. The default tenant.
    print("jwks (PyJWT): default tenant")
    issuer = get_json("/t/default/.well-known/openid-configuration")["issuer"]
    name = f"pyjwt-{secrets.token_hex(4)}"
    reg = gql("/graphql",
              "mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }",
              {"i": {"email": f"{name}@example.com", "username": name, "password": USER_PASSWORD}})
    token = reg["register"]["accessToken"]
    iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
    if iss == issuer:
        ok(f"token iss {iss} = discovery issuer")
    else:
        fail(f"token iss {iss} != discovery issuer {issuer}")
    try:
        claims = verify(CountingJWKClient("default"), token, issuer)
        ok(f"register token verifies: alg {jwt.get_unverified_header(token)['alg']}, kid {kid_of(token)}, "
           f"sub {claims['sub']}")
        if claims["sub"] != reg["register"]["user"]["id"]:
            fail(f"sub {claims['sub']} is not the user id {reg['register']['user']['id']}")
    except jwt.PyJWTError as e:
        fail(f"register token does not verify against /t/default/.well-known/jwks.json: {type(e).__name__}: {e}")

    # 2. A tenant of our own, with a first admin.
    slug = f"jwks-py-{secrets.token_hex(4)}"
    print(f"jwks (PyJWT): rotation on tenant {slug}")
    gql("/admin/graphql", "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
        {"i": {"slug": slug, "displayName": "JWKS rotation (PyJWT)",
               "admin": {"email": f"{ADMIN_USERNAME}@{slug}.example", "username": ADMIN_USERNAME,
                         "password": ADMIN_PASSWORD}}},
        bearer=ADMIN_API_KEY)
    path = f"/t/{slug}/graphql"
    tenant_issuer = get_json(f"/t/{slug}/.well-known/openid-configuration")["issuer"]

    def login():
        return gql(path, LOGIN, {"i": {"identifier": ADMIN_USERNAME, "password": ADMIN_PASSWORD}})[
            "login"]["accessToken"]

    before = login()
    kid_before = kid_of(before)
    # The resource server's client, kept across the rotation; with a long cooldown it does not
    # refetch the JWKS when it meets an unknown kid.
    cached = CountingJWKClient(slug, cooldown_duration=600)
    try:
        verify(cached, before, tenant_issuer)
        ok(f"admin token before rotation verifies (kid {kid_before}); cached JWKS kids: "
           f"{', '.join(cached.cached_kids())}")
    except jwt.PyJWTError as e:
        fail(f"admin token before rotation does not verify: {type(e).__name__}: {e}")
        return
    cached_kids = cached.cached_kids()

    # 3. Rotate, log in again, verify with the same client.
    new_kid = gql(path, "mutation { rotateSigningKey }", bearer=before)["rotateSigningKey"]
    published = [k.get("kid") for k in get_json(f"/t/{slug}/.well-known/jwks.json")["keys"]]
    ok(f"rotateSigningKey answered kid {new_kid}; the JWKS now has: {', '.join(published)}")
    if kid_before not in published:
        fail(f"the previous kid {kid_before} left the JWKS at once; its unexpired tokens break")
    if new_kid not in published:
        fail(f"the new kid {new_kid} is not in the JWKS")

    after = login()
    kid_after = kid_of(after)
    # Either design is fine for a caching verifier: sign with the new key at once (then it must
    # have been in the JWKS before the rotation), or keep signing with the previous key until
    # every cached JWKS has the new one. The check below is the same for both.
    if kid_after == new_kid:
        ok(f"the token after rotation is signed with the new kid {kid_after} at once")
    elif kid_after == kid_before:
        ok(f"the token after rotation is still signed with the previous kid {kid_after} (the new key signs later)")
    else:
        fail(f"the token after rotation has kid {kid_after}: neither the previous ({kid_before}) "
             f"nor the new ({new_kid}) one")

    fetches = cached.fetches
    try:
        verify(cached, after, tenant_issuer)
        refetched = cached.fetches - fetches
        if refetched == 0:
            ok(f"the token after rotation verifies with the JWKS cached before it (kid {kid_after} was in it)")
        else:
            fail(f"the token after rotation (kid {kid_after}) was not in the JWKS cached before the rotation "
                 f"(kids {', '.join(cached_kids)}); PyJWKClient verified it only after {refetched} refetch(es). "
                 "A verifier that does not refetch on an unknown kid rejects every new token until its cache "
                 "expires: publish the next key before signing with it")
    except jwt.PyJWTError as e:
        fail(f"the token after rotation (kid {kid_after}) does not verify with the JWKS cached before the "
             f"rotation (kids {', '.join(cached_kids)}): {type(e).__name__}: {e}. A verifier caching the JWKS "
             "rejects every new token until its cache expires: publish the next key before signing with it")
    try:
        verify(CountingJWKClient(slug), after, tenant_issuer)
        ok("the token after rotation verifies with a freshly fetched JWKS")
    except jwt.PyJWTError as e:
        fail(f"the token after rotation does not verify even with a fresh JWKS: {type(e).__name__}: {e}")
    try:
        verify(cached, before, tenant_issuer)
        verify(CountingJWKClient(slug), before, tenant_issuer)
        ok("the token from before the rotation still verifies (cached and fresh JWKS)")
    except jwt.PyJWTError as e:
        fail(f"the token from before the rotation no longer verifies: {type(e).__name__}: {e}")
    try:
        a, b = gql(path, ME, bearer=before), gql(path, ME, bearer=after)
        if a["me"]["id"] == b["me"]["id"]:
            ok("the server accepts both tokens (me)")
        else:
            fail("me answered different users for the two tokens")
    except RuntimeError as e:
        fail(f"the server refuses a token after the rotation: {e}")


try:
    main()
except Exception as e:  # noqa: BLE001 - any surprise is a failed check, printed
    fail(f"unexpected: {type(e).__name__}: {e}")
print(f"jwks rotation (PyJWT): {failures} failure(s)" if failures else "jwks rotation (PyJWT): ok")
sys.exit(1 if failures else 0)
