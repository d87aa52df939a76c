"""Route dependencies for what only an account with a verified email address may do."""

from typing import Annotated

from fastapi import Depends

from clearhouse.accounts.errors import EmailNotVerified
from clearhouse.accounts.models import Account
from clearhouse.deps import CurrentAccount, HolderAccount
from clearhouse.errors import raises


def require_verified(account: Account) -> Account:
    """Refuse an account whose email address is not verified (the API's and the portal's
    check before anyone consents or enrols a face)."""
    if account.email_verified_at is None:
        raise EmailNotVerified(
            f"Verify your email address first: follow the link we sent to {account.email}. "
            "For a new link, POST /v1/accounts/me/verification-email."
        )
    return account


@raises(EmailNotVerified)
async def _verified_holder(account: HolderAccount) -> Account:
    return require_verified(account)


@raises(EmailNotVerified)
async def _verified(account: CurrentAccount) -> Account:
    return require_verified(account)


VerifiedHolderAccount = Annotated[Account, Depends(_verified_holder)]
"""A holder (or admin) whose email address is verified: only they may consent or enrol a face."""

VerifiedAccount = Annotated[Account, Depends(_verified)]
"""Any account whose email address is verified: only they may clear a generation request."""
