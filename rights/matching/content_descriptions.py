"""What each content category reads like, for the content check (`content_check.py`): its
descriptions and words, and the everyday scenes that are in no category. The texts live in
`content_descriptions.toml` beside this module, which says what each list is for."""

import tomllib
from dataclasses import dataclass
from importlib import resources

from policies.document import ContentCategory


@dataclass(frozen=True)
class CategoryTexts:
    category: ContentCategory
    descriptions: tuple[str, ...]
    words: tuple[str, ...]


def _load() -> tuple[tuple[CategoryTexts, ...], tuple[str, ...]]:
    with resources.files(__package__).joinpath("content_descriptions.toml").open("rb") as file:
        stored = tomllib.load(file)
    categories = tuple(
        CategoryTexts(
            category=ContentCategory(entry["name"]),
            descriptions=tuple(entry["descriptions"]),
            words=tuple(entry["words"]),
        )
        for entry in stored["category"]
    )
    # A category left out would never be found; the fixed order keeps the key of the embeddings
    # kept in the encoder's cache folder (content_check.py) the same.
    if [texts.category for texts in categories] != list(ContentCategory):
        raise ValueError(
            "content_descriptions.toml must describe each content category once, in the order "
            f"of policies.document.ContentCategory: {[c.value for c in ContentCategory]}"
        )
    return categories, tuple(stored["everyday"]["scenes"])


CATEGORIES, EVERYDAY = _load()
