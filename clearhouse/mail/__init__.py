"""Email to account holders: an outbox table, delivered by SMTP when one is configured."""
