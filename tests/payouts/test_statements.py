"""Statements: a holder's month from the ledger's legs, as JSON, CSV and PDF, for the holder
alone; every total equal to the ledger's."""

import csv
import io
import re
import subprocess
import uuid
from datetime import timedelta

import icu
import pytest
from factories import sign_up
from sqlalchemy import func, select
from sqlmodel import Session
from stating import ledger_holds, licensed_asset, pay_out, post, release

from clearhouse.db import utcnow
from payouts.accounts import payable, platform
from payouts.balances import balance_of
from payouts.journal import EntryDraft, credit, debit
from payouts.models import AccountKind, JournalEntry, JournalLeg, LedgerAccount
from payouts.statement_files import format_minor, statement_pdf
from payouts.statement_scripts import ARABIC, THAI, shaped
from payouts.statements import (
    DailyEarnings,
    LineKind,
    Period,
    Statement,
    StatementLine,
    StatementTotals,
)


@pytest.fixture
def creator(client):
    return sign_up(client, role="creator")


@pytest.fixture
def month():
    return Period.containing(utcnow())


def _legs_before(engine, holder_id, moment) -> int:
    """The holder's USD payable summed from its legs posted before ``moment``, apart from
    the statement's code."""
    with Session(engine) as session:
        total = session.execute(
            select(func.coalesce(func.sum(JournalLeg.credit_minor - JournalLeg.debit_minor), 0))
            .join(JournalEntry, JournalEntry.id == JournalLeg.entry_id)
            .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
            .where(
                LedgerAccount.owner_id == holder_id,
                LedgerAccount.kind == AccountKind.holder_payable,
                JournalEntry.posted_at < moment,
            )
        ).scalar_one()
    return int(total)


def _statements(client, user, period) -> list[dict]:
    answer = client.get("/v1/statements", headers=user.headers, params={"period": str(period)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["period"] == str(period)
    return answer.json()["statements"]


@pytest.fixture
def busy_month(client, engine, holder, other_holder, creator, month):
    """Last month: two uses and a payout. This month: three uses (one licensing two of the
    holder's assets and one of another holder's), a payout and an entry of an event the
    statement does not know."""
    nova = licensed_asset(client, engine, holder, per_use_minor=160)
    comet = licensed_asset(client, engine, holder, per_use_minor=95)
    theirs = licensed_asset(client, engine, other_holder, per_use_minor=300)
    earlier = month.starts_at - timedelta(days=2)
    release(engine, creator.id, nova, at=earlier, count=2)
    pay_out(engine, holder.id, 200, at=earlier + timedelta(hours=1))
    now = utcnow()
    release(engine, creator.id, nova, at=now, count=2)
    release(engine, creator.id, nova, comet, theirs, at=now)
    pay_out(engine, holder.id, 100, at=now)
    post(
        engine,
        EntryDraft(
            key="bonus:launch",
            event="bonus",
            memo="Launch bonus",
            legs=(
                debit(platform(AccountKind.adjustments, "USD"), 7),
                credit(payable(holder.id, "USD"), 7),
            ),
        ),
        at=now,
    )
    return {"nova": nova, "comet": comet, "theirs": theirs}


def test_a_statement_adds_up_to_the_ledger(client, engine, holder, busy_month, month):
    [statement] = _statements(client, holder, month)
    totals = statement["totals"]

    # Opening and closing from the legs; closing is the cached balance for this month.
    assert statement["opening_minor"] == _legs_before(engine, holder.id, month.starts_at)
    assert statement["opening_minor"] == 2 * 128 - 200
    with Session(engine) as session:
        cached = balance_of(session, payable(holder.id, "USD"))
    assert statement["closing_minor"] == cached == _legs_before(engine, holder.id, month.ends_at)
    assert statement["closing_minor"] == (
        statement["opening_minor"]
        + totals["earned_minor"]
        - totals["reversed_minor"]
        - totals["paid_out_minor"]
        + totals["other_minor"]
    )
    # Every line: a use is its licence's fee, the share it was licensed at, and the rest.
    lines = statement["lines"]
    uses = [line for line in lines if line["kind"] == "use"]
    assert len(uses) == totals["uses"] == 4
    for line in uses:
        assert line["amount_minor"] == line["gross_minor"] * line["share_bps"] // 10_000
        assert line["fee_minor"] == line["gross_minor"] - line["amount_minor"]
        assert line["clearance_id"] and line["generation_id"]
    assert sorted(line["asset_handle"] is not None for line in uses) == [True] * 4
    assert totals["earned_minor"] == sum(line["amount_minor"] for line in uses) == 3 * 128 + 76
    assert totals["gross_minor"] == 3 * 160 + 95
    assert totals["fees_minor"] == totals["gross_minor"] - totals["earned_minor"]
    assert totals["paid_out_minor"] == 100 and totals["other_minor"] == 7
    [bonus] = [line for line in lines if line["kind"] == "other"]
    assert (bonus["event"], bonus["memo"], bonus["amount_minor"]) == ("bonus", "Launch bonus", 7)
    assert statement["opening_minor"] + sum(line["amount_minor"] for line in lines) == cached
    assert sum(day["earned_minor"] for day in statement["earnings_by_day"]) == 3 * 128 + 76
    # Last month closes where this one opens.
    [last] = _statements(client, holder, month.previous())
    assert (last["opening_minor"], last["closing_minor"]) == (0, statement["opening_minor"])
    assert last["totals"]["earned_minor"] == 256 and last["totals"]["paid_out_minor"] == 200
    ledger_holds(engine)


def test_a_holder_reads_only_their_own_statement(
    client, engine, holder, other_holder, busy_month, month
):
    [mine] = _statements(client, holder, month)
    [theirs] = _statements(client, other_holder, month)
    assert {line["asset_id"] for line in theirs["lines"]} == {str(busy_month["theirs"].asset_id)}
    assert str(busy_month["theirs"].asset_id) not in {line["asset_id"] for line in mine["lines"]}
    assert theirs["totals"]["earned_minor"] == theirs["closing_minor"] == 240
    their_entries = {line["entry_id"] for line in theirs["lines"]}
    # The use both were paid by is the one entry they share; nothing else of mine shows.
    assert len(their_entries & {line["entry_id"] for line in mine["lines"]}) == 1
    stranger = sign_up(client)
    assert _statements(client, stranger, month) == []
    for extension in ("csv", "pdf"):
        answer = client.get(
            f"/v1/statements/{month}.{extension}",
            headers=stranger.headers,
            params={"currency": "USD"},
        )
        assert answer.status_code == 200, answer.text
        assert str(holder.id) not in answer.text if extension == "csv" else True
    assert client.get("/v1/statements", params={"period": str(month)}).status_code == 401


def test_a_holder_who_never_earned_gets_an_empty_statement(client, holder, month):
    assert _statements(client, holder, month) == []
    unnamed = client.get(f"/v1/statements/{month}.csv", headers=holder.headers)
    assert unnamed.status_code == 400
    assert unnamed.json()["type"].endswith("/statement-currency-needed")
    answer = client.get(
        f"/v1/statements/{month}.csv", headers=holder.headers, params={"currency": "USD"}
    )
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(row["row"], row["amount_minor"]) for row in rows] == [
        ("opening", "0"),
        ("closing", "0"),
    ]


@pytest.mark.parametrize(
    "period", ["2026-13", "2026-1", "26-11", "2026-11-01", "november", "2999-01", "0000-01"]
)
def test_a_bad_period_is_a_problem(client, holder, period):
    for answer in (
        client.get("/v1/statements", headers=holder.headers, params={"period": period}),
        client.get(f"/v1/statements/{period}.pdf", headers=holder.headers),
    ):
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("/statement-period-invalid")
        assert "YYYY-MM" in answer.json()["detail"] or "has not begun" in answer.json()["detail"]


def test_a_parameter_sent_twice_is_refused_not_read_as_the_last(client, holder, busy_month, month):
    earlier = month.previous()
    for path, query in (
        ("/v1/statements", f"period={earlier}&period={month}"),
        (f"/v1/statements/{month}.csv", "currency=EUR&currency=USD"),
        (f"/v1/statements/{month}.pdf", "currency=EUR&currency=USD"),
        (f"/v1/statements/{month}.pdf", f"organisation_id={uuid.uuid4()}&organisation_id="),
    ):
        refused = client.get(f"{path}?{query}", headers=holder.headers)

        assert refused.status_code == 400, (path, query, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/invalid-parameters")
        assert "once" in refused.json()["detail"]


def test_the_csv_parses_and_matches_the_json(client, holder, busy_month, month):
    [statement] = _statements(client, holder, month)
    answer = client.get(f"/v1/statements/{month}.csv", headers=holder.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert f"clearhouse-statement-{month}-USD.csv" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    opening, *lines, closing = rows
    assert (opening["row"], int(opening["amount_minor"])) == ("opening", statement["opening_minor"])
    assert (closing["row"], int(closing["amount_minor"])) == ("closing", statement["closing_minor"])
    assert int(opening["amount_minor"]) + sum(int(row["amount_minor"]) for row in lines) == int(
        closing["amount_minor"]
    )
    assert len(lines) == len(statement["lines"])
    for row, line in zip(lines, statement["lines"], strict=True):
        for column in ("kind", "event", "memo", "entry_id", "amount_minor", "gross_minor"):
            expected = line[column]
            assert row[column] == ("" if expected is None else str(expected)), column
        assert row["asset_handle"] == (line["asset_handle"] or "")


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
        check=True,
    )
    [page] = list(tmp_path.glob("page*.png"))
    assert page.stat().st_size > 1_000  # a picture of a page, not an empty one
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_pdf_opens_and_shows_the_ledger_s_totals(
    client, engine, holder, creator, busy_month, month, tmp_path
):
    release(engine, creator.id, busy_month["nova"], at=utcnow(), count=150)  # several pages
    [statement] = _statements(client, holder, month)
    answer = client.get(f"/v1/statements/{month}.pdf", headers=holder.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    text = _pdf_text(answer.content, tmp_path)
    with Session(engine) as session:
        cached = balance_of(session, payable(holder.id, "USD"))
    assert cached == statement["closing_minor"]
    expected = {
        "Opening balance": statement["opening_minor"],
        "Earned": statement["totals"]["earned_minor"],
        "Payouts": -statement["totals"]["paid_out_minor"],
        "Closing balance": cached,
    }
    for label, amount in expected.items():
        shown = [line for line in text.splitlines() if line.strip().startswith(label)]
        assert shown and shown[0].split()[-2:] == format_minor(amount, "USD").split(), label
    assert "Page 3" in text and f"{month}" in text
    assert text.count("@") >= 150  # every use, on whatever page


def test_the_pdf_shows_each_line_s_text_as_written(tmp_path):
    """A use's row goes to the page as raw text operators, another line's memo through
    reportlab's text object: characters PDF strings escape, and others than ASCII, show as
    written on both paths."""
    month = Period.containing(utcnow())
    entry_id = uuid.uuid4()
    lines = [
        StatementLine(
            utcnow(),
            LineKind.use,
            "usage",
            "-",
            entry_id,
            128,
            asset_handle="cap(tain)\\x",
            gross_minor=160,
            share_bps=8000,
            fee_minor=32,
            clearance_id=uuid.uuid4(),
        ),
        StatementLine(
            utcnow(), LineKind.other, "adjustment", "Café (crème) rembourse \\ 5 <€>", entry_id, -28
        ),
    ]
    totals = StatementTotals(1, 160, 32, 128, 0, 0, -28)
    days = [DailyEarnings(day, 128) for day in month.days()]
    statement = Statement(uuid.uuid4(), month, "EUR", 0, 100, totals, lines, days)
    text = _pdf_text(statement_pdf(statement, holder_name="A", holder_email="a@b"), tmp_path)
    assert "@cap(tain)\\x" in text
    shown = " ".join(text.split())  # the memo wraps in its column, beside the amount
    assert "adjustment: Café (crème) rembourse \\ 5" in shown and "<€>" in shown
    assert "EUR 1.28" in text and "EUR -0.28" in text


def _memos_pdf(
    memos: list[str], *, holder_name: str, holder_email: str, handle: str | None = None
) -> bytes:
    """This month's statement as PDF: an adjustment of -0.01 for each of ``memos``, and a use
    of the asset ``handle`` earning 0.05 when one is given."""
    month = Period.containing(utcnow())
    lines = [
        StatementLine(utcnow(), LineKind.other, "adjustment", memo, uuid.uuid4(), -1)
        for memo in memos
    ]
    uses = []
    if handle is not None:
        uses.append(
            StatementLine(
                utcnow(),
                LineKind.use,
                "use",
                None,
                uuid.uuid4(),
                5,
                asset_handle=handle,
                gross_minor=10,
                share_bps=5000,
                fee_minor=5,
                clearance_id=uuid.uuid4(),
            )
        )
    earned = 5 * len(uses)
    totals = StatementTotals(len(uses), 2 * earned, earned, earned, 0, 0, -len(memos))
    days = [DailyEarnings(day, 0) for day in month.days()]
    closing = 10 + earned - len(memos)
    statement = Statement(uuid.uuid4(), month, "USD", 10, closing, totals, lines + uses, days)
    return statement_pdf(statement, holder_name=holder_name, holder_email=holder_email)


def test_the_pdf_keeps_chinese_japanese_korean_and_emoji_as_text_not_boxes(tmp_path):
    """User text (the holder's name, memos) in scripts Helvetica lacks: CJK in reportlab's
    built-in CID fonts (named in the PDF, nothing embedded or downloaded), emoji by name."""
    memos = [
        "退款、漢字の払い戻し 한국어 메모",
        "长备注" * 20,  # no spaces: wraps between characters
        "Party 🎉 done 👍🏽",
        "Ελλάδα and Привет",  # Greek and Russian
    ]
    pdf = _memos_pdf(memos, holder_name="山田 太郎 😀", holder_email="taro@example.jp")

    text = _pdf_text(pdf, tmp_path)
    assert "■" not in text
    # Each memo's text in order, its row's amount (beside its first line) left out.
    shown = "".join(text.split()).replace("USD-0.01", "")
    assert "Rightsholder:山田太郎[grinningface]<taro@example.jp>" in shown
    assert "adjustment:退款、漢字の払い戻し한국어메모" in shown
    assert "adjustment:" + "长备注" * 20 in shown
    assert "adjustment:Party[partypopper]done[thumbsupsign]" in shown
    # Greek and Russian; the accent no font here holds is left off.
    assert "adjustment:ΕλλαδαandПривет" in shown  # noqa: RUF001
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "statement.pdf")], check=True, capture_output=True, text=True
    ).stdout
    for font in ("STSong-Light", "HeiseiMin-W3", "HYSMyeongJo-Medium"):
        [row] = [line for line in fonts.splitlines() if line.startswith(font)]
        assert row.split()[-5] == "no"  # not embedded: named only


def test_the_pdf_shows_hebrew_arabic_and_thai_shaped_and_right_to_left(tmp_path):
    """Hebrew, Arabic and Thai in embedded Noto subsets, shaped, right to left where the script
    runs that way: read back (pdftotext reorders what is drawn right to left, as a reader
    does) in the order they were written, in the holder's name, an asset's handle and memos."""
    month = Period.containing(utcnow())
    memos = [
        "החזר עבור שלום עולם",
        "استرداد مرحبا بالعالم",
        "คืนเงิน สวัสดีครับ น้ำ ที่นี่",
        "refund שלום 12 done",  # right to left inside left to right
        _THAI_WITHOUT_SPACES,
    ]
    pdf = _memos_pdf(
        memos, holder_name="שרה כהן سارة สมชาย", holder_email="s@example.org", handle="مرحبا"
    )

    text = _pdf_text(pdf, tmp_path)
    assert "?" not in text
    # pdftotext marks where right-to-left text starts and ends (U+202A-U+202E): left out.
    shown = "".join(
        character for character in "".join(text.split()) if not 0x202A <= ord(character) <= 0x202E
    ).replace("USD-0.01", "")
    assert "Rightsholder:שרהכהןسارةสมชาย<s@example.org>" in shown
    assert "adjustment:החזרעבורשלוםעולם" in shown
    assert "adjustment:استردادمرحبابالعالم" in shown
    assert "adjustment:คืนเงินสวัสดีครับน้ำที่นี่" in shown
    # A number after right-to-left words belongs to their run: drawn on their left, as
    # Unicode's bidirectional algorithm places it, and read back from there by pdftotext.
    assert "adjustment:refund12שלוםdone" in shown  # noqa: RUF001
    assert "@مرحبا" in shown
    assert f"Clearhouse·{month}·שרהכהןسارةสมชาย" in shown  # the footer
    # Thai is written without spaces between words: the memo wraps between two of them.
    wrapped = re.search(r"adjustment: (\S+)\s+USD -0\.01\n\s+(\S+)\n", text)
    assert wrapped, "the Thai memo's first line holds no word beside the label"
    first, second = wrapped.groups()
    assert first + second == _THAI_WITHOUT_SPACES
    assert len(first) in _word_ends(_THAI_WITHOUT_SPACES)
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "statement.pdf")], check=True, capture_output=True, text=True
    ).stdout
    for font in ("NotoSansHebrew-Regular", "NotoSansArabic-Regular", "NotoSansThai-Regular"):
        [row] = [line for line in fonts.splitlines() if f"+{font} " in line]
        assert row.split()[-5:-2] == ["yes", "yes", "yes"]  # embedded, a subset, with Unicode


_THAI_WITHOUT_SPACES = "ภาษาไทยยาวมากไม่มีช่องว่างเลยสักนิดเดียวจริงๆนะครับผู้ใหญ่"


def _word_ends(thai: str) -> set[int]:
    words = icu.BreakIterator.createWordInstance(icu.Locale("th"))
    words.setText(thai)
    return set(words)


def test_arabic_is_drawn_joined_and_thai_marks_placed():
    """What is drawn, not only what reads back: Arabic letters in their joined forms (the first
    letter, drawn rightmost, in its initial form), a Thai tone mark above a vowel mark moved up
    out of its way (a glyph of its own, not the plain tone mark)."""
    arabic = shaped(ARABIC, "مرحبا")
    assert arabic[-1] == "\ufee3"  # ARABIC LETTER MEEM INITIAL FORM
    assert "\u0645" not in arabic  # no unjoined meem
    thai = shaped(THAI, "ที่")
    assert thai[:2] == "ที" and "\u0e48" not in thai  # THAI CHARACTER MAI EK, as it is
