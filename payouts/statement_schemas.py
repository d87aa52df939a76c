"""API shapes of statements (payouts/statements.py): amounts in integer minor units of the
statement's currency, signed where a line may take from the payable."""

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from payouts.statements import LineKind, Period, Statement


class StatementLinePublic(BaseModel):
    posted_at: datetime
    kind: LineKind = Field(
        description="use: a licence of yours paid by a release (our generator's, or a "
        "third-party generator's, whose line names its clearance and no generation); "
        "reversal: a use "
        "taken back (a takedown, a refund); payout: money sent to you; other: any other "
        "entry, which its event and memo describe."
    )
    event: str = Field(description="The ledger entry's event.")
    memo: str
    entry_id: uuid.UUID = Field(description="The ledger entry.")
    amount_minor: int = Field(description="What it added to your payable; negative: took.")
    generation_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    asset_handle: str | None
    clearance_id: uuid.UUID | None
    gross_minor: int | None = Field(description="A use's whole licence fee.")
    share_bps: int | None = Field(description="Your share of the fee, in basis points.")
    fee_minor: int | None = Field(description="What the platform kept of the licence fee.")


class StatementTotalsPublic(BaseModel):
    uses: int
    gross_minor: int
    fees_minor: int
    earned_minor: int
    reversed_minor: int = Field(description="Taken back by reversals.")
    paid_out_minor: int
    other_minor: int = Field(description="Added by other entries; negative: taken.")


class DailyEarningsPublic(BaseModel):
    day: date
    earned_minor: int


class StatementPublic(BaseModel):
    period: str = Field(description="The UTC month, YYYY-MM.")
    starts_at: datetime
    ends_at: datetime
    currency: str
    opening_minor: int = Field(description="Your payable's balance as the month began.")
    closing_minor: int = Field(
        description="opening + earned - reversed - paid out + other: your payable's balance as "
        "the month ended (or now, for the month under way)."
    )
    held_minor: int = Field(
        description="Your shares of uses of your unverified characters and styles, held as the "
        "month ended: not in your balance and never paid out until staff verify your claim "
        "(then paid in; rejected, they go back to the creators)."
    )
    totals: StatementTotalsPublic
    earnings_by_day: list[DailyEarningsPublic]
    lines: list[StatementLinePublic]

    @classmethod
    def of(cls, statement: Statement) -> "StatementPublic":
        return cls(
            period=str(statement.period),
            starts_at=statement.period.starts_at,
            ends_at=statement.period.ends_at,
            currency=statement.currency,
            opening_minor=statement.opening_minor,
            closing_minor=statement.closing_minor,
            held_minor=statement.held_minor,
            totals=StatementTotalsPublic.model_validate(statement.totals, from_attributes=True),
            earnings_by_day=[
                DailyEarningsPublic(day=day.day, earned_minor=day.earned_minor)
                for day in statement.earnings_by_day
            ],
            lines=[
                StatementLinePublic.model_validate(line, from_attributes=True)
                for line in statement.lines
            ],
        )


class StatementsPublic(BaseModel):
    period: str
    statements: list[StatementPublic] = Field(
        description="One per currency you have earned in; none if you never have."
    )


def statements_json(period: Period, statements: list[Statement]) -> str:
    """The body of ``GET /v1/statements``, serialised once, by pydantic: a statement of
    100,000 lines is not validated and encoded a second time on its way out."""
    body = StatementsPublic(
        period=str(period), statements=[StatementPublic.of(s) for s in statements]
    )
    return body.model_dump_json()
