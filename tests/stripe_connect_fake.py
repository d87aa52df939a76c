"""A fake of Stripe Connect's accounts, account links and transfers, and of Checkout
Sessions, for tests only.

localstripe (the local Stripe-compatible server the suite uses where it covers the API) has no
Connect accounts or transfers and no Checkout Sessions, and Stripe's own API cannot be reached
from here. This fake serves just those endpoints, over real HTTP in a thread, so that the
official ``stripe`` client drives it as it would drive Stripe:

- ``POST /v1/accounts``, ``GET /v1/accounts/{id}``: connected accounts;
- ``POST /v1/account_links``: onboarding links;
- ``POST /v1/transfers``, ``GET /v1/transfers/{id}``, ``GET /v1/transfers`` (filtered by
  ``transfer_group`` and ``destination``);
- ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/{id}``: Checkout Sessions in
  ``payment`` mode (one line item with ``price_data``); :meth:`ConnectFake.pay_checkout`
  is the creator paying on Stripe's page (the session completes, paid, with a new
  PaymentIntent id; the test then signs the event Stripe would send).

A POST with an ``Idempotency-Key`` is answered as Stripe does: the same key with the same
parameters replays the first answer (a 500 included) and creates nothing; the same key with
other parameters is a 400 ``idempotency_error``; the same key while its first request is still
running is a 409. Every transfer created is counted under its key and its transfer group.
Failures can be injected: a 500 or a dropped connection after a transfer was created, an
account whose transfers are refused, and hooks called as a request arrives and once a transfer
is created
(tests kill a payout run from them). Every other path is forwarded to ``upstream`` (e.g.
localstripe), when one is given, so one client base URL reaches both.
"""

import http.client
import json
import secrets
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[payout_id]=...``) back into nested dicts."""
    params: dict[str, Any] = {}
    for name, value in pairs:
        keys = name.replace("]", "").split("[")
        target = params
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return params


class _Answer(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def _error(
    status: int, message: str, *, kind: str = "invalid_request_error", code: str | None = None
) -> _Answer:
    return _Answer(status, {"error": {"type": kind, "message": message, "code": code}})


@dataclass
class ConnectFake:
    upstream: str | None = None
    accounts: dict[str, dict] = field(default_factory=dict)
    transfers: dict[str, dict] = field(default_factory=dict)
    account_links: list[dict] = field(default_factory=list)
    checkout_sessions: dict[str, dict] = field(default_factory=dict)
    """The parameters of each account link asked for."""
    transfers_per_key: Counter = field(default_factory=Counter)
    """Transfers created under each idempotency key (None: sent without one)."""
    declined_accounts: set[str] = field(default_factory=set)
    """Connected accounts whose transfers are refused (a 400, as Stripe refuses an account
    that cannot receive transfers)."""
    after_create_failures: deque = field(default_factory=deque)
    """What the next transfers' answers become once created: "500" or "drop"."""
    on_request: Callable[[str, str], None] | None = None
    """Called with (method, path) as each request to the fake's endpoints arrives."""
    after_transfer: Callable[[dict], None] | None = None
    """Called once a transfer is created, before it is answered."""
    requests: Counter = field(default_factory=Counter)
    _saved: dict[str, tuple[tuple, int, dict]] = field(default_factory=dict)
    _running: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    # What the tests count.
    def transfers_per_group(self) -> Counter:
        return Counter(transfer["transfer_group"] for transfer in self.transfers.values())

    def forget_idempotency_keys(self) -> None:
        """What Stripe does to a key after 24 hours."""
        with self._lock:
            self._saved.clear()

    def reverse(self, transfer_id: str, amount: int) -> dict:
        """Reverse part or all of a transfer, as the platform would at Stripe; the transfer."""
        transfer = self.transfers[transfer_id]
        transfer["reversals"]["data"].append(
            {
                "id": _new_id("trr"),
                "object": "transfer_reversal",
                "amount": amount,
                "transfer": transfer_id,
            }
        )
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
        return transfer

    def pay_checkout(self, session_id: str) -> dict:
        """The creator pays on the Checkout page: the session, complete and paid."""
        checkout = self.checkout_sessions[session_id]
        checkout.update(status="complete", payment_status="paid", payment_intent=_new_id("pi"))
        return checkout

    # The endpoints.
    def _create_checkout(self, params: dict) -> dict:
        if params.get("mode") != "payment":
            raise _error(400, "The fake serves mode=payment only.", code="parameter_invalid")
        for name in ("success_url", "cancel_url"):
            if not params.get(name):
                raise _error(400, f"Missing required param: {name}.", code="parameter_missing")
        items = list((params.get("line_items") or {}).values())
        if len(items) != 1 or "price_data" not in items[0]:
            raise _error(400, "The fake serves one line item with price_data.")
        price = items[0]["price_data"]
        amount = int(price["unit_amount"]) * int(items[0].get("quantity", 1))
        checkout = {
            "id": _new_id("cs_test"),
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": price["currency"],
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "payment_intent_data": params.get("payment_intent_data", {}),
            "payment_intent": None,
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "created": int(time.time()),
        }
        checkout["url"] = f"{self.base_url}/checkout/pay/{checkout['id']}"
        self.checkout_sessions[checkout["id"]] = checkout
        return checkout

    def _create_account(self, params: dict) -> dict:
        account = {
            "id": _new_id("acct"),
            "object": "account",
            "type": params.get("type", "express"),
            "email": params.get("email"),
            "metadata": params.get("metadata", {}),
            "details_submitted": False,
            "payouts_enabled": False,
            "charges_enabled": False,
            "created": int(time.time()),
        }
        self.accounts[account["id"]] = account
        return account

    def _account_link(self, params: dict) -> dict:
        account = params.get("account")
        if account not in self.accounts:
            raise _error(400, f"No such account: '{account}'", code="resource_missing")
        for name in ("refresh_url", "return_url", "type"):
            if not params.get(name):
                raise _error(400, f"Missing required param: {name}.", code="parameter_missing")
        self.account_links.append(params)
        now = int(time.time())
        return {
            "object": "account_link",
            "url": f"{self.base_url}/connect/setup/{account}/{secrets.token_urlsafe(8)}",
            "created": now,
            "expires_at": now + 300,
        }

    def _create_transfer(self, params: dict, key: str | None) -> dict:
        try:
            amount = int(params["amount"])
        except (KeyError, ValueError):
            raise _error(
                400, "Missing or invalid amount.", code="parameter_invalid_integer"
            ) from None
        destination = params.get("destination")
        if amount <= 0 or not params.get("currency"):
            raise _error(400, "Amount must be positive and a currency given.")
        if destination not in self.accounts:
            raise _error(400, f"No such destination: '{destination}'", code="resource_missing")
        if destination in self.declined_accounts:
            raise _error(
                400,
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
            )
        transfer = {
            "id": _new_id("tr"),
            "object": "transfer",
            "amount": amount,
            "currency": params["currency"],
            "destination": destination,
            "transfer_group": params.get("transfer_group"),
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "amount_reversed": 0,
            "reversed": False,
            "reversals": {"object": "list", "data": [], "has_more": False, "url": ""},
            "created": int(time.time()),
        }
        with self._lock:
            self.transfers[transfer["id"]] = transfer
            self.transfers_per_key[key] += 1
        if self.after_transfer is not None:
            self.after_transfer(transfer)
        return transfer

    def _list_transfers(self, query: dict[str, list[str]]) -> dict:
        found = [
            transfer
            for transfer in reversed(self.transfers.values())
            if all(
                transfer.get(name) == query[name][0]
                for name in ("transfer_group", "destination")
                if name in query
            )
        ]
        limit = int(query.get("limit", ["10"])[0])
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/transfers",
        }

    def answer(
        self, method: str, path: str, query: dict, params: dict, key: str | None
    ) -> tuple[int, dict, str | None]:
        """(status, body, failure to inject) for one request to a path the fake serves."""
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "accounts"]:
            return 200, self._create_account(params), None
        if method == "GET" and parts[:2] == ["v1", "accounts"] and len(parts) == 3:
            if parts[2] not in self.accounts:
                raise _error(404, f"No such account: '{parts[2]}'", code="resource_missing")
            return 200, self.accounts[parts[2]], None
        if method == "POST" and parts == ["v1", "account_links"]:
            return 200, self._account_link(params), None
        if method == "POST" and parts == ["v1", "transfers"]:
            transfer = self._create_transfer(params, key)
            failure = self.after_create_failures.popleft() if self.after_create_failures else None
            return 200, transfer, failure
        if method == "POST" and parts == ["v1", "checkout", "sessions"]:
            return 200, self._create_checkout(params), None
        if method == "GET" and parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
            if parts[3] not in self.checkout_sessions:
                raise _error(
                    404, f"No such checkout session: '{parts[3]}'", code="resource_missing"
                )
            return 200, self.checkout_sessions[parts[3]], None
        if method == "GET" and parts == ["v1", "transfers"]:
            return 200, self._list_transfers(query), None
        if method == "GET" and parts[:2] == ["v1", "transfers"] and len(parts) == 3:
            if parts[2] not in self.transfers:
                raise _error(404, f"No such transfer: '{parts[2]}'", code="resource_missing")
            return 200, self.transfers[parts[2]], None
        raise LookupError(path)

    def serves(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        if parts[:3] == ["v1", "checkout", "sessions"]:
            return len(parts) <= 4
        return (
            parts[:2] in (["v1", "accounts"], ["v1", "account_links"], ["v1", "transfers"])
            and len(parts) <= 3
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: ConnectFake

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.fake
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not fake.serves(url.path):
            self._forward(method, body)
            return
        fake.requests[(method, url.path)] += 1
        if fake.on_request is not None:
            fake.on_request(method, url.path)
        query = urllib.parse.parse_qs(url.query)
        pairs = urllib.parse.parse_qsl(
            body.decode() or url.query if method == "POST" else url.query
        )
        params = _nested(pairs)
        key = self.headers.get("Idempotency-Key") if method == "POST" else None
        fingerprint = (method, url.path, tuple(sorted(pairs)))
        if key is not None:
            with fake._lock:
                saved = fake._saved.get(key)
                if saved is None and key in fake._running:
                    saved = "running"
                elif saved is None:
                    fake._running.add(key)
            if saved == "running":
                self._send(
                    409,
                    _error(
                        409, "A request with this key is in progress.", kind="idempotency_error"
                    ).body,
                )
                return
            if saved is not None:
                if saved[0] != fingerprint:
                    self._send(
                        400,
                        _error(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters"
                            " they were first used with.",
                            kind="idempotency_error",
                        ).body,
                    )
                else:
                    self._send(saved[1], saved[2], replayed=True)
                return
        failure = None
        status, answer = 500, _error(500, "The fake failed.", kind="api_error").body
        try:
            status, answer, failure = fake.answer(method, url.path, query, params, key)
        except _Answer as refused:
            status, answer = refused.status, refused.body
        finally:
            if failure == "500":
                status, answer = 500, _error(500, "An unexpected error.", kind="api_error").body
            if key is not None:
                with fake._lock:
                    # Stripe keeps the answer to what it began to execute, a 500 included;
                    # saved before the key is free again, so no second request slips between.
                    if status == 200 or status >= 500:
                        fake._saved[key] = (fingerprint, status, answer)
                    fake._running.discard(key)
        if failure == "drop":
            self.close_connection = True
            return
        self._send(status, answer)

    def _send(self, status: int, body: dict, *, replayed: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", _new_id("req"))
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)

    def _forward(self, method: str, body: bytes) -> None:
        if self.fake.upstream is None:
            self._send(404, _error(404, f"Unrecognized request URL ({method}: {self.path}).").body)
            return
        upstream = urllib.parse.urlsplit(self.fake.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in {"host", "connection"}
        }
        connection.request(method, self.path, body=body or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the crash tests do it) is no error of the fake's."""


class ConnectFakeServer:
    """The fake on a free local port, served by threads until stopped."""

    def __init__(self, fake: ConnectFake) -> None:
        handler = type("Handler", (_Handler,), {"fake": fake})
        self.server = _QuietServer(("127.0.0.1", 0), handler)
        fake.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.fake = fake
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return self.fake.base_url

    def __enter__(self) -> "ConnectFakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
