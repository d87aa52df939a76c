"""The certificate C2PA manifests are signed with: the platform's own, or an operator's."""

import shutil
import stat

import pydantic
import pytest
from clips import generation_record, moving_square
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from clearhouse.settings import Settings
from generator.errors import ProvenanceCredentialsError
from generator.provenance import read_provenance, sign_clip
from generator.signing_identity import (
    CA_CERTIFICATE,
    SIGNING_CHAIN,
    configured_signing_identity,
    configured_trust_anchors,
    platform_identity,
)
from generator.video import encode_mp4


def test_the_platform_makes_its_ca_and_signing_certificate_once(tmp_path):
    keys = tmp_path / "keys"
    identity = platform_identity(keys)
    for name in ("provenance-ca-es256.pem", "provenance-es256.pem", CA_CERTIFICATE, SIGNING_CHAIN):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600, name
    signer, ca = x509.load_pem_x509_certificates(identity.certificate_chain_pem)
    key = serialization.load_pem_private_key(identity.private_key_pem, password=None)
    assert signer.public_key() == key.public_key()
    assert signer.issuer == ca.subject
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert (
        ExtendedKeyUsageOID.EMAIL_PROTECTION
        in signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (keys / CA_CERTIFICATE).read_bytes() == ca.public_bytes(serialization.Encoding.PEM)
    assert platform_identity(keys) == identity  # kept, not made again


def test_a_replaced_signing_key_gets_a_new_certificate_from_the_same_ca(tmp_path):
    keys = tmp_path / "keys"
    first = platform_identity(keys)
    ca_before = (keys / CA_CERTIFICATE).read_bytes()
    (keys / "provenance-es256.pem").unlink()
    second = platform_identity(keys)
    assert second.private_key_pem != first.private_key_pem
    signer, ca = x509.load_pem_x509_certificates(second.certificate_chain_pem)
    key = serialization.load_pem_private_key(second.private_key_pem, password=None)
    assert signer.public_key() == key.public_key()
    assert (keys / CA_CERTIFICATE).read_bytes() == ca_before
    assert ca.public_bytes(serialization.Encoding.PEM) == ca_before


def test_reading_the_trust_anchors_makes_no_certificate(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert configured_trust_anchors(settings) is None
    assert not settings.key_dir.exists()


def _operator_files(tmp_path):
    """A chain and key as an operator would hand them over (made here by another CA)."""
    keys = tmp_path / "operator-ca"
    platform_identity(keys)
    chain, key = tmp_path / "chain.pem", tmp_path / "signer.key"
    shutil.copy(keys / SIGNING_CHAIN, chain)
    shutil.copy(keys / "provenance-es256.pem", key)
    anchors = tmp_path / "anchors.pem"
    shutil.copy(keys / CA_CERTIFICATE, anchors)
    return chain, key, anchors


def test_an_operators_chain_and_key_sign_and_their_ca_is_trusted(tmp_path):
    chain, key, anchors = _operator_files(tmp_path)
    settings = Settings(
        data_dir=tmp_path / "data",
        provenance_cert_chain=chain,
        provenance_key=key,
        provenance_trust_anchors=anchors,
    )
    identity = configured_signing_identity(settings)
    assert identity.certificate_chain_pem == chain.read_bytes()
    assert not settings.key_dir.exists()  # nothing of the platform's own is made
    video, signed = tmp_path / "clip.mp4", tmp_path / "signed.mp4"
    encode_mp4(moving_square(count=2, width=32, height=32), fps=4, destination=video)
    sign_clip(video=video, destination=signed, record=generation_record(), identity=identity)
    provenance = read_provenance(signed, trust_anchors_pem=configured_trust_anchors(settings))
    assert provenance.trusted


def test_a_key_that_is_not_the_chains_is_refused(tmp_path):
    chain, _, _ = _operator_files(tmp_path)
    platform_identity(tmp_path / "other")
    other_key = tmp_path / "other" / "provenance-es256.pem"
    settings = Settings(data_dir=tmp_path, provenance_cert_chain=chain, provenance_key=other_key)
    with pytest.raises(ProvenanceCredentialsError, match="the end-entity first"):
        configured_signing_identity(settings)


def test_a_self_signed_certificate_is_refused(tmp_path):
    platform_identity(tmp_path / "keys")
    settings = Settings(
        data_dir=tmp_path,
        provenance_cert_chain=tmp_path / "keys" / CA_CERTIFICATE,
        provenance_key=tmp_path / "keys" / "provenance-ca-es256.pem",
    )
    with pytest.raises(ProvenanceCredentialsError, match="self-signed"):
        configured_signing_identity(settings)


def test_a_chain_that_is_not_pem_is_refused(tmp_path):
    _, key, _ = _operator_files(tmp_path)
    (tmp_path / "chain.der").write_bytes(b"\x30\x82 not pem")
    settings = Settings(
        data_dir=tmp_path, provenance_cert_chain=tmp_path / "chain.der", provenance_key=key
    )
    with pytest.raises(ProvenanceCredentialsError, match="PEM certificates"):
        configured_signing_identity(settings)


def test_a_chain_without_its_key_is_a_settings_error(tmp_path):
    with pytest.raises(pydantic.ValidationError, match="together"):
        Settings(data_dir=tmp_path, provenance_cert_chain=tmp_path / "chain.pem")
