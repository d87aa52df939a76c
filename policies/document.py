"""The opt-in policy document: typed, versioned data with clear validation errors.

The default is :data:`NOBODY` — an asset without a policy, or with this one, may not be used
by anyone. Every field that widens use must be set on purpose.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_extra_types.currency_code import ISO4217

from clearhouse.schemas import IsoDateTime
from policies.restrictions import (
    MAX_RESTRICTION_LENGTH,
    MAX_RESTRICTIONS,
    forbidden_activity,
)

MAX_MINOR_UNITS = 10**12  # a price above ten billion in any currency is a typo


class Audience(StrEnum):
    nobody = "nobody"
    listed = "listed"  # only the accounts in listed_accounts
    anyone = "anyone"


class Use(StrEnum):
    personal = "personal"
    commercial = "commercial"
    parody = "parody"
    news = "news"
    advertising = "advertising"
    political = "political"


class ContentCategory(StrEnum):
    """What a request shows that an owner may exclude (`PolicyDocument.excluded_content`).

    A request shows what its requester declares and what the content check finds in its
    prompt (rights/matching/content_check.py), said plainly or indirectly:

    - ``sexual``: nudity, sexual acts, and content made to arouse (pornography, erotica,
      striptease, fetish). Not a kiss or romance, swimwear, breastfeeding, anatomy, or the
      nudes of a museum.
    - ``violence``: people or animals hurt or killed: attacks, shootings, stabbings,
      beatings, torture, gore, executions, massacres, abuse, cruelty to animals. Not sport
      (boxing, fencing, martial arts), play fights, predators in a nature film, a butcher,
      or action and horror scenes where nobody is hurt.
    - ``hate``: attacking or demeaning people for who they are (race, ethnicity, nationality,
      religion, sex, gender identity, sexual orientation, disability): dehumanising
      caricatures, slurs, supremacist and Nazi symbols and rallies, calls to expel or
      exterminate, Holocaust denial. Not religious life, a pride parade, or a memorial.
    - ``harassment``: aimed at a particular person to humiliate, threaten, intimidate,
      stalk, expose or shame them: bullying, threats, doxxing, hidden cameras, images made
      to shame. Not friendly teasing, a comedy roast, or a strict coach.
    - ``political``: elections and campaigns, parties, politicians and heads of state or
      government as such (a politician's portrait counts), protests and political causes,
      propaganda and political satire. Not civic life without politics: a school vote, a
      parliament building's architecture, a history lesson.
    - ``self_harm``: suicide, self-injury, eating disorders held up as goals (pro-ana),
      challenges that harm oneself. Not surgery, tattoos, extreme sports, sadness or grief.
    - ``illegal_activity``: crimes being committed: dealing or taking illegal drugs, theft,
      burglary, robbery, fraud and scams, hacking, counterfeiting, smuggling and trafficking,
      illegal arms, drunk driving, poaching, bribery, making explosives. Not the police,
      locksmiths, pharmacies, legal gambling, or crime as a genre (a detective story).
    """

    sexual = "sexual"
    violence = "violence"
    hate = "hate"
    harassment = "harassment"
    political = "political"
    self_harm = "self_harm"
    illegal_activity = "illegal_activity"

    @property
    def label(self) -> str:
        """How a sentence names it: "violent content", "self-harm"."""
        return _CONTENT_LABELS[self]


_CONTENT_LABELS = {
    ContentCategory.sexual: "sexual content",
    ContentCategory.violence: "violent content",
    ContentCategory.hate: "hateful content",
    ContentCategory.harassment: "harassment",
    ContentCategory.political: "political content",
    ContentCategory.self_harm: "self-harm",
    ContentCategory.illegal_activity: "illegal activity",
}


class Price(BaseModel):
    """What one licensed use costs, in integer minor units of ``currency`` (cents for USD)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: ISO4217 = "USD"
    per_use_minor: int = Field(default=0, strict=True, ge=0, le=MAX_MINOR_UNITS)
    per_second_minor: int = Field(default=0, strict=True, ge=0, le=MAX_MINOR_UNITS)


class PolicyDocument(BaseModel):
    """Who may use an asset, for what, and at what price. Version 1 of the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    audience: Audience = Audience.nobody
    listed_accounts: list[uuid.UUID] = Field(
        default_factory=list, max_length=1000, description="With audience 'listed' only."
    )
    allowed_uses: list[Use] = Field(default_factory=list)
    excluded_content: list[ContentCategory] = Field(
        default_factory=list, description="Content the asset may never appear in."
    )
    restrictions: list[str] = Field(
        default_factory=list,
        max_length=MAX_RESTRICTIONS,
        description=(
            'Limits in the owner\'s own words ("never drinking alcohol", "don\'t make me '
            'swear"): a request whose prompt reads as breaking one is denied, quoting it. '
            f"At most {MAX_RESTRICTIONS}, each up to {MAX_RESTRICTION_LENGTH} characters; "
            "they are shown to requesters as written."
        ),
    )
    minors_may_use: bool = Field(
        default=False, strict=True, description="Whether requesters under 18 may."
    )
    approval_required: bool = Field(
        default=False, strict=True, description="Each use waits for the owner."
    )
    price: Price = Field(default_factory=Price)
    daily_use_limit: int | None = Field(default=None, strict=True, ge=1, le=10**9)
    total_use_limit: int | None = Field(default=None, strict=True, ge=1, le=10**12)
    expires_at: IsoDateTime | None = Field(default=None, description="After this, no use.")

    @field_validator("listed_accounts", "allowed_uses", "excluded_content")
    @classmethod
    def _no_duplicates(cls, values: list) -> list:
        if len(set(values)) != len(values):
            raise ValueError("list each entry once")
        return sorted(values, key=str)

    @field_validator("restrictions")
    @classmethod
    def _restrictions_say_what_is_forbidden(cls, values: list[str]) -> list[str]:
        written = [" ".join(value.split()) for value in values]
        for restriction in written:
            if len(restriction) > MAX_RESTRICTION_LENGTH:
                raise ValueError(
                    f"write each restriction in at most {MAX_RESTRICTION_LENGTH} characters"
                )
            if not restriction.isprintable() or not forbidden_activity(restriction):
                raise ValueError(
                    f"\u201c{restriction[:40]}\u201d does not say what is forbidden: write it "
                    "as \u201cnever drinking alcohol\u201d or \u201cno political content\u201d"
                )
        if len({restriction.casefold() for restriction in written}) != len(written):
            raise ValueError("list each restriction once")
        return written

    @model_validator(mode="after")
    def _consistent(self) -> "PolicyDocument":
        if self.audience == Audience.listed and not self.listed_accounts:
            raise ValueError("audience 'listed' needs at least one account in listed_accounts")
        if self.audience != Audience.listed and self.listed_accounts:
            raise ValueError("listed_accounts is only for audience 'listed'")
        if self.audience != Audience.nobody and not self.allowed_uses:
            raise ValueError(
                f"audience {self.audience.value!r} needs at least one entry in allowed_uses"
            )
        if (
            self.daily_use_limit is not None
            and self.total_use_limit is not None
            and self.daily_use_limit > self.total_use_limit
        ):
            raise ValueError("daily_use_limit cannot exceed total_use_limit")
        return self

    @classmethod
    def from_stored(cls, stored: dict) -> "PolicyDocument":
        """Read a version back from the database (JSON types, so not strict)."""
        return cls.model_validate(stored, strict=False)

    def admits_anyone(self) -> bool:
        return self.audience != Audience.nobody

    def admits_no_more_than(self, given: "PolicyDocument") -> bool:
        """Whether every use this version admits, ``given`` admits too: nobody new, no new
        use, no excluded content let in, no limit raised, no approval or expiry dropped. Its
        price may differ. What an agent may grant on a person's consent (rights/service.py)."""
        audiences = list(Audience)
        if audiences.index(self.audience) > audiences.index(given.audience):
            return False
        if self.audience == given.audience == Audience.listed and not set(
            self.listed_accounts
        ) <= set(given.listed_accounts):
            return False
        return (
            set(self.allowed_uses) <= set(given.allowed_uses)
            and set(self.excluded_content) >= set(given.excluded_content)
            and (given.minors_may_use or not self.minors_may_use)
            and (self.approval_required or not given.approval_required)
            and _within(self.daily_use_limit, given.daily_use_limit)
            and _within(self.total_use_limit, given.total_use_limit)
            and _within(self.expires_at, given.expires_at)
        )

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def _within(limit, given_limit) -> bool:
    """A limit (a count, an expiry) no looser than the given one; None is no limit."""
    return given_limit is None or (limit is not None and limit <= given_limit)


NOBODY = PolicyDocument()
