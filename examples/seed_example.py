"""The seed's README example, unchanged in substance: register, log in, read `me`.

    pip install requests
    python examples/seed_example.py            # against http://localhost:8000
    LATCHKEY_URL=http://127.0.0.1:9000 python examples/seed_example.py
"""

import os
import uuid

import requests

BASE_URL = os.environ.get("LATCHKEY_URL", "http://localhost:8000")

# A fresh address per run, so the example also works against a server that keeps its data.
suffix = uuid.uuid4().hex[:8]
email = f"alice-{suffix}@example.com"
username = f"alice-{suffix}"
password = "correct horse battery staple"

# Register (JSON)
r = requests.post(
    f"{BASE_URL}/api/auth/register",
    json={"email": email, "username": username, "password": password},
)
assert r.status_code == 201, (r.status_code, r.text)
print("registered:", r.json())

# Log in (form: username=<email>&password=...)
r = requests.post(
    f"{BASE_URL}/api/auth/login",
    data={"username": email, "password": password},
)
assert r.status_code == 200, (r.status_code, r.text)
token = r.json()["access_token"]

# Who am I?
r = requests.get(
    f"{BASE_URL}/api/auth/me",
    headers={"Authorization": f"Bearer {token}"},
)
assert r.status_code == 200, (r.status_code, r.text)
me = r.json()
assert me["email"] == email and me["username"] == username and me["is_active"], me
print("me:", me)
