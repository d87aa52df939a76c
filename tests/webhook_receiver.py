"""A real HTTP server that receives webhooks as a customer's would: every request is checked
with the `standardwebhooks` library against the endpoint's secret; a verified event is
accepted once per `webhook-id` (a repeat is acknowledged, not accepted again)."""

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int


@dataclass
class Receiver:
    base_url: str
    secrets: dict[str, str] = field(default_factory=dict)
    """The secret each path verifies with."""
    failing_first: set[str] = field(default_factory=set)
    """Paths that answer 500 to the first attempt of each message."""
    down: set[str] = field(default_factory=set)
    """Paths that answer 500 to everything."""
    received: list[Received] = field(default_factory=list)
    accepted: dict[str, dict] = field(default_factory=dict)
    """Each verified event accepted, by its `webhook-id`: its payload."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base_url + path

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            try:
                payload = Webhook(self.secrets[path]).verify(body, headers)
            except (KeyError, WebhookVerificationError):
                self.received.append(Received(path, headers, body, verified=False, status=400))
                return 400
            seen = [
                r for r in self.received if r.headers.get("webhook-id") == headers["webhook-id"]
            ]
            if path in self.down or (path in self.failing_first and not seen):
                status = 500
            else:
                status = 204
                self.accepted.setdefault(headers["webhook-id"], payload)
            self.received.append(Received(path, headers, body, verified=True, status=status))
            return status


@contextmanager
def webhook_receiver(
    *, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """A receiver listening on ``host`` (``port`` 0: any free one) in a thread for the length of
    the block; over HTTPS with ``tls``, a server context holding its certificate."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver.answer(self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls else "http"
    receiver = Receiver(base_url=f"{scheme}://{host}:{server.server_address[1]}")
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def events(receiver: Receiver) -> list[tuple[str, dict]]:
    """The accepted events as (type, data), in the order they were accepted."""
    return [(payload["type"], payload["data"]) for payload in receiver.accepted.values()]


def post_raw(url: str, *, body: bytes, headers: dict[str, str]) -> int:
    """POST as anyone could (a forger): the receiver's status."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def register(client, user, receiver: Receiver, path: str, kinds: list[str] | None = None) -> dict:
    """Register an endpoint at the receiver's ``path`` for ``user``; the receiver verifies with its
    secret."""
    answer = client.post(
        "/v1/webhooks/endpoints",
        headers=user.headers,
        json={"url": receiver.url(path), "kinds": kinds or []},
    )
    assert answer.status_code == 201, answer.text
    endpoint = answer.json()
    assert endpoint["secret"].startswith("whsec_")
    receiver.secrets[path] = endpoint["secret"]
    return endpoint
