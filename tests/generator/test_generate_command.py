"""`clearhouse generate PROMPT --cameo @handle --as EMAIL`: cleared, run here, and the
released clip written with its manifest; a request that is not cleared exits 1 with why."""

import pytest
from factories import create_asset, grant, set_policy, sign_up
from generating import SMALL, USD_POLICY
from typer.testing import CliRunner

from clearhouse.cli import app
from generator.provenance import read_provenance
from generator.signing_identity import CA_CERTIFICATE

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _generate(settings, *arguments: str):
    environment = {
        "CLEARHOUSE_DATA_DIR": str(settings.data_dir),
        "CLEARHOUSE_DATABASE_URL": settings.resolved_database_url,
        "CLEARHOUSE_LIKENESS_KEY_STORE": str(settings.likeness_key_store_path),
    }
    small = [f"--{name.replace('_', '-')}={value}" for name, value in SMALL.items()]
    return CliRunner().invoke(app, ["generate", *arguments, *small], env=environment)


def test_generate_runs_a_cleared_request_and_writes_its_signed_clip(
    client, settings, holder, tmp_path
):
    asset = create_asset(client, holder, handle="nova_knight")
    set_policy(client, holder, asset["id"], USD_POLICY)
    grant_id = grant(client, holder, asset["id"])["grant"]["id"]
    requester = sign_up(client, role="creator")
    clip = tmp_path / "clip.mp4"

    result = _generate(
        settings,
        "a lighthouse at dawn",
        "--cameo=@nova_knight",
        f"--as={requester.email}",
        "--use=commercial",
        f"--out={clip}",
    )

    assert result.exit_code == 0, result.output
    assert ": cleared" in result.output and ": released" in result.output
    assert "generating" in result.output  # the progress bar's label
    provenance = read_provenance(
        clip, trust_anchors_pem=(settings.key_dir / CA_CERTIFICATE).read_bytes()
    )
    assert provenance.trusted
    [licence] = provenance.clearance["licences"]
    assert (licence["asset_id"], licence["grant_id"]) == (asset["id"], grant_id)


def test_generate_says_why_a_request_is_not_cleared_and_exits_1(client, settings, holder):
    asset = create_asset(client, holder, handle="quiet_fox")
    set_policy(client, holder, asset["id"], {**USD_POLICY, "allowed_uses": ["personal"]})
    grant(client, holder, asset["id"])
    requester = sign_up(client, role="creator")

    result = _generate(
        settings, "a fox", "--cameo=@quiet_fox", f"--as={requester.email}", "--use=commercial"
    )

    assert result.exit_code == 1, result.output
    assert ": denied" in result.output and "commercial" in result.output
    assert ": queued" not in result.output and ": released" not in result.output


def test_generate_refuses_an_unknown_account(settings):
    result = _generate(settings, "a fox", "--as=nobody@example.org")
    assert result.exit_code == 1
    assert "no active account has the email nobody@example.org" in result.output
