"""Errors of accounts."""

from clearhouse.errors import Forbidden


class EmailNotVerified(Forbidden):
    slug = "email-not-verified"
    title = "Email address not verified"
