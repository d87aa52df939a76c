"""The boundary to Stripe: the one place that makes a Stripe client.

Stripe is off unless the operator sets a secret key: then no card is charged and no transfer
is sent, and everything else about money (the ledger, balances, statements) works the same.
Tests point ``stripe_api_base`` at a local Stripe-compatible server (see the README).
"""

import json

import stripe

from clearhouse.settings import Settings
from payouts.errors import StripeOff, WebhookRefused

# A request that failed on the network is retried by the client with the same idempotency key.
NETWORK_RETRIES = 2


def stripe_client(settings: Settings) -> stripe.StripeClient | None:
    """A Stripe client for the operator's account, or None when Stripe is off."""
    if settings.stripe_secret_key is None:
        return None
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=NETWORK_RETRIES,
    )


#: How old a webhook's signed timestamp may be (Stripe's own default): a replay of a captured
#: delivery later than this is refused.
WEBHOOK_TOLERANCE_S = 300


def verified_event(settings: Settings, *, payload: bytes, signature: str | None) -> dict:
    """The Stripe event ``payload`` carries, once its ``Stripe-Signature`` header verifies
    against the webhook secret (HMAC-SHA256 over the timestamp and the exact body, the
    timestamp within :data:`WEBHOOK_TOLERANCE_S`), as plain JSON. Raises StripeOff with no
    secret configured, WebhookRefused for anything that does not verify."""
    if settings.stripe_webhook_secret is None:
        raise StripeOff("No Stripe webhook secret is configured here: events are not taken.")
    if not signature:
        raise WebhookRefused("The request has no Stripe-Signature header.")
    try:
        stripe.Webhook.construct_event(
            payload, signature, settings.stripe_webhook_secret, tolerance=WEBHOOK_TOLERANCE_S
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as refused:
        raise WebhookRefused(f"The signature does not verify: {refused.user_message}") from None
    except ValueError:
        raise WebhookRefused("The body is not a JSON event.") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise WebhookRefused("The body is not a Stripe event (no id).")
    if not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
        raise WebhookRefused("The body is not a Stripe event (no type or data).")
    return event
