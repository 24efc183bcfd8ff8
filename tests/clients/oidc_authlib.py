"""latchkey as an OpenID Connect provider, seen by Authlib (a Python client a relying party
would pick): the discovery documents validated by Authlib's own metadata models, then the
authorization code flow with PKCE (S256) through a real browser, and the id_token checked
the way Authlib's OpenID client checks it (OpenIDMixin.parse_id_token: joserfc's jwt.decode
against the JWKS, then authlib.oidc.core.CodeIDToken for iss, aud, nonce, azp, at_hash,
exp and iat).

Run by tests/browser/oidc.test.mjs, which drives the browser; a line protocol between them:
    this script prints    authorize <URL>      the authorization URL Authlib built
    the test answers      <redirect URL>       where the browser landed after signing in
    this script prints    result <JSON>        what it checked, for the test to compare
Every other line starts with "authlib:" and says what passed. Exit status 1 on any failure.

    LATCHKEY_URL=http://localhost:PORT TENANT=slug CLIENT_ID=... CLIENT_SECRET=... \\
      REDIRECT_URI=http://localhost:PORT2/cb/authlib python3 oidc_authlib.py
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.core import CodeIDToken, UserInfo
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

# Only Authlib's current API: a deprecated path (authlib.jose) fails the check.
warnings.simplefilter("error", AuthlibDeprecationWarning)

TIMEOUT = 15
BASE = os.environ["LATCHKEY_URL"].rstrip("/")
TENANT = os.environ["TENANT"]
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
REDIRECT_URI = os.environ["REDIRECT_URI"]
ISSUER = f"{BASE}/t/{TENANT}"


def say(msg: str) -> None:
    print(f"authlib: {msg}", flush=True)


def fetch_json(url: str) -> dict:
    r = requests.get(url, timeout=TIMEOUT)
    r.raise_for_status()
    return r.json()


def discovery() -> dict:
    """Both documents pass Authlib's validate(): every REQUIRED field there, every value of
    the form RFC 8414 §2 and OpenID Connect Discovery 1.0 §3 give it."""
    oidc = OpenIDProviderMetadata(fetch_json(f"{ISSUER}/.well-known/openid-configuration"))
    oidc.validate()
    oauth = AuthorizationServerMetadata(
        fetch_json(f"{ISSUER}/.well-known/oauth-authorization-server")
    )
    oauth.validate()
    # RFC 8414 §3: the well-known part inserted before the issuer's path, the same document.
    inserted = AuthorizationServerMetadata(
        fetch_json(f"{BASE}/.well-known/oauth-authorization-server/t/{TENANT}")
    )
    inserted.validate()
    for doc in (oidc, oauth, inserted):
        # RFC 8414 §3.3 / Discovery §4.3: the issuer is the one the document was asked for.
        assert doc["issuer"] == ISSUER, (doc["issuer"], ISSUER)
    say(
        "discovery validate() passed: OpenIDProviderMetadata for "
        f"/t/{TENANT}/.well-known/openid-configuration, AuthorizationServerMetadata for "
        f"/t/{TENANT}/.well-known/oauth-authorization-server and "
        f"/.well-known/oauth-authorization-server/t/{TENANT}"
    )
    return dict(oidc)


def main() -> int:
    meta = discovery()
    session = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="openid profile email",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(64)
    nonce = generate_token(24)
    # prompt=login: the sign-in page whatever browser session the test's browser holds
    # (OpenID Connect Core §3.1.2.1).
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, prompt="login"
    )
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"], query
    print(f"authorize {url}", flush=True)

    answer = sys.stdin.readline().strip()
    if not answer:
        raise SystemExit("authlib: no redirect URL on stdin")
    returned = parse_qs(urlsplit(answer).query)
    # RFC 9207: the answer names its issuer (Authlib leaves this check to the application).
    assert returned.get("iss") == [meta["issuer"]], returned.get("iss")
    token = session.fetch_token(
        meta["token_endpoint"],
        authorization_response=answer,
        state=state,
        code_verifier=verifier,
    )
    assert token["token_type"].lower() == "bearer", token
    say(
        "code exchanged at the token endpoint (client_secret_basic, PKCE S256, state checked): "
        f"access_token, id_token, expires_in={token['expires_in']}"
    )

    # What OpenIDMixin.parse_id_token does, with this client's expectations.
    keys = KeySet.import_key_set(fetch_json(meta["jwks_uri"]))
    decoded = jwt.decode(
        token["id_token"],
        keys,
        registry=JWSRegistry(algorithms=meta["id_token_signing_alg_values_supported"]),
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": CLIENT_ID},
            "sub": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        },
        {"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]},
    )
    claims.validate(leeway=5)
    assert "at_hash" in claims, "the id_token of a code flow carries at_hash"
    say(
        f"id_token validated: {decoded.header['alg']} signature (kid {decoded.header['kid']}) "
        "from the JWKS, iss, aud, nonce, azp, at_hash, exp, iat (CodeIDToken)"
    )

    r = session.get(meta["userinfo_endpoint"], timeout=TIMEOUT)
    r.raise_for_status()
    info = UserInfo(r.json())
    # OpenID Connect Core §5.3.2: the sub of userinfo must equal the id_token's.
    assert info["sub"] == claims["sub"], (info["sub"], claims["sub"])
    say(f"userinfo: sub matches the id_token, email={info['email']}, "
        f"preferred_username={info['preferred_username']}")
    print("result " + json.dumps({
        "sub": claims["sub"],
        "email": info["email"],
        "preferred_username": info["preferred_username"],
        "alg": decoded.header["alg"],
        "amr": claims.get("amr"),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
