#!/usr/bin/env python3
"""Webhooks and the token hook under load, against a running latchkey started with
OUTBOUND_ALLOW_PRIVATE_NETWORKS=true (its endpoints here are on loopback). Prints JSON.

  1. deliveries: EVENTS events (`user.updated`, from `setUserRoles`, CLIENTS at a time) in a
     tenant whose endpoint answers 200 at once: deliveries per second from the first change
     to the last arrival, and each event's latency from its `timestamp` to its arrival.
  2. isolation: the same again while another tenant's endpoint hangs (accepts, never answers,
     so every attempt holds a delivery slot until the 15 s timeout) with DEAD_EVENTS events
     queued for it, and while a third tenant's endpoint refuses connections. Ratios against 1.
     The admin mutation's own latency is reported in both phases (the request path).
  3. token hook: REFRESHES sequential refreshes and LOGINS logins in a tenant, with the hook
     off and then on (a hook on loopback answering `{"claims": {"plan": "pro"}}` at once);
     p50/p90 per phase. The difference is the hook's cost: one signed HTTP call per token.

usage: webhooks.py HOST:PORT ADMIN_API_KEY [EVENTS] [DEAD_EVENTS]
Environment: CLIENTS (8), REFRESHES (300), LOGINS (40), BENCH_PASSWORD.
Measured at the clients over loopback, on whatever build the server is; the receivers are
Python threads (a ceiling of a few thousand requests per second, above what is measured here).
"""
import http.client
import json
import os
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

addr, key = sys.argv[1], sys.argv[2]
EVENTS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
DEAD_EVENTS = int(sys.argv[4]) if len(sys.argv) > 4 else 200
CLIENTS = int(os.environ.get("CLIENTS", "8"))
REFRESHES = int(os.environ.get("REFRESHES", "300"))
LOGINS = int(os.environ.get("LOGINS", "40"))
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password-4711")
host, port = addr.rsplit(":", 1)
RUN = uuid.uuid4().hex[:6]


def pct(xs, q):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 2) if xs else None


def summary(xs):
    return {"n": len(xs), "p50_ms": pct(xs, 0.5), "p90_ms": pct(xs, 0.9), "max_ms": pct(xs, 1.0)}


# --- loopback receivers ---------------------------------------------------------------------
class Arrivals:
    """`user.updated` arrivals per user id, in arrival order (a redelivery counted once)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids = set()
        self.by_user = {}  # user id -> [(arrival, body)]

    def add(self, msg_id, body):
        user = ((body.get("data") or {}).get("user") or {}).get("id")
        with self.lock:
            if msg_id in self.ids or body.get("type") != "user.updated":
                return
            self.ids.add(msg_id)
            self.by_user.setdefault(user, []).append((time.time(), body))

    def of(self, user):
        with self.lock:
            return list(self.by_user.get(user, []))


ARRIVALS = Arrivals()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: with Nagle on, the body waits for the ACK of the
    # headers, which the client delays by 40 ms (measured: every hook call and delivery
    # cost 40 ms more than the server's work). A real receiver answers in one segment.
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.startswith("/hook"):
            answer = json.dumps({"claims": {"plan": "pro"}}).encode()
        else:
            try:
                ARRIVALS.add(self.headers.get("webhook-id"), json.loads(body))
            except ValueError:
                pass
            answer = b"ok"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
receiver.daemon_threads = True
threading.Thread(target=receiver.serve_forever, daemon=True).start()
RX = f"http://127.0.0.1:{receiver.server_address[1]}"

# The dead endpoint: accepts connections and never answers (held open until latchkey gives up).
hang = socket.socket()
hang.bind(("127.0.0.1", 0))
hang.listen(1024)
held = []


def hold():
    while True:
        try:
            c, _ = hang.accept()
            held.append(c)
        except OSError:
            return


threading.Thread(target=hold, daemon=True).start()
HANG = f"http://127.0.0.1:{hang.getsockname()[1]}/hook"
# The refusing endpoint: a port nothing listens on.
s = socket.socket()
s.bind(("127.0.0.1", 0))
REFUSED = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
s.close()

# --- latchkey client --------------------------------------------------------------------------
local = threading.local()


def gql(path, query, variables=None, token=None):
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    t = time.perf_counter()
    try:
        conn.request("POST", path, body=json.dumps({"query": query, "variables": variables or {}}),
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    except (http.client.HTTPException, OSError):
        local.conn = None
        raise
    ms = (time.perf_counter() - t) * 1000
    answer = json.loads(data)
    if answer.get("errors"):
        raise SystemExit(f"{path}: {answer['errors']}")
    return answer["data"], ms


def tenant(slug):
    gql("/admin/graphql",
        "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
        {"i": {"slug": slug, "displayName": slug, "admin": {
            "email": f"admin@{slug}.example", "username": "admin", "password": PASSWORD}}}, key)
    return login(slug, "admin")[0]["login"]["accessToken"]


def login(slug, who):
    return gql(f"/t/{slug}/graphql",
               "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
               {"i": {"identifier": who, "password": PASSWORD}})


def webhook(slug, admin, url):
    gql(f"/t/{slug}/graphql",
        "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }",
        {"i": {"url": url, "events": ["user.updated"]}}, admin)


def a_user(slug, admin, name):
    d, _ = gql(f"/t/{slug}/graphql",
               "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
               {"i": {"email": f"{name}@{slug}.example", "username": name, "password": PASSWORD,
                      "emailVerified": True}}, admin)
    return d["createUser"]["id"]


SET_ROLES = "mutation($id: ID!, $r: [String!]!) { setUserRoles(id: $id, roles: $r) { id } }"


def changes(slug, admin, user, n):
    """n role changes, CLIENTS at a time; their request latencies (ms)."""
    def one(i):
        return gql(f"/t/{slug}/graphql", SET_ROLES, {"id": user, "r": [f"r{i}"]}, admin)[1]
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(n)))


def deliveries(slug, admin, user, n):
    before = len(ARRIVALS.of(user))
    t0 = time.time()
    request_ms = changes(slug, admin, user, n)
    deadline = time.time() + 300
    while len(ARRIVALS.of(user)) < before + n:
        if time.time() > deadline:
            raise SystemExit(f"{slug}: {len(ARRIVALS.of(user)) - before}/{n} delivered in 300 s")
        time.sleep(0.02)
    mine = ARRIVALS.of(user)[before:]
    last = max(at for at, _ in mine)
    latency = [(at - datetime.fromisoformat(b["timestamp"].replace("Z", "+00:00")).timestamp()) * 1000
               for at, b in mine]
    return {"events": n, "seconds": round(last - t0, 2),
            "deliveries_per_s": round(n / (last - t0), 1),
            "event_to_arrival": summary(latency), "mutation": summary(request_ms)}


out = {"events": EVENTS, "dead_events": DEAD_EVENTS, "clients": CLIENTS}

live = f"wl-{RUN}"
admin = tenant(live)
webhook(live, admin, RX + "/events")
user = a_user(live, admin, "target")
deliveries(live, admin, user, 20)  # warm-up
out["deliveries"] = deliveries(live, admin, user, EVENTS)

dead, refused = f"wd-{RUN}", f"wr-{RUN}"
dead_admin, refused_admin = tenant(dead), tenant(refused)
webhook(dead, dead_admin, HANG)
webhook(refused, refused_admin, REFUSED)
dead_user = a_user(dead, dead_admin, "victim")
refused_user = a_user(refused, refused_admin, "victim")
changes(dead, dead_admin, dead_user, DEAD_EVENTS)
changes(refused, refused_admin, refused_user, DEAD_EVENTS)
time.sleep(1)  # the next tick has claimed the dead tenant's first deliveries (held 15 s each)
out["held_connections_at_start"] = len(held)
out["deliveries_beside_dead"] = deliveries(live, admin, user, EVENTS)
out["held_connections_at_end"] = len(held)
b, a = out["deliveries"], out["deliveries_beside_dead"]
out["isolation"] = {
    "throughput_ratio": round(a["deliveries_per_s"] / b["deliveries_per_s"], 2),
    "p50_latency_ratio": round(a["event_to_arrival"]["p50_ms"] / max(b["event_to_arrival"]["p50_ms"], 0.01), 2),
    "mutation_p50_ratio": round(a["mutation"]["p50_ms"] / max(b["mutation"]["p50_ms"], 0.01), 2),
}

# --- token hook ---------------------------------------------------------------------------
hooked = f"wh-{RUN}"
hook_admin = tenant(hooked)
a_user(hooked, hook_admin, "ada")
REFRESH = "mutation($t: String!) { refresh(refreshToken: $t) { refreshToken } }"


def token_phase():
    logins = [login(hooked, "ada")[1] for _ in range(LOGINS)]
    rt = login(hooked, "ada")[0]["login"]["refreshToken"]
    refreshes = []
    for _ in range(REFRESHES):
        d, ms = gql(f"/t/{hooked}/graphql", REFRESH, {"t": rt})
        rt = d["refresh"]["refreshToken"]
        refreshes.append(ms)
    return {"login": summary(logins), "refresh": summary(refreshes)}


SETTINGS = "mutation($i: TenantSettingsInput!) { updateTenantSettings(input: $i) { tokenHookUrl } }"
out["token_hook_off"] = token_phase()
gql(f"/t/{hooked}/graphql", "mutation { rotateTokenHookSecret }", None, hook_admin)
gql(f"/t/{hooked}/graphql", SETTINGS, {"i": {"tokenHookUrl": RX + "/hook"}}, hook_admin)
out["token_hook_on"] = token_phase()
off, on = out["token_hook_off"], out["token_hook_on"]
out["token_hook_cost_ms"] = {
    "refresh_p50": round(on["refresh"]["p50_ms"] - off["refresh"]["p50_ms"], 2),
    "login_p50": round(on["login"]["p50_ms"] - off["login"]["p50_ms"], 2),
}
print(json.dumps(out))
