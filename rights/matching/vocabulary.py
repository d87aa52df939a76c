"""Which registered names are also ordinary words, and so prove nothing on their own.

"Link", "Rivet" or "Mirage" appear in prompts that have nothing to do with a character of that
name; "Thor", "Nemo" or "Alice" name other people and things as often as the registered one.
A name like that counts only with more evidence (see `rights/matching/name_index.py`):

- ``Ambiguity.word``: a lower-case entry of Webster's Second (the ``web2`` list of the
  `english-words` package, 236k words), or one with an ordinary ending ("munchy", "rags").
  Written with a capital in the middle of a sentence, it is read as a name ("a portrait of
  Mirage").
- ``Ambiguity.name``: a proper name or a short word: capitalised in Webster's, one of zxcvbn's
  given names or surnames, or five letters or fewer. A capital
  proves nothing here (names are always capitalised).

A name of two words or more ("Captain Comet", "Peter Rabbit") is distinctive: ordinary text
almost never puts those words side by side. Leading articles do not count as words ("The Duke"
is as ambiguous as "Duke").
"""

import unicodedata
from enum import StrEnum
from functools import cache

SHORT_NAME_LETTERS = 5
ARTICLES = frozenset({"the", "a", "an"})


class Ambiguity(StrEnum):
    word = "word"
    name = "name"


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if c.isalnum())


@cache
def _dictionary() -> tuple[frozenset[str], frozenset[str]]:
    """(lower-case words, capitalised words) of Webster's Second, lower-cased."""
    from english_words import get_english_words_set

    entries = get_english_words_set(["web2"], lower=False, alpha=True)
    lower = frozenset(w for w in entries if w.islower())
    capitalised = frozenset(w.lower() for w in entries if not w.islower())
    return lower, capitalised - lower


@cache
def _people_names() -> frozenset[str]:
    """zxcvbn's given names and surnames (US census). Its Wikipedia and subtitle lists are left
    out: they hold the famous characters' names themselves ("pinocchio")."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    lists = ("female_names", "male_names", "surnames")
    return frozenset(word for list_name in lists for word in FREQUENCY_LISTS[list_name])


# Endings that make a dictionary word into another ordinary one ("munch" -> "munchy", "rags").
_ENDINGS = ("s", "es", "y", "ie", "ies", "ed", "er", "ing", "ly")
_STEM_LETTERS = 4


def _is_derived_word(word: str, lower: frozenset[str]) -> bool:
    return any(
        word.endswith(ending)
        and len(word) - len(ending) >= _STEM_LETTERS
        and word[: -len(ending)] in lower
        for ending in _ENDINGS
    )


def name_words(name: str) -> list[str]:
    """The words of a name as written, plain lower-case, without a leading article."""
    parts = name.replace("_", " ").replace(".", " ").split()
    words = [word for word in map(_plain, parts) if word]
    while len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    return words


def ambiguity(name: str) -> Ambiguity | None:
    """Whether ``name`` is also an ordinary word or a common name; None if it is distinctive."""
    words = name_words(name)
    if len(words) != 1:
        return None
    (word,) = words
    lower, capitalised = _dictionary()
    if word in lower:
        return Ambiguity.word
    if word in capitalised or word in _people_names():
        return Ambiguity.name
    if _is_derived_word(word, lower):
        return Ambiguity.word
    if len(word) <= SHORT_NAME_LETTERS:
        return Ambiguity.name
    return None
