#!/usr/bin/env python3
"""Times the platform console's tenants page against a server holding many tenants: the first
page (`tenants(first: 20)` with its totalCount) and a search (`tenants(first: 20, search: S)`),
each REPEAT times over one keep-alive connection, one at a time. Prints JSON: p50, p90 and max
milliseconds per query, and what the search matched. Measured at the client over loopback, so
each figure is the server's time plus one local HTTP round trip (an upper bound of it).

usage: tenants_page.py HOST:PORT ADMIN_API_KEY SEARCH [REPEAT]
"""
import http.client
import json
import sys
import time

addr, key, search = sys.argv[1], sys.argv[2], sys.argv[3]
repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 30
host, port = addr.rsplit(":", 1)
QUERY = ("query($s: String) { tenants(first: 20, search: $s) { totalCount "
         "pageInfo { hasNextPage endCursor } edges { node { slug displayName algorithm disabled createdAt } } } }")
conn = http.client.HTTPConnection(host, int(port), timeout=60)


def once(s):
    body = json.dumps({"query": QUERY, "variables": {"s": s}})
    t = time.perf_counter()
    conn.request("POST", "/admin/graphql", body=body, headers={
        "content-type": "application/json", "authorization": f"Bearer {key}"})
    resp = conn.getresponse()
    data = resp.read()
    ms = (time.perf_counter() - t) * 1000
    answer = json.loads(data)
    if resp.status != 200 or answer.get("errors"):
        raise SystemExit(f"tenants page failed: {resp.status} {data[:300]!r}")
    return ms, answer["data"]["tenants"]


def timed(s):
    once(s)  # the first request warms the connection and the platform session
    times, last = [], None
    for _ in range(repeat):
        ms, last = once(s)
        times.append(ms)
    times.sort()
    pick = lambda q: round(times[min(len(times) - 1, int(q * len(times)))], 2)
    return {"p50_ms": pick(0.5), "p90_ms": pick(0.9), "max_ms": round(times[-1], 2),
            "total": last["totalCount"], "shown": len(last["edges"])}


print(json.dumps({"repeat": repeat, "first_page": timed(None), "search": dict(timed(search), term=search)}))
