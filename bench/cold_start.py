#!/usr/bin/env python3
"""The first request to an evicted tenant against the same request warm (issue 28).

usage: cold_start.py HOST:PORT PREFIX FIRST COUNT
The tenants PREFIX-FIRST..PREFIX-(FIRST+COUNT-1) exist and have been evicted (idle longer
than TENANT_IDLE_SECONDS, `latchkey_tenant_actors` 0). For each, one after the other on one
keep-alive connection: GET its JWKS (cold: the tenant starts), then GET it again (warm).
Prints JSON: p50, p90 and max of both in ms, and the p50 of cold minus warm per tenant.
Standard library only.
"""
import http.client
import json
import statistics
import sys
import time

addr, prefix, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
host, port = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port), timeout=60)


def get(path):
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t) * 1000
    if r.status != 200 or b'"keys"' not in body:
        raise SystemExit(f"GET {path}: {r.status} {body[:200]!r}")
    return ms


cold, warm = [], []
for i in range(first, first + count):
    path = f"/t/{prefix}-{i}/.well-known/jwks.json"
    cold.append(get(path))
    warm.append(get(path))


def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))], 2)


over = [c - w for c, w in zip(cold, warm)]
print(json.dumps({
    "tenants": count,
    "cold_ms": {"p50": pct(cold, 0.5), "p90": pct(cold, 0.9), "max": round(max(cold), 2)},
    "warm_ms": {"p50": pct(warm, 0.5), "p90": pct(warm, 0.9), "max": round(max(warm), 2)},
    "over_warm_p50_ms": round(statistics.median(over), 2),
}))
