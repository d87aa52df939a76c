"""Errors of accounts and their lifecycle."""

from clearhouse.errors import Forbidden, InvalidRequest


class EmailNotVerified(Forbidden):
    slug = "email-not-verified"
    title = "Email address not verified"


class WrongPassword(InvalidRequest):
    """The password re-entered to confirm a change of the account was wrong.

    A 400, not a 401: the caller's token is fine, and a client must not sign them out
    over a typo."""

    slug = "wrong-password"
    title = "Wrong password"
