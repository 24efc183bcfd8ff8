#!/usr/bin/env python3
"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that checks every delivery
with the Standard Webhooks reference library (PyPI `standardwebhooks`) and the event's JSON
schema (schema/events/{type}.json, with `jsonschema`), never with latchkey's code.

Prints `port N` first, then one JSON line per request received:
  {"path", "headers": {webhook-id, webhook-timestamp, webhook-signature}, "body" (parsed),
   "verified": bool, "verify_error", "schema_ok": bool|null, "schema_error", "answered"}
Control (the test's, on the same port): POST /_control with JSON
  {"secret": "whsec_...",            the secret deliveries are verified with
   "plan": [500, 410, ...],          statuses to answer next, in order (then 200)
   "hang_seconds": 20,               answer the next request only after this long
   "delay_ms": 300,                  answer every request only after this long
   "reply": {...}}                   answer 2xx with this JSON (a token hook's claims)
Standard library plus the two checkers; stops when stdin closes (its test ended).
"""
import json
import pathlib
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
from standardwebhooks import Webhook

SCHEMAS = pathlib.Path(__file__).resolve().parents[2] / "schema" / "events"
state = {"secret": None, "plan": [], "hang": 0, "delay": 0, "reply": None}
lock = threading.Lock()
out = threading.Lock()


def emit(record):
    with out:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, text=b"ok", kind="text/plain"):
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/_control":
            with lock:
                c = json.loads(body)
                if "secret" in c:
                    state["secret"] = c["secret"]
                if "plan" in c:
                    state["plan"] = list(c["plan"])
                if "hang_seconds" in c:
                    state["hang"] = c["hang_seconds"]
                if "reply" in c:
                    state["reply"] = c["reply"]
                if "delay_ms" in c:
                    state["delay"] = c["delay_ms"] / 1000
            return self.answer(200)
        with lock:
            secret = state["secret"]
            status = state["plan"].pop(0) if state["plan"] else 200
            hang, state["hang"] = state["hang"] or state["delay"], 0
            reply = state["reply"]
        headers = {k: self.headers.get(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        record = {"path": self.path, "headers": headers, "answered": status}
        try:
            Webhook(secret).verify(body, headers)
            record["verified"] = True
        except Exception as e:  # the test asserts on it
            record["verified"] = False
            record["verify_error"] = f"{type(e).__name__}: {e}"
        try:
            parsed = json.loads(body)
            record["body"] = parsed
            schema_file = SCHEMAS / f"{parsed.get('type')}.json"
            if schema_file.exists():
                jsonschema.validate(parsed, json.loads(schema_file.read_text()))
                record["schema_ok"] = True
            else:
                record["schema_ok"] = None
        except Exception as e:
            record["schema_ok"] = False
            record["schema_error"] = f"{type(e).__name__}: {e}"[:500]
        if hang:
            time.sleep(hang)
        emit(record)
        try:
            if reply is not None and 200 <= status < 300:
                self.answer(status, json.dumps(reply).encode(), "application/json")
            else:
                self.answer(status)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A sender that went away mid-request (the tests kill servers on purpose): not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


server = Server(("127.0.0.1", 0), Handler)
emit_port = f"port {server.server_address[1]}"
sys.stdout.write(emit_port + "\n")
sys.stdout.flush()
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
