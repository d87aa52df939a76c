"""Errors of accounts and their lifecycle."""

from clearhouse.errors import Forbidden


class WrongPassword(Forbidden):
    """The password re-entered to confirm a change of the account was wrong."""

    slug = "wrong-password"
    title = "Wrong password"
