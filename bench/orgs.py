#!/usr/bin/env python3
"""Organizations at scale (issue 26): a tenant with ORGS organizations and MEMBERS memberships
against a tenant with next to none, on the same server and database engine. Prints JSON.

Both tenants get, through latchkey's API, the same probe user (a member of 5 organizations), one
organization of 10 members and 20 more organizations (a full first page of the list). The big tenant is then grown to ORGS more organizations, MEMBERS
more users and MEMBERS more memberships (MEMBERS / ORGS per organization), written straight into
its database through a real SurrealDB server's /sql endpoint (creating 100,000 users through the
API would mean 100,000 argon2 hashes; the rows are the ones latchkey writes). Then, for each
operation, ROUNDS alternating rounds over the two tenants: REQUESTS / ROUNDS sequential requests
(latency), then CLIENTS clients for SECONDS / ROUNDS (throughput):

  me     `me { organizations { organization { id name } roles } }` as the probe user
  page   an organization's member page (`members(first: 20)` with its total) as the admin
  list   the tenant's first page of organizations with `memberCount` and the total

Ratios big/small at p50 and for throughput; the goal is within 1.2x.

usage: orgs.py LATCHKEY_BINARY SURREAL_TEST_SERVER_BINARY
Environment: ORGS (10000), MEMBERS (100000), REQUESTS (400), CLIENTS (4), SECONDS (5), ROUNDS (4).
"""
import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

LATCHKEY, SURREAL = sys.argv[1], sys.argv[2]
ORGS = int(os.environ.get("ORGS", "10000"))
MEMBERS = int(os.environ.get("MEMBERS", "100000"))
REQUESTS = int(os.environ.get("REQUESTS", "400"))
CLIENTS = int(os.environ.get("CLIENTS", "4"))
SECONDS = float(os.environ.get("SECONDS", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "4"))
FILLER = 20
KEY = "bench-admin-key-0123456789"
PASSWORD = "bench-password-4711"
# A well-formed argon2id string: the seeded users never sign in.
HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVk$c2VlZGVkLXVzZXItbmV2ZXItc2lnbnMtaW4"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, what):
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    sys.exit(f"{what} not ready within 120 s")


class Client:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def gql(self, path, query, variables=None, bearer=None):
        headers = {"content-type": "application/json"}
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        self.c.request("POST", path, json.dumps({"query": query, "variables": variables or {}}), headers)
        body = json.loads(self.c.getresponse().read())
        if body.get("errors"):
            raise RuntimeError(f"{query[:60]}: {body['errors']}")
        return body["data"]


def sql(port, db, text):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/sql",
        data=text.encode(),
        headers={
            "accept": "application/json",
            "surreal-ns": "latchkey",
            "surreal-db": db,
            "authorization": "Basic " + base64.b64encode(b"root:root").decode(),
        },
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=600) as r:
        out = json.loads(r.read())
    for stmt in out:
        if stmt.get("status") != "OK":
            sys.exit(f"seeding failed: {stmt}")


def setup_tenant(c, slug):
    """The tenant, its admin's token, the probe (member of 5), one organization of 10."""
    c.gql("/admin/graphql", "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
          {"i": {"slug": slug, "displayName": slug, "admin": {"email": f"admin@{slug}.example", "username": "admin", "password": PASSWORD}}},
          KEY)
    path = f"/t/{slug}/graphql"
    login = "mutation($i: String!) { login(input: {identifier: $i, password: \"" + PASSWORD + "\"}) { accessToken } }"
    admin = c.gql(path, login, {"i": "admin"})["login"]["accessToken"]

    def user(name):
        return c.gql(path, "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                     {"i": {"email": f"{name}@{slug}.example", "username": name, "password": PASSWORD, "emailVerified": True}},
                     admin)["createUser"]["id"]

    def org(name):
        return c.gql(path, "mutation($n: String!) { createOrganization(input: {name: $n}) { id } }", {"n": name}, admin)["createOrganization"]["id"]

    add = "mutation($o: ID!, $u: ID!) { addOrganizationMember(orgId: $o, userId: $u, roles: [\"member\"]) { userId } }"
    probe = user("probe")
    orgs = [org(f"Probe Org {i}") for i in range(5)]
    # A full first page of the list in both tenants (the list's cost is per listed organization).
    for i in range(FILLER):
        org(f"Filler Org {i}")
    for o in orgs:
        c.gql(path, add, {"o": o, "u": probe}, admin)
    for i in range(9):
        c.gql(path, add, {"o": orgs[0], "u": user(f"colleague{i}")}, admin)
    token = c.gql(path, login, {"i": "probe"})["login"]["accessToken"]
    return {"path": path, "admin": admin, "probe": token, "page_org": orgs[0]}


def seed(port, slug):
    db = "t_" + slug.replace("-", "_")
    t0 = time.time()
    step = 10000
    for lo in range(0, MEMBERS, step):
        hi = min(lo + step, MEMBERS)
        sql(port, db, f"""FOR $i IN {lo}..{hi} {{
            LET $n = 'seed' + <string>$i;
            CREATE type::record('user', $n) SET email = $n + '@big.example', email_norm = $n + '@big.example',
                username = $n, username_norm = $n, password_hash = '{HASH}', email_verified = true,
                roles = [], disabled = false, created_at = time::now(), updated_at = time::now();
        }};""")
    for lo in range(0, ORGS, step):
        hi = min(lo + step, ORGS)
        sql(port, db, f"""FOR $i IN {lo}..{hi} {{
            LET $id = 'seed-org-' + <string>$i;
            CREATE type::record('organization', $id) SET name = 'Seed Org ' + <string>$i,
                name_norm = 'seed org ' + <string>$i, slug = $id, mfa_required = false,
                jit_roles = ['member'], created_at = time::now(), updated_at = time::now();
        }};""")
    for lo in range(0, MEMBERS, step):
        hi = min(lo + step, MEMBERS)
        sql(port, db, f"""FOR $i IN {lo}..{hi} {{
            LET $org = 'seed-org-' + <string>($i % {ORGS});
            LET $user = 'seed' + <string>$i;
            CREATE type::record('org_member', $org + '/' + $user) SET org = $org, user = $user,
                roles = ['member'], created_at = time::now();
        }};""")
    return round(time.time() - t0, 1)


def ops(t):
    return {
        "me": ("{ me { organizations { organization { id name } roles } } }", {}, t["probe"]),
        "page": ("query($o: ID!) { organization(id: $o) { members(first: 20) { totalCount edges { node { userId email roles } } } } }",
                 {"o": t["page_org"]}, t["admin"]),
        "list": ("{ organizations(first: 20) { totalCount edges { node { id name memberCount } } } }", {}, t["admin"]),
    }


def latencies(port, t, q, v, bearer, n):
    c = Client(port)
    for _ in range(10):
        c.gql(t["path"], q, v, bearer)
    times = []
    for _ in range(n):
        s = time.perf_counter()
        c.gql(t["path"], q, v, bearer)
        times.append((time.perf_counter() - s) * 1000)
    return times


def throughput(port, t, q, v, bearer, seconds):
    done = [0] * CLIENTS
    stop = time.time() + seconds

    def run(i):
        cc = Client(port)
        while time.time() < stop:
            cc.gql(t["path"], q, v, bearer)
            done[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(done)


def measure(port, tenants):
    """Every operation on both tenants in alternating rounds, so that whatever the machine or
    the store does in the background (compaction after seeding) weighs on both alike."""
    out = {name: {} for name in tenants}
    for op in ops(next(iter(tenants.values()))):
        times = {name: [] for name in tenants}
        done = {name: 0 for name in tenants}
        for _ in range(ROUNDS):
            for name, t in tenants.items():
                q, v, bearer = ops(t)[op]
                times[name] += latencies(port, t, q, v, bearer, REQUESTS // ROUNDS)
                done[name] += throughput(port, t, q, v, bearer, SECONDS / ROUNDS)
        for name in tenants:
            ts = sorted(times[name])
            out[name][op] = {
                "p50_ms": round(ts[len(ts) // 2], 2),
                "p90_ms": round(ts[int(len(ts) * 0.9)], 2),
                "per_s": round(done[name] / SECONDS, 1),
            }
    return out


def main():
    work = tempfile.mkdtemp(prefix="latchkey-orgs-bench-")
    sp, lp = free_port(), free_port()
    surreal = subprocess.Popen([SURREAL, "start", "--bind", f"127.0.0.1:{sp}", "--user", "root", "--pass", "root",
                                f"rocksdb:{work}/surreal"], stdout=subprocess.DEVNULL, stderr=open(f"{work}/surreal.log", "w"))
    env = dict(os.environ, DATABASE_URL=f"ws://127.0.0.1:{sp}", DATABASE_USER="root", DATABASE_PASSWORD="root",
               SECRET_KEY="bench-secret-key-0123456789-abcdefghijklmnop", BIND_ADDR=f"127.0.0.1:{lp}",
               PUBLIC_URL=f"http://localhost:{lp}", ADMIN_API_KEY=KEY, RUST_LOG="warn")
    server = None
    try:
        wait_ready(f"http://127.0.0.1:{sp}/health", surreal, "surreal-test-server")
        server = subprocess.Popen([LATCHKEY], env=env, stdout=subprocess.DEVNULL, stderr=open(f"{work}/latchkey.log", "w"))
        wait_ready(f"http://127.0.0.1:{lp}/readyz", server, "latchkey")
        c = Client(lp)
        small = setup_tenant(c, "orgs-small")
        big = setup_tenant(c, "orgs-big")
        seconds = seed(sp, "orgs-big")
        total = c.gql(big["path"], "{ organizations(first: 1) { totalCount } }", {}, big["admin"])["organizations"]["totalCount"]
        if total != ORGS + 5 + FILLER:
            sys.exit(f"the big tenant has {total} organizations, not {ORGS + 5 + FILLER}")
        m = measure(lp, {"small": small, "big": big})
        s, b = m["small"], m["big"]
        ratio = {k: {"p50": round(b[k]["p50_ms"] / s[k]["p50_ms"], 2), "throughput": round(s[k]["per_s"] / b[k]["per_s"], 2)} for k in s}
        print(json.dumps({"orgs": ORGS, "memberships": MEMBERS, "seed_seconds": seconds, "small": s, "big": b,
                          "ratio_big_over_small": ratio}, indent=1))
    finally:
        for p in (server, surreal):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
