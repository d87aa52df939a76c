"""Protections no policy can switch off: a minor's likeness is never usable by others, and
a likeness never appears in sexual content (ARCHITECTURE's non-negotiables).

They apply where a policy is set and where consent is granted, so neither a policy body nor
a grant of an older version can get around them.
"""

from datetime import date

from clearhouse.accounts.models import ADULT_AGE, Account, is_minor
from policies.document import Audience, ContentCategory, PolicyDocument
from policies.errors import MinorsLikenessProtected
from rights.models import Asset, AssetKind

ALWAYS_EXCLUDED_FROM_LIKENESSES = (ContentCategory.sexual,)


def excluded_content(document: PolicyDocument, *, kind: AssetKind) -> frozenset[ContentCategory]:
    """What an asset of ``kind`` may never appear in under ``document``, protections added."""
    excluded = frozenset(document.excluded_content)
    if kind == AssetKind.likeness:
        return excluded | frozenset(ALWAYS_EXCLUDED_FROM_LIKENESSES)
    return excluded


def with_likeness_protections(document: PolicyDocument, *, asset: Asset) -> PolicyDocument:
    """The document as it binds ``asset``: a likeness's excludes sexual content, always."""
    if asset.kind != AssetKind.likeness:
        return document
    excluded = excluded_content(document, kind=asset.kind)
    return PolicyDocument.from_stored(
        {**document.model_dump(mode="json"), "excluded_content": [c.value for c in excluded]}
    )


def is_minors_likeness(kind: AssetKind, *, owner_born: date | None, today: date) -> bool:
    """A likeness whose owner is under 18 (or whose age is not on record): only its owner
    may ever use it."""
    return kind == AssetKind.likeness and is_minor(owner_born, today)


def check_minors_likeness(
    document: PolicyDocument, *, asset: Asset, owner: Account, today: date
) -> None:
    """Refuse a policy or a grant that would let anyone but its owner use a minor's face."""
    if not is_minors_likeness(asset.kind, owner_born=owner.date_of_birth, today=today):
        return
    others = document.audience == Audience.anyone or (
        document.audience == Audience.listed
        and any(account_id != owner.id for account_id in document.listed_accounts)
    )
    if others:
        raise MinorsLikenessProtected(
            f"@{asset.handle} is the likeness of someone under {ADULT_AGE}: nobody else may "
            "use it, whatever the policy says. Its policy may admit only you (audience "
            f"'nobody', or 'listed' with only your own account) until you turn {ADULT_AGE}."
        )
