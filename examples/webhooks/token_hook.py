#!/usr/bin/env python3
"""A token hook: latchkey asks it for extra claims before it signs an access token or an
id_token. It verifies the question with the Standard Webhooks reference library (PyPI
`standardwebhooks`) and answers `{"claims": {...}}`.

usage: TOKEN_HOOK_SECRET=whsec_... python3 examples/webhooks/token_hook.py PORT

Here every user gets `plan: "pro"` and a customer id made from the user id; a real hook would
look them up. Reserved claims (sub, roles, exp, ...) are refused by latchkey.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook

hook = Webhook(os.environ["TOKEN_HOOK_SECRET"])


class TokenHook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            question = hook.verify(body, {k.lower(): v for k, v in self.headers.items()})
        except Exception:
            self.send_response(401)
            self.end_headers()
            return
        user = question["data"]["user"] or {}
        claims = {"plan": "pro", "customer_id": "cus_" + (user.get("id") or "machine")[:8]}
        answer = json.dumps({"claims": claims}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), TokenHook).serve_forever()
