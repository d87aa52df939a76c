"""What owners (and requesters) are told: notices in an inbox, email digests, and signed
webhooks following the Standard Webhooks specification, retried with backoff.

Every domain tells someone something with one call, :func:`notifications.service.notify`, in
the transaction of the event itself: the notice and its webhook deliveries are rows written
with the event, so they exist exactly when the event does (an outbox).
"""
