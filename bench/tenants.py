#!/usr/bin/env python3
"""Creates COUNT tenants through the platform API, then touches each one once (GET its JWKS,
which starts its actor: database session, migrations, signing key). Prints JSON timings.

usage: tenants.py HOST:PORT ADMIN_API_KEY COUNT [PREFIX] [WORKERS]
Standard library only; one keep-alive connection per worker thread.
"""
import http.client
import json
import sys
import threading
import time

addr, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
prefix = sys.argv[4] if len(sys.argv) > 4 else "bt"
workers = int(sys.argv[5]) if len(sys.argv) > 5 else 4
host, port = addr.rsplit(":", 1)
CREATE = "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }"


def run(job, label):
    errors = []
    nxt = [0]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= count:
                return
            try:
                status, body = job(conn, i)
                if status != 200 or b'"errors"' in body:
                    errors.append(body[:200].decode(errors="replace"))
            except Exception as e:  # keep going: report, do not hang
                errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)

    started = time.time()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.time() - started
    if errors:
        print(f"{label}: {len(errors)} errors, e.g. {errors[0]}", file=sys.stderr)
    return {"seconds": round(secs, 2), "per_sec": round(count / secs, 1), "errors": len(errors)}


def create(conn, i):
    body = json.dumps({"query": CREATE, "variables": {"i": {"slug": f"{prefix}-{i}", "displayName": f"Bench {i}"}}})
    conn.request("POST", "/admin/graphql", body,
                 {"content-type": "application/json", "authorization": f"Bearer {key}"})
    r = conn.getresponse()
    return r.status, r.read()


def touch(conn, i):
    conn.request("GET", f"/t/{prefix}-{i}/.well-known/jwks.json")
    r = conn.getresponse()
    return r.status, r.read()


out = {"count": count, "create": run(create, "create"), "touch": run(touch, "touch")}
print(json.dumps(out))
