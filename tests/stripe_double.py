"""A test double of the two Stripe API endpoints the card adapter calls; not Stripe.

Why a double: the tests have no outside network, so the real Stripe API cannot be reached. The official
`stripe` SDK is pointed at this server (ABB_STRIPE_API_BASE) and speaks to it over real HTTP on a free
loopback port. It answers only `POST /v1/payment_intents` and `POST /v1/payment_intents/{id}/confirm`,
with the fields the adapter reads; it honours Stripe's Idempotency-Key (same key, same intent) and can
be told to decline the next calls, as Stripe does with a 402 card error. Webhook events are not sent by
it: tests sign them with the SDK's own `WebhookSignature.generate_signature_header`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.harness.services import free_port


class StripeDouble:
    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call received
        self.declines_left = 0
        self.latency_seconds = 0.0  # a slow provider widens the window in which concurrent requests overlap
        self._by_idempotency_key: dict[str, tuple[int, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def decline_next(self, count: int) -> None:
        with self._lock:
            self.declines_left = count

    def created(self) -> int:
        return sum(1 for method, path in self.requests if method == "POST" and path == "/v1/payment_intents")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, path: str, form: dict[str, list[str]], key: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(("POST", path))
            if key and key in self._by_idempotency_key:
                return self._by_idempotency_key[key]
            result = self._handle(path, form)
            if key:
                self._by_idempotency_key[key] = result
            return result

    def _handle(self, path: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if self.declines_left > 0:
            self.declines_left -= 1
            return 402, {"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}
        if path == "/v1/payment_intents":
            intent_id = f"pi_double_{next(self._ids)}"
            intent = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": int(form["amount"][0]),
                "currency": form["currency"][0],
                "status": "requires_payment_method",
                "client_secret": f"{intent_id}_secret_double",
                "metadata": {k[9:-1]: v[0] for k, v in form.items() if k.startswith("metadata[")},
            }
            self.intents[intent_id] = intent
            return 200, intent
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["v1", "payment_intents"] and parts[3] == "confirm":
            intent = self.intents.get(parts[2])
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            intent["status"] = "processing"
            return 200, intent
        return 404, {"error": {"type": "invalid_request_error", "message": f"unknown path {path}"}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                time.sleep(double.latency_seconds)
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                status, body = double._answer(self.path, form, self.headers.get("Idempotency-Key"))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", "req_double")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
