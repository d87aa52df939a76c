"""What the IP text check reads (registered assets' texts) and what it answers (matches)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class MatchKind(StrEnum):
    """What in the prompt points at the asset."""

    name = "name"
    alias = "alias"
    handle = "handle"
    description = "description"  # no name: the prompt describes it (semantic match)


@dataclass(frozen=True)
class TextMatch:
    """One registered asset a prompt touches, with the strongest evidence found for it.

    ``start`` and ``end`` index the prompt as given (``prompt[start:end]``): the name as
    written, disguise and all, or for a description the stretch of the prompt that was read.
    ``score`` is 1.0 for a name, alias or handle; for a description, the calibrated semantic
    score (at least the matcher's threshold).
    """

    asset_id: uuid.UUID
    kind: MatchKind
    score: float
    start: int
    end: int


@dataclass(frozen=True)
class CatalogueAsset:
    """The texts of one registered asset that the check compares prompts with."""

    id: uuid.UUID
    handle: str
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    keywords: tuple[str, ...] = ()
    example_prompts: tuple[str, ...] = ()
    protected_kind: str | None = None
    """Set for a protected entry (rights/protected/): character, style or person."""

    def semantic_texts(self) -> list[str]:
        return semantic_texts(
            description=self.description,
            example_prompts=self.example_prompts,
            keywords=self.keywords,
        )


def semantic_texts(
    *, description: str, example_prompts: Sequence[str], keywords: Sequence[str]
) -> list[str]:
    """The texts embedded for name-free matching, in a fixed order: the description, each
    example prompt, and the keywords as one list. Names are left out: a prompt that names the
    asset is found by name, and one that does not should not need the name to match."""
    texts = [description.strip(), *(prompt.strip() for prompt in example_prompts)]
    if keywords:
        texts.append(", ".join(keyword.strip() for keyword in keywords))
    return [text for text in texts if text]


@dataclass(frozen=True)
class ProtectedMatch:
    """A protected entry (no owner) a prompt touches: always denied, never licensed."""

    entry_id: uuid.UUID
    kind: str
    name: str
    match: TextMatch
