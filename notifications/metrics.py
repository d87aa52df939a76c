"""Webhook deliveries, counted by what each attempt came to."""

from prometheus_client import Counter

WEBHOOK_ATTEMPTS = Counter(
    "clearhouse_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered (a 2xx), retrying (failed, tried again "
    "later) or failed (failed, no attempts left).",
    ["outcome"],
)
