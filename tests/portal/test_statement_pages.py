"""The statements page and its downloads: the signed-in holder's month, with the figures the
ledger holds, the same files as the API's, and nobody else's statement by any URL."""

import csv
import io
import subprocess
from datetime import timedelta
from html import unescape

import pytest
from factories import sign_up
from portal_client import portal_sign_in
from sqlmodel import Session
from stating import licensed_asset, pay_out, release

from clearhouse.db import utcnow, write_session
from clearhouse.portal.pages import money
from payouts import statements
from payouts.statements import Period
from payouts.takedowns import reverse_takedowns
from rights.models import Asset


@pytest.fixture
def creator(client):
    return sign_up(client, role="creator")


@pytest.fixture
def month() -> Period:
    return Period.containing(utcnow())


def _previous(month: Period, months: int = 1) -> Period:
    for _ in range(months):
        month = Period.containing(month.starts_at - timedelta(days=1))
    return month


@pytest.fixture
def earned(client, engine, holder, creator):
    """The holder's character, priced 1.60 at the policy's share (80%), used once and
    released now; 1.00 of it paid out. Its terms and its handle."""
    terms = licensed_asset(client, engine, holder, per_use_minor=160)
    release(engine, creator.id, terms, at=utcnow())
    pay_out(engine, holder.id, 100, at=utcnow())
    with Session(engine) as session:
        handle = session.get(Asset, terms.asset_id).handle
    return {"terms": terms, "handle": handle}


def _api_statement(client, user, period: Period) -> dict:
    answer = client.get("/v1/statements", headers=user.headers, params={"period": str(period)})
    assert answer.status_code == 200, answer.text
    [statement] = answer.json()["statements"]
    return statement


def _page(client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return unescape(answer.text)


def test_a_released_paid_use_shows_on_the_statement_with_its_figures(client, holder, earned, month):
    statement = _api_statement(client, holder, month)
    [use] = [line for line in statement["lines"] if line["kind"] == "use"]
    assert (use["gross_minor"], use["share_bps"], use["amount_minor"]) == (160, 8_000, 128)
    portal_sign_in(client, holder)

    page = _page(client, "/statements")

    assert f"Statement for {month.starts_at:%B %Y}" in page
    row = page[page.index(f"@{earned['handle']}") :].split("</tr>")[0]
    assert use["clearance_id"][:8] in row
    for shown in ("USD 1.60", "80%", "USD 0.32", "USD 1.28"):
        assert shown in row, shown
    payout_row = page[page.index('class="line-payout"') :].split("</tr>")[0]
    assert "USD -1.00" in payout_row
    totals = page[page.index("<caption>Totals") :].split("</table>")[0]
    for label, amount in (
        ("Opening balance", "USD 0.00"),
        ("Earned", "USD 1.28"),
        ("Payouts", "USD -1.00"),
        ("Closing balance", "USD 0.28"),
    ):
        assert amount in totals.split(label)[1].split("</tr>")[0], label
    assert statement["closing_minor"] == 28
    assert f'href="/statements/{month}.csv?currency=USD"' in page
    assert f'href="/statements/{month}.pdf?currency=USD"' in page
    assert '<svg viewBox="0 0 620 184" role="img"' in page  # the earnings chart

    # The dashboard shows the month's earnings with the same chart.
    dashboard = _page(client, "/dashboard")
    assert "USD 1.28 earned from 1 use; balance USD 0.28" in dashboard
    assert '<svg viewBox="0 0 620 184" role="img"' in dashboard


def test_a_taken_down_use_shows_as_a_reversal(client, engine, holder, creator, month):
    terms = licensed_asset(client, engine, holder, per_use_minor=160)
    _kept, taken_down = release(engine, creator.id, terms, at=utcnow(), count=2)
    with write_session(engine) as session:
        reverse_takedowns(
            session, generation_ids=[taken_down], reason="Consent withdrawn", now=utcnow()
        )
    [reversal] = [
        line
        for line in _api_statement(client, holder, month)["lines"]
        if line["kind"] == "reversal"
    ]
    assert reversal["amount_minor"] == -128
    portal_sign_in(client, holder)

    page = _page(client, "/statements")

    row = page[page.index('class="line-reversal"') :].split("</tr>")[0]
    assert "USD -1.28" in row and reversal["memo"] in row
    totals = page[page.index("<caption>Totals") :].split("</table>")[0]
    assert "USD -1.28" in totals.split("Reversals")[1].split("</tr>")[0]
    assert "USD 1.28" in totals.split("Closing balance")[1].split("</tr>")[0]


def test_earnings_pages_read_one_snapshot_while_a_release_lands(
    client, engine, holder, earned, creator, monkeypatch
):
    """A release that commits between a statement's opening balance and its lines must not
    show in one and not the other (on PostgreSQL each read of a plain read session sees new
    commits; the statement's check would then fail the page)."""
    balances_read = []
    balance_before = statements._movement

    def release_in_between(session, account_id, *, before):
        moved = balance_before(session, account_id, before=before)
        if len(balances_read) % 2 == 0:  # a statement's opening balance, not its closing one
            release(engine, creator.id, earned["terms"], at=utcnow())
        balances_read.append(before)
        return moved

    monkeypatch.setattr(statements, "_movement", release_in_between)
    portal_sign_in(client, holder)

    assert "USD 1.28 earned from 1 use" in _page(client, "/dashboard")
    assert "Earned from 2 uses" in _page(client, "/statements")  # the first landed since


def _pdf_text(pdf: bytes, tmp_path, name: str) -> str:
    assert pdf.startswith(b"%PDF")
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_downloads_are_the_files_the_api_serves(client, holder, earned, month, tmp_path):
    api = {
        extension: client.get(
            f"/v1/statements/{month}.{extension}",
            headers=holder.headers,
            params={"currency": "USD"},
        )
        for extension in ("csv", "pdf")
    }
    portal_sign_in(client, holder)
    portal = {
        extension: client.get(f"/statements/{month}.{extension}", params={"currency": "USD"})
        for extension in ("csv", "pdf")
    }
    for extension in ("csv", "pdf"):
        assert api[extension].status_code == portal[extension].status_code == 200
        for header in ("content-type", "content-disposition"):
            assert portal[extension].headers[header] == api[extension].headers[header]
    assert portal["csv"].content == api["csv"].content
    rows = list(csv.DictReader(io.StringIO(portal["csv"].text)))
    assert [(row["row"], row["kind"], row["amount_minor"]) for row in rows] == [
        ("opening", "", "0"),
        ("line", "use", "128"),
        ("line", "payout", "-100"),
        ("closing", "", "28"),
    ]
    # A PDF carries its moment of making; what it says is the same.
    pdf_text = _pdf_text(portal["pdf"].content, tmp_path, "portal")
    assert pdf_text == _pdf_text(api["pdf"].content, tmp_path, "api")
    assert f"@{earned['handle']}" in pdf_text and "USD 0.28" in pdf_text


def test_another_holder_sees_only_their_own_statement_by_any_url(
    client, holder, other_holder, earned, month, tmp_path
):
    portal_sign_in(client, other_holder)
    handle = f"@{earned['handle']}"

    page = _page(client, "/statements")
    assert "No earnings yet" in page and handle not in page
    assert "/statements/" + str(month) + ".csv" not in page
    for query in ({}, {"period": str(month)}, {"period": str(month), "holder": str(holder.id)}):
        shown = _page(client, "/statements?" + "&".join(f"{k}={v}" for k, v in query.items()))
        assert handle not in shown and "USD 0.28" not in shown
    # Whatever the URL says, a download is the signed-in holder's own (empty) statement.
    for params in (
        {"currency": "USD"},
        {"currency": "USD", "holder_id": str(holder.id)},
        {"currency": "USD", "holder": str(holder.id)},
    ):
        answer = client.get(f"/statements/{month}.csv", params=params)
        assert answer.status_code == 200, answer.text
        assert str(holder.id) not in answer.text and handle not in answer.text
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert [(row["row"], row["amount_minor"]) for row in rows] == [
            ("opening", "0"),
            ("closing", "0"),
        ]
        pdf = client.get(f"/statements/{month}.pdf", params=params)
        assert pdf.status_code == 200
        text = _pdf_text(pdf.content, tmp_path, "theirs")
        assert handle not in text and str(holder.id) not in text and "USD 0.00" in text
    # Without a currency they have not earned in, there is no statement to give: a page says so.
    unnamed = client.get(f"/statements/{month}.csv")
    assert unnamed.status_code == 400
    assert "text/html" in unnamed.headers["content-type"] and "no currency yet" in unnamed.text
    # The API does not take the portal's cookie: the holder's statement needs their token.
    assert client.get(f"/v1/statements/{month}.csv?currency=USD").status_code == 401


def test_a_creator_gets_a_forbidden_page_and_a_stranger_is_sent_to_sign_in(client, creator, month):
    anonymous = client.get("/statements", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/sign-in?next=")
    assert client.get(f"/statements/{month}.csv", follow_redirects=False).status_code == 303
    portal_sign_in(client, creator)
    for path in ("/statements", f"/statements/{month}.csv?currency=USD"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "These pages are for rights holders" in answer.text


def test_earlier_months_with_activity_are_linked_and_an_empty_month_reads_well(
    client, engine, holder, creator, month
):
    terms = licensed_asset(client, engine, holder, per_use_minor=95)
    two_back = _previous(month, 2)
    release(engine, creator.id, terms, at=two_back.starts_at + timedelta(days=3), count=2)
    portal_sign_in(client, holder)

    page = _page(client, "/statements")
    assert f'href="/statements?period={two_back}"' in page
    assert f'href="/statements?period={_previous(month)}"' not in page  # nothing posted then
    assert f'href="/statements?period={month}" aria-current="page"' in page
    assert "Nothing was posted to your USD balance" in page
    assert "Your balance stayed at USD 1.52" in page  # 2 x 76, earned two months back

    earlier = _page(client, f"/statements?period={two_back}")
    assert f"Statement for {two_back.starts_at:%B %Y}" in earlier
    assert f'href="/statements?period={two_back}" aria-current="page"' in earlier
    assert earlier.count('class="line-use"') == 2
    assert f'href="/statements/{two_back}.pdf?currency=USD"' in earlier


@pytest.mark.parametrize("period", ["2026-13", "november", "2999-01", ""])
def test_a_bad_month_is_a_page_that_says_so(client, holder, period):
    portal_sign_in(client, holder)
    for path in (f"/statements?period={period}", f"/statements/{period or 'x'}.csv"):
        answer = client.get(path)
        assert answer.status_code == 400, path
        assert "text/html" in answer.headers["content-type"]
        assert "YYYY-MM" in answer.text or "has not begun" in answer.text


def test_amounts_are_shown_in_their_currency_s_own_minor_unit() -> None:
    assert money(500, "JPY") == "JPY 500"  # the yen has no minor unit
    assert money(-12_345, "USD") == "USD -123.45"
    assert money(1_500, "KWD") == "KWD 1.500"
