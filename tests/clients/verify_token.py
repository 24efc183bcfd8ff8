"""Verifies an access token the way a Python resource server does (PyJWT's PyJWKClient
against the tenant's JWKS, the issuer as audience) and prints the verified claims as one
JSON line. Exit status 1 when the token does not verify. The JWKS address is given rather
than read from discovery: the tests' PUBLIC_URL names no reachable host, and the tests call
loopback only.

    python3 verify_token.py http://127.0.0.1:PORT/t/TENANT/.well-known/jwks.json ISSUER TOKEN
"""

import json
import sys

import jwt
from jwt import PyJWKClient

jwks_url, issuer, token = sys.argv[1], sys.argv[2], sys.argv[3]
key = PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
try:
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[jwt.get_unverified_header(token)["alg"]],
        issuer=issuer,
        audience=issuer,
        options={"require": ["exp", "iat", "iss", "sub", "aud"]},
    )
except jwt.PyJWTError as e:
    print(f"verify_token: {e}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(claims))
