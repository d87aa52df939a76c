"""Routes of payouts: a holder's onboarding on Stripe Connect and their own payouts; the
admin's payout run."""

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from clearhouse.db import read_session
from clearhouse.deps import AdminAccount, EngineDep, HolderAccount, ReadSessionDep, SettingsDep
from clearhouse.errors import InvalidRequest, NotFound, raises
from clearhouse.ownership import owned
from payouts.errors import PayoutPeriodNotEnded, StripeOff, StripeUnavailable
from payouts.onboarding import connected_account_state, start_onboarding
from payouts.payees import OrganisationQuery, payee_for
from payouts.payout_models import Payout, PayoutState
from payouts.runs import Due, holder_payouts, run_payouts
from rights.authority import Action
from rights.errors import NotAllowed

router = APIRouter(prefix="/v1/payouts", tags=["payouts"])


class OnboardingLinkPublic(BaseModel):
    stripe_account_id: str = Field(description="Your connected account at Stripe (acct_...).")
    url: str = Field(description="Open it to give Stripe your details; it works once.")
    expires_at: datetime


class ConnectedAccountPublic(BaseModel):
    stripe_account_id: str
    details_submitted: bool | None = Field(description="None while Stripe is off here.")
    payouts_enabled: bool | None = Field(
        description="False: Stripe will not pay this account out, and payout runs skip you."
    )
    charges_enabled: bool | None
    requirements_due: list[str] = Field(description="What Stripe still needs from you.")
    disabled_reason: str | None = Field(description="Why Stripe disabled the account, if so.")
    reported_at: datetime | None = Field(
        description="When Stripe last told us the account's state; None: asked just now."
    )


class PayoutPublic(BaseModel):
    id: uuid.UUID
    period: str
    currency: str
    amount_minor: int
    state: PayoutState
    stripe_transfer_id: str | None
    failed_attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class PayoutsOverview(BaseModel):
    connected_account: ConnectedAccountPublic | None = Field(
        description="None until you start onboarding (POST /v1/payouts/onboarding)."
    )
    payouts: list[PayoutPublic] = Field(description="Yours, newest first.")


class PayoutRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        examples=["2026-10"],
        description="The UTC month paid for, once it has ended: this month or a later one is "
        "refused.",
    )


class DuePublic(BaseModel):
    holder_id: uuid.UUID
    currency: str
    amount_minor: int
    onboarded: bool
    payouts_enabled: bool | None = Field(
        description="What Stripe last reported of the connected account; None: not yet."
    )
    skipped_because: str | None = Field(
        description="Why the run made no payout for it (not onboarded, or Stripe reports the "
        "account cannot receive payouts); None: it was paid (or tried)."
    )

    @classmethod
    def of(cls, due: Due) -> "DuePublic":
        return cls(
            holder_id=due.holder_id,
            currency=due.currency,
            amount_minor=due.amount_minor,
            onboarded=due.destination is not None,
            payouts_enabled=due.payouts_enabled,
            skipped_because=due.skipped_because,
        )


class PayoutRunPublic(BaseModel):
    period: str
    stripe: bool = Field(description="False: Stripe is off; nothing was made, posted or sent.")
    due: list[DuePublic] = Field(
        description="Payables at or over the minimum, as the run found them."
    )
    reversals_posted: list[uuid.UUID] = Field(
        description="Taken-down generations whose reversal, pending, was posted by this run."
    )
    reversals_failed: list[uuid.UUID] = Field(
        description="Taken-down generations whose reversal failed again (kept for the next run)."
    )
    made: list[uuid.UUID]
    paid: list[uuid.UUID]
    failed: list[uuid.UUID]
    returned: list[uuid.UUID]


@router.post("/onboarding", response_model=OnboardingLinkPublic)
@raises(StripeOff, StripeUnavailable, NotFound, NotAllowed)
def start_payout_onboarding(
    holder: HolderAccount,
    engine: EngineDep,
    settings: SettingsDep,
    organisation_id: OrganisationQuery = None,
):
    """Your Stripe connected account (made the first time) and a new link to finish setting
    it up; payouts go to it once it exists. With `organisation_id`, the organisation's: only
    its owners set up where it is paid (its assets earn for it)."""
    with read_session(engine) as session:
        payee = payee_for(
            session, account=holder, organisation_id=organisation_id, action=Action.administer
        )
    link = start_onboarding(engine, settings=settings, holder=payee, by=holder)
    return OnboardingLinkPublic(
        stripe_account_id=link.stripe_account_id, url=link.url, expires_at=link.expires_at
    )


@router.get("", response_model=PayoutsOverview)
@raises(StripeUnavailable, NotFound)
def read_my_payouts(
    holder: HolderAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
    organisation_id: OrganisationQuery = None,
):
    """Your connected account's state at Stripe and your payouts; with `organisation_id`, the
    organisation's (any member may read them)."""
    payee = payee_for(session, account=holder, organisation_id=organisation_id, action=Action.view)
    state = connected_account_state(session, settings=settings, holder_id=payee.id)
    payouts = holder_payouts(session, holder_id=payee.id)
    return PayoutsOverview(
        connected_account=None
        if state is None
        else ConnectedAccountPublic(
            stripe_account_id=state.stripe_account_id,
            details_submitted=state.details_submitted,
            payouts_enabled=state.payouts_enabled,
            charges_enabled=state.charges_enabled,
            requirements_due=list(state.requirements_due),
            disabled_reason=state.disabled_reason,
            reported_at=state.reported_at,
        ),
        payouts=[PayoutPublic.model_validate(payout, from_attributes=True) for payout in payouts],
    )


@router.get("/{payout_id}", response_model=PayoutPublic)
@raises(NotFound)
def read_my_payout(
    payout_id: uuid.UUID,
    holder: HolderAccount,
    session: ReadSessionDep,
    organisation_id: OrganisationQuery = None,
):
    """One of your payouts (anyone else's is not found); with `organisation_id`, one of the
    organisation's."""
    payee = payee_for(session, account=holder, organisation_id=organisation_id, action=Action.view)
    payout = owned(
        session,
        Payout,
        payout_id,
        owner_column=Payout.holder_id,
        owner_id=payee.id,
        not_found=NotFound("You have no payout with this id."),
    )
    return PayoutPublic.model_validate(payout, from_attributes=True)


@router.post("/runs", response_model=PayoutRunPublic)
@raises(InvalidRequest, PayoutPeriodNotEnded)
def run_payouts_now(
    body: PayoutRunCreate, admin: AdminAccount, engine: EngineDep, settings: SettingsDep
):
    """Admins: run the period's payouts now (as `clearhouse payouts run`); running it again
    pays nobody twice. The period is a UTC month that has ended: this month or a later one
    is a 409."""
    report = run_payouts(engine, settings=settings, period=body.period)
    return PayoutRunPublic(
        period=report.period,
        stripe=report.stripe,
        due=[DuePublic.of(due) for due in report.due],
        reversals_posted=report.reversals.posted,
        reversals_failed=report.reversals.failed,
        made=report.made,
        paid=report.paid,
        failed=report.failed,
        returned=report.returned,
    )
