"""Protected entries: well-known characters and public figures with no owner, kept by staff.
Their matches deny as "protected, not licensed"; `clearhouse protected import` reads them from
a CSV file (bad rows by line, re-import idempotent); a holder's registration of one is a claim
that moderators decide."""

import json

import pytest
from clearing import clear, licensed
from factories import promote, sign_up
from generating import ask
from sqlmodel import select
from typer.testing import CliRunner

from clearhouse.cli import app as cli
from generator.models import GenerationJob

SONIC = {
    "kind": "character",
    "name": "Sonic the Hedgehog",
    "aliases": ["Sonic"],
    "description": "A fast blue hedgehog with red sneakers who collects golden rings",
}


@pytest.fixture
def moderator(client, session):
    return promote(session, sign_up(client, email="moderator@example.org"), "moderator")


def _protect(client, moderator, entry: dict) -> dict:
    answer = client.post("/v1/protected", headers=moderator.headers, json=entry)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _cleared(client, prompt: str) -> dict:
    answer = clear(client, sign_up(client, role="creator"), prompt)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_protected_entry_denies_clearance_with_a_readable_reason(client, moderator, holder):
    _protect(client, moderator, SONIC)
    described = "a fast blue hedgehog with red sneakers who collects golden rings"
    for prompt in ("S0nic the Hedgehog racing through a loop", described):
        denied = _cleared(client, prompt)
        assert denied["outcome"] == "denied", prompt
        assert any("protected, not licensed" in reason for reason in denied["reasons"]), denied
        assert any("Sonic the Hedgehog" in reason for reason in denied["reasons"])
    assert _cleared(client, "a lighthouse at dawn")["outcome"] == "cleared"


def test_only_staff_keep_protected_entries_paged(client, moderator, holder):
    assert client.post("/v1/protected", headers=holder.headers, json=SONIC).status_code == 403
    assert client.get("/v1/protected", headers=holder.headers).status_code == 403
    first = _protect(client, moderator, SONIC)
    _protect(client, moderator, {"kind": "person", "name": "Ada Lovelace", "aliases": []})
    again = client.post(
        "/v1/protected", headers=moderator.headers, json={**SONIC, "name": "SONIC THE HEDGEHOG"}
    )
    assert again.status_code == 409 and first["id"] in again.json()["detail"]
    page = client.get("/v1/protected?limit=1", headers=moderator.headers).json()
    assert page["total"] == 2 and [e["name"] for e in page["items"]] == ["Ada Lovelace"]
    changed = client.patch(
        f"/v1/protected/{first['id']}", headers=moderator.headers, json={"aliases": ["Blue Blur"]}
    )
    assert changed.status_code == 200 and changed.json()["aliases"] == ["Blue Blur"]
    assert _cleared(client, "the Blue Blur on a racetrack")["outcome"] == "denied"
    gone = client.delete(f"/v1/protected/{first['id']}", headers=moderator.headers)
    assert gone.status_code == 204
    assert _cleared(client, "the Blue Blur on a racetrack")["outcome"] == "cleared"
    assert client.get(f"/v1/protected/{first['id']}", headers=moderator.headers).status_code == 404


CSV = """kind,name,aliases,description
character,Sonic the Hedgehog,Sonic|Blue Blur,A fast blue hedgehog with red sneakers
person,Ada Lovelace,,"Mathematician,
writer of the first published program"
villain,Doctor Eggman,Robotnik,An egg-shaped scientist
character,,Nameless,no name
character,Tails,Miles Prower,A two-tailed fox,extra
character,SONIC THE HEDGEHOG,,the same one again
style,Ukiyo-e,woodblock prints,Japanese woodblock prints of the floating world
"""


def _import(monkeypatch, settings, path, moderator):
    monkeypatch.setenv("CLEARHOUSE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CLEARHOUSE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CLEARHOUSE_LIKENESS_KEY_STORE", str(settings.likeness_key_store))
    return CliRunner().invoke(cli, ["protected", "import", str(path), "--by", moderator.email])


def test_a_csv_import_reports_bad_rows_by_line_and_imports_again_unchanged(
    client, moderator, settings, tmp_path, monkeypatch
):
    path = tmp_path / "protected.csv"
    path.write_text(CSV, encoding="utf-8")
    first = _import(monkeypatch, settings, path, moderator)
    assert first.exit_code == 1, first.output
    errors = [line for line in first.stderr.splitlines() if line.startswith("line ")]
    # Line numbers as an editor shows them: Ada's description spans lines 3 and 4.
    assert errors[0].startswith("line 5: kind:")  # villain is no kind
    assert errors[1].startswith("line 6: name:")
    assert errors[2].startswith("line 7: 5 fields")
    assert errors[3] == "line 8: character “SONIC THE HEDGEHOG” repeats line 2"
    assert len(errors) == 4
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary == {"created": 3, "updated": 0, "unchanged": 0, "errors": 4}
    assert _cleared(client, "Robotnik in a lab")["outcome"] == "cleared"  # line 4 not imported
    assert _cleared(client, "the Blue Blur on a racetrack")["outcome"] == "denied"

    again = _import(monkeypatch, settings, path, moderator)
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "errors": 4,
    }
    path.write_text(CSV.replace("Sonic|Blue Blur", "Sonic"), encoding="utf-8")
    changed = _import(monkeypatch, settings, path, moderator)
    assert json.loads(changed.stdout.strip().splitlines()[-1])["updated"] == 1
    listed = client.get("/v1/protected", headers=moderator.headers).json()
    assert listed["total"] == 3


def test_a_holder_claims_a_protected_entry_and_moderators_uphold_it(client, moderator, holder):
    entry = _protect(client, moderator, SONIC)
    claim = client.post(
        "/v1/assets",
        headers=holder.headers,
        json={**SONIC, "handle": "sonic_official", "description": ""},
    )
    assert claim.status_code == 201, claim.text
    asset = claim.json()
    assert asset["standing"] == "in_review"
    [case] = client.get("/v1/overlaps", headers=holder.headers).json()["items"]
    assert case["protected_entry"] == "“Sonic the Hedgehog”, a protected character"
    assert case["overlaps_by"] == ["alias", "name"]

    decided = client.post(
        f"/v1/overlaps/{case['id']}/decide",
        headers=moderator.headers,
        json={"decision": "uphold_claimant", "note": "trademark registration seen"},
    )
    assert decided.status_code == 200, decided.text
    retired = client.get(f"/v1/protected/{entry['id']}", headers=moderator.headers).json()
    assert retired["retired_at"] is not None and retired["claimed_by_asset_id"] == asset["id"]
    assert (
        client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()["standing"]
        == "active"
    )
    licensed(client, holder, asset["id"])
    cleared = _cleared(client, "Sonic the Hedgehog racing through a loop")
    assert cleared["outcome"] == "cleared"
    assert [a["asset_id"] for a in cleared["assets"]] == [asset["id"]]


def test_a_protected_entry_denies_a_request_to_our_own_generator_too(client, moderator, engine):
    _protect(client, moderator, SONIC)
    asked = ask(client, sign_up(client, role="creator"), "S0nic the Hedgehog racing a loop")

    assert asked["generation"] is None
    assert asked["clearance"]["outcome"] == "denied"
    assert any("protected, not licensed" in r for r in asked["clearance"]["reasons"]), asked
    with engine.connect() as connection:
        assert connection.execute(select(GenerationJob.id)).all() == []
