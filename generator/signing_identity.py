"""The certificate chain and key the platform signs C2PA manifests with.

C2PA signs with X.509: an end-entity certificate (ES256 here, with the digitalSignature key
usage and the emailProtection extended key usage C2PA asks of signers) issued by a CA. An
operator gives theirs (``CLEARHOUSE_PROVENANCE_CERT_CHAIN`` and ``..._PROVENANCE_KEY``), from
a CA on the C2PA trust list for manifests others should trust. Without them the platform
makes its own, once, in the data dir's ``keys/``: a CA key and certificate, and a signing
key (``provenance-es256.pem``, kept like the receipt key, 0600) with a certificate that CA
issues. Only verifiers given that CA as a trust anchor (``clearhouse verify`` here) trust
what it signs; everyone else still sees a valid signature from an untrusted signer.

No timestamp authority countersigns: a manifest verifies while its certificate is valid, so
the self-made certificates are long-lived.
"""

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from clearhouse.keys import SigningKey, load_or_create_key
from generator.errors import ProvenanceCredentialsError

if TYPE_CHECKING:
    from clearhouse.settings import Settings

CA_CERTIFICATE = "provenance-ca.crt"
SIGNING_CHAIN = "provenance-chain.pem"
_CA_YEARS = 30
_SIGNER_YEARS = 20


@dataclass(frozen=True)
class SigningIdentity:
    """PEM certificates, the end-entity first, and the PEM private key of the end-entity."""

    certificate_chain_pem: bytes
    private_key_pem: bytes = field(repr=False)


def configured_signing_identity(settings: "Settings") -> SigningIdentity:
    """The operator's chain and key, else the platform's own (made on first use)."""
    if settings.provenance_cert_chain is not None and settings.provenance_key is not None:
        return operator_identity(
            chain_path=settings.provenance_cert_chain, key_path=settings.provenance_key
        )
    return platform_identity(settings.key_dir)


def configured_trust_anchors(settings: "Settings") -> bytes | None:
    """The CA certificates whose signatures are trusted: the operator's file, else the
    platform's own CA if it exists (never made here: verifying writes nothing)."""
    if settings.provenance_trust_anchors is not None:
        return settings.provenance_trust_anchors.read_bytes()
    own = settings.key_dir / CA_CERTIFICATE
    return own.read_bytes() if own.exists() else None


def operator_identity(*, chain_path: Path, key_path: Path) -> SigningIdentity:
    """An operator's chain and key, checked for what C2PA signing needs before any signing."""
    chain_pem = chain_path.read_bytes()
    key_pem = key_path.read_bytes()
    try:
        certificates = x509.load_pem_x509_certificates(chain_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as exc:
        raise ProvenanceCredentialsError(
            f"{chain_path} must hold PEM certificates and {key_path} an unencrypted PEM key: {exc}"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ProvenanceCredentialsError(f"{key_path} must be an EC P-256 key (ES256)")
    signer = certificates[0]
    if signer.public_key() != key.public_key():
        raise ProvenanceCredentialsError(
            f"the first certificate of {chain_path} must be the one of the key {key_path} "
            "(the end-entity first, then its issuers)"
        )
    if signer.issuer == signer.subject:
        raise ProvenanceCredentialsError(
            f"the first certificate of {chain_path} is self-signed, which C2PA refuses: give "
            "one a CA issued (with the digitalSignature key usage), then its issuers"
        )
    return SigningIdentity(certificate_chain_pem=chain_pem, private_key_pem=key_pem)


def platform_identity(key_dir: Path) -> SigningIdentity:
    """The platform's own CA and signing certificate in ``key_dir``, made on first use; a
    signing key that changed (a file replaced) gets a new certificate from the same CA."""
    ca_key = _private_key(load_or_create_key(purpose="provenance-ca", pem=None, key_dir=key_dir))
    signer = load_or_create_key(purpose="provenance", pem=None, key_dir=key_dir)
    signer_key = _private_key(signer)
    ca_path = key_dir / CA_CERTIFICATE
    if not ca_path.exists():
        _write_first(ca_path, _pem(_ca_certificate(ca_key)))
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    chain_path = key_dir / SIGNING_CHAIN
    chain = x509.load_pem_x509_certificates(chain_path.read_bytes()) if chain_path.exists() else []
    if not chain or chain[0].public_key() != signer_key.public_key():
        issued = _pem(_signer_certificate(signer_key, ca=ca, ca_key=ca_key)) + _pem(ca)
        _replace(chain_path, issued)
    return SigningIdentity(
        certificate_chain_pem=chain_path.read_bytes(),
        private_key_pem=signer.private_pem.encode(),
    )


def _private_key(key: SigningKey) -> ec.EllipticCurvePrivateKey:
    # SigningKey has checked it is a P-256 key.
    return cast(
        ec.EllipticCurvePrivateKey,
        serialization.load_pem_private_key(key.private_pem.encode(), password=None),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Clearhouse"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, digital_signature: bool, certificate_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_sign,
        crl_sign=certificate_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = _name("Clearhouse provenance CA")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * _CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=False, certificate_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _signer_certificate(
    key: ec.EllipticCurvePrivateKey, *, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name("Clearhouse generator"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * _SIGNER_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, certificate_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _staged(path: Path, data: bytes) -> Path:
    staged = path.with_name(f"{path.name}.{os.getpid()}.new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return staged


def _write_first(path: Path, data: bytes) -> None:
    """Write ``path`` whole unless another process wrote it first (then theirs stands)."""
    staged = _staged(path, data)
    try:
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        staged.unlink()


def _replace(path: Path, data: bytes) -> None:
    os.replace(_staged(path, data), path)
