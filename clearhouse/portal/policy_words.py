"""A policy document in the words a holder reads: one sentence per rule, none in codes.

The asset's page and the policy editor both say what a version allows with these sentences,
so what the holder reads is derived from the stored document, never written beside it.
"""

from policies.document import Audience, ContentCategory, PolicyDocument, Use
from rights.models import AssetKind

USE_LABELS = {
    Use.personal: "Personal use",
    Use.commercial: "Commercial use",
    Use.parody: "Parody",
    Use.news: "News reporting",
    Use.advertising: "Advertising",
    Use.political: "Political messages",
}

USE_HINTS = {
    Use.personal: "Videos people make for themselves and share without being paid.",
    Use.commercial: "Films, series, games and other work that is sold or earns money.",
    Use.parody: "Work that imitates yours to comment on it or make fun of it.",
    Use.news: "Reporting on events by journalists and news organisations.",
    Use.advertising: "Ads for products, services or brands.",
    Use.political: "Campaigns, parties, causes and political messages.",
}

CONTENT_HINTS = {
    ContentCategory.sexual: "Nudity, sexual acts, content made to arouse.",
    ContentCategory.violence: "People or animals hurt or killed; gore.",
    ContentCategory.hate: "Attacking or demeaning people for who they are.",
    ContentCategory.harassment: "Aimed at a real person to humiliate, threaten or shame them.",
    ContentCategory.political: "Elections, parties, politicians, protests, propaganda.",
    ContentCategory.self_harm: "Suicide, self-injury, eating disorders held up as goals.",
    ContentCategory.illegal_activity: "Crimes being committed: drugs, theft, fraud, hacking.",
}


def _money(amount_minor: int, currency: str) -> str:
    units, cents = divmod(amount_minor, 100)
    return f"{currency} {units:,}.{cents:02d}"


def _listing(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def describe(document: PolicyDocument, *, kind: AssetKind) -> list[str]:
    """The policy, sentence by sentence, as the asset's owner should read it."""
    if document.audience == Audience.nobody:
        return ["Nobody may use it. Nothing is used without your consent."]
    if document.audience == Audience.anyone:
        who = "Anyone with a Clearhouse account may use it"
    else:
        count = len(document.listed_accounts)
        who = f"Only the {count} {'account' if count == 1 else 'accounts'} you listed may use it"
    uses = _listing([USE_LABELS[use].lower() for use in document.allowed_uses])
    sentences = [f"{who}, for {uses}."]
    excluded = sorted(
        set(document.excluded_content)
        | ({ContentCategory.sexual} if kind == AssetKind.likeness else set())
    )
    if excluded:
        labels = _listing([category.label for category in excluded])
        sentences.append(f"It never appears in {labels}.")
    else:
        sentences.append("You have excluded no kind of content.")
    if document.restrictions:
        quoted = _listing([f"\u201c{restriction}\u201d" for restriction in document.restrictions])
        sentences.append(f"In your own words: {quoted}.")
    price = document.price
    if price.per_use_minor == 0 and price.per_second_minor == 0:
        sentences.append("Each use is free.")
    else:
        sentences.append(
            f"Each use costs {_money(price.per_use_minor, price.currency)} plus "
            f"{_money(price.per_second_minor, price.currency)} per second of video; "
            "you earn your share of it."
        )
    if document.approval_required:
        sentences.append("You approve each use before it is generated.")
    sentences.append(
        "People under 18 may use it."
        if document.minors_may_use
        else "People under 18 may not use it."
    )
    if document.daily_use_limit is not None:
        sentences.append(f"At most {document.daily_use_limit:,} uses a day.")
    if document.total_use_limit is not None:
        sentences.append(f"At most {document.total_use_limit:,} uses in all.")
    if document.expires_at is not None:
        sentences.append(f"No use after {document.expires_at.strftime('%d %b %Y, %H:%M UTC')}.")
    return sentences
