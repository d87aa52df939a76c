"""Holder onboarding on Stripe Connect: each holder's connected account (Express), made once,
and the link where they give Stripe their identity and bank details.

The account is made with an idempotency key derived from the holder (two requests at once
make one account at Stripe) and then stored, one per holder; every later request reuses it, so
a payout's transfer always goes to the account it was made for. The Stripe calls happen outside
any write transaction: a slow Stripe holds no database lock. With Stripe off, onboarding is
refused (:class:`StripeOff`) and nothing is stored.
"""

import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import read_session, write_session
from clearhouse.settings import Settings
from payouts.errors import StripeOff, StripeUnavailable
from payouts.payout_models import PayoutAccount
from payouts.stripe_gateway import stripe_client

# Where Stripe sends the holder back: after onboarding, and when the link has expired (then a
# new link is asked for with POST /v1/payouts/onboarding).
RETURN_PATH = "/payouts/onboarding/return"
REFRESH_PATH = "/payouts/onboarding/refresh"

# How long a request waits for another one making the same holder's account at Stripe (on top
# of the client's own retries): up to 5 x 1 s.
CONCURRENT_CREATE_WAITS = 5
CONCURRENT_CREATE_PAUSE_S = 1.0


@dataclass(frozen=True, slots=True)
class OnboardingLink:
    stripe_account_id: str
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectedAccountState:
    stripe_account_id: str
    details_submitted: bool | None
    """None when Stripe is off (the account's state at Stripe cannot be read)."""
    payouts_enabled: bool | None
    charges_enabled: bool | None = None
    requirements_due: tuple[str, ...] = ()
    """What Stripe still needs (``requirements.currently_due`` and ``past_due``)."""
    disabled_reason: str | None = None
    reported_at: datetime | None = None
    """When Stripe's ``account.updated`` event said so; None: read from Stripe just now."""


def connected_account_key(holder_id: uuid.UUID) -> str:
    return f"connected-account-{holder_id}"


def start_onboarding(
    engine: Engine, *, settings: Settings, holder: Account, by: Account | None = None
) -> OnboardingLink:
    """The holder's connected account (made the first time) and a fresh onboarding link.

    ``by``: the member who sets up an organisation's (``holder``): Stripe's contact for the
    account is their address (an organisation's own account has none that reads mail), Stripe
    sends them back to the organisation's payouts page, and the audit log records who made it.
    """
    by = by or holder
    client = _client(settings)
    with read_session(engine) as session:
        stored = session.get(PayoutAccount, holder.id)
    try:
        account_id = (
            stored.stripe_account_id
            if stored is not None
            else _store(
                engine,
                holder_id=holder.id,
                account_id=_create(client, holder, email=by.email),
                by=by,
            )
        )
        for_holder = "" if by.id == holder.id else f"?organisation_id={holder.id}"
        link = client.v1.account_links.create(
            {
                "account": account_id,
                "type": "account_onboarding",
                "refresh_url": settings.public_url.rstrip("/") + REFRESH_PATH + for_holder,
                "return_url": settings.public_url.rstrip("/") + RETURN_PATH + for_holder,
            }
        )
    except stripe.StripeError as error:
        raise StripeUnavailable(
            f"Stripe answered {type(error).__name__}: {error.user_message or error}. "
            "Try again later; nothing was changed."
        ) from error
    return OnboardingLink(
        stripe_account_id=account_id,
        url=link.url,
        expires_at=datetime.fromtimestamp(link.expires_at, UTC),
    )


def connected_account_id(session: Session, *, holder_id: uuid.UUID) -> str | None:
    """The holder's stored connected account (acct_...), without asking Stripe; None if they
    have not started onboarding."""
    stored = session.get(PayoutAccount, holder_id)
    return None if stored is None else stored.stripe_account_id


def connected_account_state(
    session: Session, *, settings: Settings, holder_id: uuid.UUID
) -> ConnectedAccountState | None:
    """The holder's connected account as Stripe's latest ``account.updated`` event described
    it (payouts/account_events.py); before any has come, as Stripe answers now. None if they
    have no account."""
    stored = session.get(PayoutAccount, holder_id)
    if stored is None:
        return None
    if stored.stripe_state_at is not None:
        requirements = stored.requirements or {}
        return ConnectedAccountState(
            stored.stripe_account_id,
            stored.details_submitted,
            stored.payouts_enabled,
            charges_enabled=stored.charges_enabled,
            requirements_due=tuple(
                dict.fromkeys(
                    [*requirements.get("currently_due", ()), *requirements.get("past_due", ())]
                )
            ),
            disabled_reason=requirements.get("disabled_reason"),
            reported_at=stored.stripe_state_at,
        )
    client = stripe_client(settings)
    if client is None:
        return ConnectedAccountState(stored.stripe_account_id, None, None)
    try:
        account = client.v1.accounts.retrieve(stored.stripe_account_id)
    except stripe.StripeError as error:
        raise StripeUnavailable(
            f"Stripe answered {type(error).__name__} about your connected account; try again."
        ) from error
    fields = account.to_dict()
    return ConnectedAccountState(
        stored.stripe_account_id,
        bool(fields.get("details_submitted")),
        bool(fields.get("payouts_enabled")),
        charges_enabled=bool(fields.get("charges_enabled")),
    )


def _client(settings: Settings) -> stripe.StripeClient:
    client = stripe_client(settings)
    if client is None:
        raise StripeOff(
            "Payouts are off here: the operator has set no Stripe key "
            "(CLEARHOUSE_STRIPE_SECRET_KEY). Your earnings are still recorded; nothing was "
            "stored."
        )
    return client


def _create(client: stripe.StripeClient, holder: Account, *, email: str) -> str:
    """Make the holder's account. While another request with the same key is still running at
    Stripe (the holder's second click), Stripe answers 409; wait for it to finish, then get
    its answer."""
    for attempt in itertools.count():
        try:
            return client.v1.accounts.create(
                {
                    "type": "express",
                    "email": email,
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": {"holder_id": str(holder.id)},
                },
                {"idempotency_key": connected_account_key(holder.id)},
            ).id
        except stripe.APIError as running:  # a 409 is an APIError in stripe-python
            if running.http_status != 409 or attempt == CONCURRENT_CREATE_WAITS:
                raise
        time.sleep(CONCURRENT_CREATE_PAUSE_S)


def _store(engine: Engine, *, holder_id: uuid.UUID, account_id: str, by: Account) -> str:
    """Store the holder's account; the one stored first wins (a request at the same moment
    got the same account from Stripe, by the idempotency key). One made by a member for an
    organisation is audited: who chose where the organisation is paid."""
    try:
        with write_session(engine) as session:
            session.add(PayoutAccount(holder_id=holder_id, stripe_account_id=account_id))
            if by.id != holder_id:
                session.flush()  # a second request's insert fails here, before the audit entry
                record_event(
                    session,
                    action="organisation.payout_account_created",
                    actor_id=by.id,
                    asset_id=None,
                    subject_id=holder_id,
                    details={"stripe_account_id": account_id},
                )
    except IntegrityError:
        with read_session(engine) as session:
            stored = session.get(PayoutAccount, holder_id)
            assert stored is not None
            return stored.stripe_account_id
    return account_id
