"""The C2PA manifest: signed, embedded in the MP4, read back, and refused once changed."""

from importlib.metadata import version

import av
import numpy as np
import pytest
from clips import generation_record, moving_square, mp4_boxes, with_byte_flipped

from generator.provenance import AI_GENERATED, read_provenance, sign_clip
from generator.signing_identity import CA_CERTIFICATE, platform_identity


@pytest.fixture(scope="module")
def plain_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "plain.mp4"
    from generator.video import encode_mp4

    encode_mp4(moving_square(count=6, width=64, height=48), fps=8, destination=path)
    return path


@pytest.fixture
def record():
    return generation_record()


@pytest.fixture
def signed_clip(plain_clip, platform_signer, record, tmp_path):
    path = tmp_path / "signed.mp4"
    sign_clip(video=plain_clip, destination=path, record=record, identity=platform_signer)
    return path


def _frames(path):
    with av.open(str(path)) as mp4:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in mp4.decode(video=0)])


def test_the_manifest_names_the_generator_the_clearance_the_licences_and_ai(
    signed_clip, record, platform_ca
):
    provenance = read_provenance(signed_clip, trust_anchors_pem=platform_ca)
    assert (provenance.state, provenance.failures) == ("Trusted", ())
    assert provenance.intact and provenance.trusted
    assert provenance.claim_generator == f"Clearhouse {version('clearhouse')}"
    assert provenance.signed_by == "Clearhouse generator / Clearhouse"
    assert provenance.created == {
        "action": "c2pa.created",
        "digitalSourceType": AI_GENERATED,
        "when": "2026-06-01T12:30:00+00:00",
        "softwareAgent": {"name": "tiny-untrained-sd-v1"},
    }
    assert provenance.ai_generated
    assert provenance.clearance == {
        "generation_id": str(record.generation_id),
        "clearance_id": str(record.clearance_id),
        "status_url": f"https://clearhouse.example/v1/generations/{record.generation_id}/status",
        "licences": [
            {
                "asset_id": str(licence.asset_id),
                "grant_id": str(licence.grant_id),
                "policy_version": licence.policy_version,
                "price": {"amount_minor": licence.price_minor, "currency": "USD"},
            }
            for licence in record.licences
        ],
    }


def test_the_signed_clip_plays_the_same_frames(signed_clip, plain_clip):
    assert np.array_equal(_frames(signed_clip), _frames(plain_clip))


def test_without_the_platform_ca_the_clip_is_intact_but_its_signer_untrusted(signed_clip):
    provenance = read_provenance(signed_clip, trust_anchors_pem=None)
    assert provenance.state == "Valid"
    assert provenance.intact and not provenance.trusted
    assert [failure.code for failure in provenance.failures] == ["signingCredential.untrusted"]


def test_a_manifest_from_another_ca_calling_itself_clearhouse_is_not_trusted(
    plain_clip, record, platform_ca, tmp_path
):
    impostor = platform_identity(tmp_path / "impostor-keys")  # same names, another CA
    path = tmp_path / "impostor.mp4"
    sign_clip(video=plain_clip, destination=path, record=record, identity=impostor)
    provenance = read_provenance(path, trust_anchors_pem=platform_ca)
    assert provenance.signed_by == "Clearhouse generator / Clearhouse"
    assert provenance.intact
    assert not provenance.trusted


def test_a_clip_whose_media_changed_after_signing_reads_invalid(signed_clip, platform_ca, tmp_path):
    media_start, media_end = mp4_boxes(signed_clip.read_bytes())["mdat"]
    changed = with_byte_flipped(
        signed_clip, tmp_path / "changed.mp4", at=(media_start + media_end) // 2
    )
    provenance = read_provenance(changed, trust_anchors_pem=platform_ca)
    assert provenance.state == "Invalid"
    assert not provenance.intact and not provenance.trusted
    assert "assertion.bmffHash.mismatch" in [failure.code for failure in provenance.failures]


def test_a_manifest_changed_after_signing_reads_invalid(signed_clip, record, platform_ca, tmp_path):
    data = signed_clip.read_bytes()
    assert data.count(str(record.clearance_id).encode()) == 1
    changed = with_byte_flipped(
        signed_clip, tmp_path / "changed.mp4", at=data.index(str(record.clearance_id).encode())
    )
    provenance = read_provenance(changed, trust_anchors_pem=platform_ca)
    assert provenance.state == "Invalid"
    assert not provenance.intact and not provenance.trusted
    assert "assertion.hashedURI.mismatch" in [failure.code for failure in provenance.failures]


def test_a_clip_with_no_manifest_reads_none(plain_clip):
    assert read_provenance(plain_clip, trust_anchors_pem=None) is None


def test_the_platform_ca_is_where_the_settings_look_for_it(generator_settings, platform_ca):
    assert (generator_settings.key_dir / CA_CERTIFICATE).read_bytes() == platform_ca
