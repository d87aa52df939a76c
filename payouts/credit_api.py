"""Routes of credits: buy them (signed in), read your wallet (signed in, or an API key with
`account:read`), and Stripe's webhook."""

import uuid

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from clearhouse.accounts.dependencies import VerifiedAccount
from clearhouse.accounts.errors import EmailNotVerified
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.db import utcnow
from clearhouse.deps import CurrentAccount, EngineDep, ReadSessionDep, SettingsDep
from clearhouse.errors import InvalidRequest, NotFound, raises
from clearhouse.ownership import owned
from clearhouse.pagination import Page, Paging
from payouts import credits
from payouts.credit_schemas import (
    CreditCheckoutStarted,
    CreditPurchaseCreate,
    CreditPurchasePublic,
    CreditPurchaseStarted,
    CreditsPublic,
    WalletMovement,
)
from payouts.errors import StripeOff, StripeUnavailable, WebhookRefused
from payouts.models import CreditPurchase
from payouts.stripe_events import receive_event

router = APIRouter(prefix="/v1")


@router.get("/credits", response_model=CreditsPublic, tags=["credits"])
@needs_scope(Scope.account_read)
def read_credits(account: CurrentAccount, session: ReadSessionDep, settings: SettingsDep):
    """Your wallet's balance in each currency, and this month's free credits: given at your
    first clearance this month that costs something (`granted` says whether they were)."""
    return CreditsPublic(
        balances=credits.wallet_balances(session, account_id=account.id),
        allowance=credits.monthly_allowance(
            session, account_id=account.id, settings=settings, now=utcnow()
        ),
    )


@router.post(
    "/credits/purchases",
    response_model=CreditPurchaseStarted,
    status_code=status.HTTP_201_CREATED,
    tags=["credits"],
)
@raises(StripeOff, InvalidRequest, StripeUnavailable, EmailNotVerified)
def buy_credits(
    body: CreditPurchaseCreate, account: VerifiedAccount, engine: EngineDep, settings: SettingsDep
):
    """Buy credits by card: a pending purchase and its Stripe PaymentIntent, whose
    `client_secret` you confirm with Stripe.js. The credits reach your wallet when Stripe's
    webhook says the payment succeeded."""
    purchase, client_secret = credits.start_purchase(
        engine, _order(account.id, body), settings=settings, now=utcnow()
    )
    return CreditPurchaseStarted(
        **CreditPurchasePublic.model_validate(purchase, from_attributes=True).model_dump(),
        client_secret=client_secret,
    )


@router.post(
    "/credits/checkout",
    response_model=CreditCheckoutStarted,
    status_code=status.HTTP_201_CREATED,
    tags=["credits"],
)
@raises(StripeOff, InvalidRequest, StripeUnavailable, EmailNotVerified)
def buy_credits_at_checkout(
    body: CreditPurchaseCreate, account: VerifiedAccount, engine: EngineDep, settings: SettingsDep
):
    """Buy credits on Stripe Checkout's own page: a pending purchase and its Checkout Session,
    whose `checkout_url` you send the creator to. The credits reach your wallet when Stripe's
    webhook says the session was paid."""
    purchase, checkout_url = credits.start_checkout(
        engine, _order(account.id, body), settings=settings, now=utcnow()
    )
    return CreditCheckoutStarted(
        **CreditPurchasePublic.model_validate(purchase, from_attributes=True).model_dump(),
        checkout_url=checkout_url,
    )


def _order(account_id: uuid.UUID, body: CreditPurchaseCreate) -> credits.CreditOrder:
    return credits.CreditOrder(account_id, body.amount_minor, body.currency)


@router.get("/credits/purchases", response_model=Page[CreditPurchasePublic], tags=["credits"])
@needs_scope(Scope.account_read)
def list_purchases(account: CurrentAccount, session: ReadSessionDep, paging: Paging):
    """Your purchases, newest first."""
    rows, total = credits.purchases_page(session, account_id=account.id, params=paging)
    return Page(items=rows, total=total, limit=paging.limit, offset=paging.offset)


@router.get(
    "/credits/purchases/{purchase_id}", response_model=CreditPurchasePublic, tags=["credits"]
)
@raises(NotFound)
@needs_scope(Scope.account_read)
def read_purchase(purchase_id: uuid.UUID, account: CurrentAccount, session: ReadSessionDep):
    """One of your purchases."""
    return owned(
        session,
        CreditPurchase,
        purchase_id,
        owner_column=CreditPurchase.account_id,
        owner_id=account.id,
        not_found=NotFound("You have no purchase with this id."),
    )


@router.get("/credits/movements", response_model=Page[WalletMovement], tags=["credits"])
@needs_scope(Scope.account_read)
def list_movements(account: CurrentAccount, session: ReadSessionDep, paging: Paging):
    """What moved your wallet (purchases, refunds, free credits, generations), newest first."""
    rows, total = credits.movements_page(session, account_id=account.id, params=paging)
    return Page(items=rows, total=total, limit=paging.limit, offset=paging.offset)


@router.post("/stripe/webhook", tags=["credits"])
@raises(WebhookRefused, StripeOff)
async def stripe_webhook(request: Request, engine: EngineDep, settings: SettingsDep):
    """Stripe's events, signed with the endpoint's secret (the `Stripe-Signature` header). A
    forged or altered body, or one signed more than 300 s ago, is refused (400) and changes
    nothing; an event received before is acknowledged and changes nothing."""
    payload = await request.body()
    new = await run_in_threadpool(
        receive_event,
        engine,
        payload=payload,
        signature=request.headers.get("stripe-signature"),
        settings=settings,
        now=utcnow(),
    )
    return {"received": True, "duplicate": not new}
