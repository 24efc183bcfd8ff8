"""schemathesis hooks for tests/clients/schemathesis.sh: credentials for the secured operations.

Each secured request gets a token from a fresh login of the account schemathesis.sh signed up
(SCHEMATHESIS_USERNAME / SCHEMATHESIS_PASSWORD), never a cached one: a refresh token is
single use (presenting it twice revokes its session, by design) and a `logout` case ends the
session of the token it carries, so any token shared between cases would turn the later ones
into 401s that say nothing about the API.
"""

import json
import os
import urllib.parse
import urllib.request

import schemathesis


def _login() -> dict:
    base = os.environ["LATCHKEY_URL"].rstrip("/")
    form = urllib.parse.urlencode(
        {"username": os.environ["SCHEMATHESIS_USERNAME"], "password": os.environ["SCHEMATHESIS_PASSWORD"]}
    ).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/auth/login", data=form), timeout=15) as r:
        return json.load(r)


def _bearer(case, token: str) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@schemathesis.auth(refresh_interval=None).apply_to(path="/api/auth/refresh")
class RefreshToken:
    """The `RefreshToken` scheme: `Authorization: Bearer <refresh token>`."""

    def get(self, case, ctx):
        return _login()["refresh_token"]

    def set(self, case, data, ctx):
        _bearer(case, data)


@schemathesis.auth(refresh_interval=None).apply_to(path=["/api/auth/me", "/api/auth/logout"])
class AccessToken:
    """The `OAuth2PasswordBearer` scheme: `Authorization: Bearer <access token>`."""

    def get(self, case, ctx):
        return _login()["access_token"]

    def set(self, case, data, ctx):
        _bearer(case, data)
