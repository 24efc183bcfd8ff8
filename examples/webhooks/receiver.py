#!/usr/bin/env python3
"""A webhook receiver: verifies each latchkey delivery with the Standard Webhooks reference
library (PyPI `standardwebhooks`) and prints `webhook-id type data`, one line per event.

usage: WEBHOOK_SECRET=whsec_... python3 examples/webhooks/receiver.py PORT

A delivery that does not verify (wrong secret, changed body, a timestamp more than five
minutes off) is answered 400 and printed as refused; latchkey retries non-2xx answers. Use the
`webhook-id` as your idempotency key: a delivery can arrive more than once.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook

hook = Webhook(os.environ["WEBHOOK_SECRET"])


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            event = hook.verify(body, headers)
        except Exception as e:
            print("refused:", e, flush=True)
            self.send_response(400)
            self.end_headers()
            return
        print(headers["webhook-id"], event["type"], json.dumps(event["data"], sort_keys=True), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
