"""`clearhouse verify VIDEO`: a generated clip's provenance, printed for a person."""

from importlib.metadata import version
from pathlib import Path

import pytest
from clips import generation_record, mp4_boxes, with_byte_flipped
from typer.testing import CliRunner

from clearhouse.cli import app
from generator.provenance import sign_clip
from generator.video import encode_mp4


@pytest.fixture(scope="module")
def generated(clip_pipeline, platform_signer, tmp_path_factory):
    """A clip the tiny pipeline made, encoded and signed: the whole path, frames of noise."""
    folder = tmp_path_factory.mktemp("generated")
    clip = clip_pipeline(
        prompt="Nova Knight guarding a lighthouse",
        seed=11,
        frame_count=4,
        width=64,
        height=64,
        steps=2,
    )
    record = generation_record()
    encode_mp4(clip.frames, fps=8, destination=folder / "plain.mp4")
    sign_clip(
        video=folder / "plain.mp4",
        destination=folder / "signed.mp4",
        record=record,
        identity=platform_signer,
    )
    return folder / "signed.mp4", record


def _verify(video: Path, *, data_dir: Path):
    environment = {"CLEARHOUSE_DATA_DIR": str(data_dir)}
    return CliRunner().invoke(app, ["verify", str(video)], env=environment)


def test_verify_prints_who_made_the_clip_under_which_clearance_and_licences(
    generated, generator_settings
):
    video, record = generated
    result = _verify(video, data_dir=generator_settings.data_dir)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "intact, signed by Clearhouse generator / Clearhouse, a trusted signer" in out
    assert f"generator      Clearhouse {version('clearhouse')}" in out
    assert "2026-06-01T12:30:00+00:00 by tiny-untrained-sd-v1" in out
    assert "trainedAlgorithmicMedia" in out
    assert str(record.clearance_id) in out
    assert f"https://clearhouse.example/v1/generations/{record.generation_id}/status" in out
    for licence in record.licences:
        assert (
            f"asset {licence.asset_id}: grant {licence.grant_id}, policy version "
            f"{licence.policy_version}, {licence.price_minor} USD (minor units)"
        ) in out


def test_verify_fails_a_clip_changed_after_signing(generated, generator_settings, tmp_path):
    video, _ = generated
    media_start, _ = mp4_boxes(video.read_bytes())["mdat"]
    changed = with_byte_flipped(video, tmp_path / "changed.mp4", at=media_start + 40)
    result = _verify(changed, data_dir=generator_settings.data_dir)
    assert result.exit_code == 1
    assert "INVALID, changed after signing or forged: assertion.bmffHash.mismatch" in result.output


def test_verify_fails_a_signer_outside_the_trust_anchors(generated, tmp_path):
    video, _ = generated
    result = _verify(video, data_dir=tmp_path)  # a data dir with no CA: nothing is trusted
    assert result.exit_code == 1
    assert "NOT trusted" in result.output
    assert not (tmp_path / "keys").exists()


def test_verify_fails_a_video_with_no_manifest(generated, generator_settings):
    video, _ = generated
    result = _verify(video.with_name("plain.mp4"), data_dir=generator_settings.data_dir)
    assert result.exit_code == 1
    assert "no C2PA manifest" in result.output


def test_verify_fails_a_file_that_is_no_media(generator_settings, tmp_path):
    (tmp_path / "notes.txt").write_text("not a video")
    result = _verify(tmp_path / "notes.txt", data_dir=generator_settings.data_dir)
    assert result.exit_code == 1
    assert "C2PA cannot read it" in result.output
