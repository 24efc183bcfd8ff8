#!/usr/bin/env python3
"""Creates COUNT tenants through the platform API, then touches each one once (GET its JWKS,
which starts its actor: database session, migrations, signing key). Prints JSON timings.

usage: tenants.py HOST:PORT ADMIN_API_KEY COUNT [PREFIX] [WORKERS] [MAX_SECONDS]
Creation, then touching, each stop early after MAX_SECONDS (0: no limit); "created" and
"count" (touched) report how far they got. With TOUCH_ONLY=1 in the environment the tenants
PREFIX-0..COUNT-1 already exist and are only touched (again). Standard library only; one keep-alive connection per worker.
"""
import http.client
import json
import os
import sys
import threading
import time

addr, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
prefix = sys.argv[4] if len(sys.argv) > 4 else "bt"
workers = int(sys.argv[5]) if len(sys.argv) > 5 else 4
max_seconds = float(sys.argv[6]) if len(sys.argv) > 6 else 0
host, port = addr.rsplit(":", 1)
CREATE = "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }"


def run(job, label, limit=0):
    errors = []
    started = time.time()
    nxt = [0]
    # Indices are claimed in order and the stop test only becomes true, so the jobs run are
    # exactly 0..ran-1.
    ran = [0]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                if nxt[0] >= count or (limit and time.time() - started > limit):
                    return
                i = nxt[0]
                nxt[0] += 1
                ran[0] += 1
            try:
                status, body = job(conn, i)
                if status != 200 or b'"errors"' in body:
                    errors.append(body[:200].decode(errors="replace"))
            except Exception as e:  # keep going: report, do not hang
                errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.time() - started
    if errors:
        print(f"{label}: {len(errors)} errors, e.g. {errors[0]}", file=sys.stderr)
    done = ran[0]
    return {"seconds": round(secs, 2), "done": done, "per_sec": round(done / secs, 1), "errors": len(errors)}


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


if os.environ.get("TOUCH_ONLY"):
    touched = run(touch, "touch", max_seconds)
    print(json.dumps({"requested": count, "count": touched["done"], "touch": touched}))
    sys.exit(0)
created = run(create, "create", max_seconds)
requested, count = count, created["done"]
touched = run(touch, "touch", max_seconds)
out = {"requested": requested, "created": count, "count": touched["done"], "create": created, "touch": touched}
print(json.dumps(out))
