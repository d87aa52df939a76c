"""A prompt folded the way names are (clearhouse/names.fold), keeping where each letter came from.

`fold_prompt` turns text into a run of look-alike skeleton letters with no separators, and the
positions where words begin and end: "Sp0nge-B o b's" becomes ``spongebobs`` with boundaries
after ``sponge``, after each of ``b``, ``o``, ``b`` and before ``s``. Every folded letter keeps
the span of the original characters it came from, so a match found in the folded run maps back
to the prompt as written, accents, look-alikes and invisible characters included.

Folding is done one grapheme-like unit at a time (a character and its combining marks) with
`clearhouse.names.fold`, which is exactly per character: UTS #39's skeleton maps each character
on its own, so folding a unit or a whole name gives the same letters. On top of the digits
`fold` reads as letters, prompts read 8 as b and 9 as g, and '@', '$', '!' and '+' inside a
word as a, s, i and t (the usual leetspeak); '@' or '#' in front of a word marks a handle or a
hashtag. Invisible characters (zero-width spaces, soft hyphens) are dropped without breaking
the word they hide in.
"""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from clearhouse.names import fold

_MORE_DIGITS_AS_LETTERS = str.maketrans({"8": "b", "9": "g"})
# Leetspeak symbols that stand for a letter when they sit inside a word.
_LEET_INSIDE_WORDS = {"@": "a", "$": "s", "!": "l", "+": "t"}  # "!" is an i, folded to l
_MARKERS = {"@": "handle", "#": "hashtag"}


@lru_cache(maxsize=65_536)
def fold_unit(unit: str) -> str:
    """The skeleton letters of one character with its marks ('' for punctuation and spaces)."""
    return fold(unit).translate(_MORE_DIGITS_AS_LETTERS)


def fold_name(text: str) -> str:
    """A name, alias or handle folded exactly as prompts are, without its separators."""
    return fold_prompt(text).letters


@dataclass(frozen=True)
class Word:
    """One word of the folded prompt: letters ``[start, end)`` of ``FoldedPrompt.letters``."""

    start: int
    end: int
    marker: str | None  # "handle" after '@', "hashtag" after '#', else None
    capitalised: bool  # its first letter was written upper-case
    characters: int  # characters written (an "m" is one, though it folds to "rn")


@dataclass(frozen=True)
class FoldedPrompt:
    """The folded letters of a prompt, its words, and the original span of each letter."""

    original: str
    letters: str
    origins: tuple[tuple[int, int], ...]  # per letter: [start, end) in ``original``
    words: tuple[Word, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Where letters ``[start, end)`` were written in the original prompt."""
        return self.origins[start][0], self.origins[end - 1][1]


def _units(text: str) -> list[tuple[int, int]]:
    """[start, end) of each character with the combining marks and invisibles that follow it."""
    bounds: list[tuple[int, int]] = []
    for index, character in enumerate(text):
        category = unicodedata.category(character)
        if bounds and (category in {"Mn", "Me", "Mc"} or category == "Cf"):
            bounds[-1] = (bounds[-1][0], index + 1)
        else:
            bounds.append((index, index + 1))
    return bounds


def _is_alnum(character: str) -> bool:
    return unicodedata.category(character)[0] in {"L", "N"}


def fold_prompt(text: str) -> FoldedPrompt:
    """Fold ``text`` for matching; see the module's docstring."""
    pieces: list[str] = []
    origins: list[tuple[int, int]] = []
    words: list[Word] = []
    word: dict | None = None  # the word being read: its first letter, marker, capitalisation
    marker: str | None = None  # after '@' or '#', until the next space: a handle or hashtag
    previous_lower = False

    def close_word() -> None:
        nonlocal word
        if word is not None:
            words.append(
                Word(
                    start=word["start"],
                    end=len(origins),
                    marker=word["marker"],
                    capitalised=word["capitalised"],
                    characters=word["characters"],
                )
            )
        word = None

    for start, end in _units(text):
        unit = text[start:end]
        head = unit[0]
        if unicodedata.category(head) == "Cf":  # an invisible character on its own
            continue
        if head.isspace():
            marker = None
        after_letter = start > 0 and _is_alnum(text[start - 1])
        before_letter = end < len(text) and _is_alnum(text[end])
        if head in _MARKERS and not after_letter and before_letter:
            close_word()
            marker, previous_lower = _MARKERS[head], False
            continue
        folded = fold_unit(unit)
        if head in _LEET_INSIDE_WORDS:
            reads_as_letter = {
                "@": after_letter,
                "$": after_letter or before_letter,
            }.get(head, after_letter and before_letter)
            folded = _LEET_INSIDE_WORDS[head] if reads_as_letter else ""
        if not folded:
            close_word()
            previous_lower = False
            continue
        upper = head.isupper()
        if word is not None and upper and previous_lower:  # camelCase starts a new word
            close_word()
        if word is None:
            word = {"start": len(origins), "marker": marker, "capitalised": upper, "characters": 0}
        word["characters"] += 1
        pieces.append(folded)
        origins.extend([(start, end)] * len(folded))
        previous_lower = head.islower()
    close_word()
    return FoldedPrompt(
        original=text, letters="".join(pieces), origins=tuple(origins), words=tuple(words)
    )
