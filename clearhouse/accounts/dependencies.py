"""Route dependencies for what only an account with a verified email address may do."""

from typing import Annotated

from fastapi import Depends

from clearhouse.accounts.errors import EmailNotVerified
from clearhouse.accounts.models import Account
from clearhouse.deps import CurrentAccount, HolderAccount
from clearhouse.errors import raises

API_NEW_LINK = "For a new link, POST /v1/accounts/me/verification-email."


def require_verified(account: Account, *, new_link: str = API_NEW_LINK) -> Account:
    """Refuse an account whose email address is not verified: the API's and the portal's
    check before anyone consents, enrols a face, or reaches another person (a dispute, a
    claim, a licence offer). Anyone can sign up with an address that is not theirs; only
    whoever reads its mail may act under it towards others. ``new_link`` says how to get a
    new verification link where the caller is (the API, a portal page)."""
    if account.email_verified_at is None:
        raise EmailNotVerified(
            f"Verify your email address first: follow the link we sent to {account.email}. "
            + new_link
        )
    return account


@raises(EmailNotVerified)
async def _verified_holder(account: HolderAccount) -> Account:
    return require_verified(account)


@raises(EmailNotVerified)
async def _verified(account: CurrentAccount) -> Account:
    return require_verified(account)


VerifiedHolderAccount = Annotated[Account, Depends(_verified_holder)]
"""A holder (or admin) whose email address is verified: only they may consent (a grant, an
approval), enrol a face, claim an asset, or offer a licence."""

VerifiedAccount = Annotated[Account, Depends(_verified)]
"""Any account whose email address is verified: only they may clear a generation request,
open or write in a dispute, or accept a licence offer."""
