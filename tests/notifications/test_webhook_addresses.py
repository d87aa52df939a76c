"""A delivery goes to the address its URL was checked at. A webhook host whose DNS answers a
public address to the check and an address inside the network a moment later (DNS rebinding)
must not have the server POST inside; the request still names the host (its Host header, and
over TLS its SNI and the certificate it verifies)."""

import datetime
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from noticing import tell
from webhook_receiver import Receiver, events, webhook_receiver

from notifications import addresses
from notifications.delivery import deliver_due
from notifications.kinds import NoticeKind

HOST = "hooks.test"


class Resolver:
    """DNS for the names in ``answers``: each look-up takes the next address of the name's list
    and keeps repeating the last; any other name resolves as usual."""

    def __init__(self, real) -> None:
        self.real = real
        self.answers: dict[str, list[str]] = {}

    def __call__(self, host, port, *args, **kwargs):
        queue = self.answers.get(host)
        if queue is None:
            return self.real(host, port, *args, **kwargs)
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return self.real(address, port, *args, **kwargs)


@pytest.fixture
def resolver(monkeypatch) -> Resolver:
    fake = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def _endpoint(client, user, url: str) -> dict:
    answer = client.post("/v1/webhooks/endpoints", headers=user.headers, json={"url": url})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_name_that_rebinds_to_an_inside_address_gets_no_delivery_inside(
    client, holder, engine, settings, receiver, resolver, monkeypatch
):
    # This machine has no public address: 127.0.0.1 (the customer's receiver) plays the public
    # internet, 127.0.0.2 (a neighbour on the same port) the network the server must not reach.
    monkeypatch.setattr(addresses, "is_public", lambda address: str(address) == "127.0.0.1")
    settings = settings.model_copy(update={"webhook_allow_private_addresses": False})
    client.app.state.settings = settings
    port = int(receiver.base_url.rsplit(":", 1)[1])
    url = f"http://{HOST}:{port}/hooks"
    resolver.answers[HOST] = ["127.0.0.2"]
    refused = client.post("/v1/webhooks/endpoints", headers=holder.headers, json={"url": url})
    assert refused.status_code == 400  # the check itself works on what the name answers
    resolver.answers[HOST] = ["127.0.0.1"]
    receiver.secrets["/hooks"] = _endpoint(client, holder, url)["secret"]

    with webhook_receiver(host="127.0.0.2", port=port) as neighbour:
        neighbour.secrets["/hooks"] = receiver.secrets["/hooks"]
        resolver.answers[HOST] = ["127.0.0.1", "127.0.0.2"]  # public once, then inside
        tell(engine, holder.id, NoticeKind.use_released, handle="captain")
        assert deliver_due(engine, settings=settings) == 1
        assert neighbour.received == []
    [request] = receiver.received
    assert request.verified and request.headers["host"] == f"{HOST}:{port}"
    assert [kind for kind, _ in events(receiver)] == ["use.released"]


def _certificate_for(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate naming ``name``, and its key: (certificate, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = folder / "cert.pem", folder / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


@contextmanager
def _tls_receiver(tmp_path: Path, monkeypatch) -> Iterator[tuple[Receiver, list[str]]]:
    """An HTTPS receiver whose certificate names HOST and is trusted here; the SNI names it
    was asked for."""
    certificate_file, key_file = _certificate_for(HOST, tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate_file))  # OpenSSL's trust store
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_file, key_file)
    asked: list[str] = []
    context.sni_callback = lambda _socket, name, _context: asked.append(name)
    with webhook_receiver(tls=context) as receiver:
        yield receiver, asked


def test_over_tls_the_pinned_connection_names_and_verifies_the_host(
    client, holder, engine, settings, resolver, tmp_path, monkeypatch
):
    with _tls_receiver(tmp_path, monkeypatch) as (receiver, asked):
        port = int(receiver.base_url.rsplit(":", 1)[1])
        resolver.answers[HOST] = ["127.0.0.1"]
        resolver.answers["elsewhere.test"] = ["127.0.0.1"]
        receiver.secrets["/hooks"] = _endpoint(client, holder, f"https://{HOST}:{port}/hooks")[
            "secret"
        ]
        wrong_name = _endpoint(client, holder, f"https://elsewhere.test:{port}/hooks")
        tell(engine, holder.id, NoticeKind.use_released, handle="captain")
        assert deliver_due(engine, settings=settings) == 1

    [request] = receiver.received
    assert request.verified and request.headers["host"] == f"{HOST}:{port}"
    assert HOST in asked
    # The certificate is checked against the URL's name, not waved through for the address.
    [failed] = client.get(
        f"/v1/webhooks/endpoints/{wrong_name['id']}/deliveries", headers=holder.headers
    ).json()["items"]
    assert failed["state"] == "pending"
    assert f"hostname 'elsewhere.test' doesn't match '{HOST}'" in failed["last_error"]
