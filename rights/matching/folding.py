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


_ATTACHED = frozenset({"Mn", "Me", "Mc", "Cf"})  # marks and invisibles join the unit before


@lru_cache(maxsize=8192)
def _character(character: str) -> tuple[str, bool, bool, bool, bool, bool, bool]:
    """(folded, letter or digit, upper, lower, space, attaches to the unit before, invisible)."""
    category = unicodedata.category(character)
    return (
        fold_unit(character),
        category[0] in {"L", "N"},
        character.isupper(),
        character.islower(),
        character.isspace(),
        category in _ATTACHED,
        category == "Cf",
    )


def fold_prompt(text: str) -> FoldedPrompt:
    """Fold ``text`` for matching; see the module's docstring. One pass, a cached lookup per
    character: a prompt of a few hundred characters folds in well under a millisecond."""
    pieces: list[str] = []
    origins: list[tuple[int, int]] = []
    words: list[Word] = []
    word_start = -1  # the word being read: where it starts in the letters (-1: none)
    word_marker: str | None = None
    word_capitalised = False
    word_characters = 0
    marker: str | None = None  # after '@' or '#', until the next space: a handle or hashtag
    previous_lower = False
    length = len(text)
    index = 0
    while index < length:
        start = index
        folded, _, upper, lower, space, _, invisible = _character(text[start])
        index += 1
        while index < length and _character(text[index])[5]:
            index += 1
        if invisible:  # an invisible character on its own
            continue
        if index - start > 1:  # a character with its marks: fold them together
            folded = fold_unit(text[start:index])
        head = text[start]
        if space:
            marker = None
        after_letter = start > 0 and _character(text[start - 1])[1]
        before_letter = index < length and _character(text[index])[1]
        if head in _MARKERS and not after_letter and before_letter:
            folded = ""
            marker = _MARKERS[head]
        elif head in _LEET_INSIDE_WORDS:
            if head == "@":
                reads_as_letter = after_letter
            elif head == "$":
                reads_as_letter = after_letter or before_letter
            else:
                reads_as_letter = after_letter and before_letter
            folded = _LEET_INSIDE_WORDS[head] if reads_as_letter else ""
        if not folded or (word_start >= 0 and upper and previous_lower):
            # A separator ends the word; so does camelCase, where a capital starts the next.
            if word_start >= 0:
                words.append(
                    Word(word_start, len(origins), word_marker, word_capitalised, word_characters)
                )
                word_start = -1
            if not folded:
                previous_lower = False
                continue
        if word_start < 0:
            word_start, word_marker, word_capitalised, word_characters = (
                len(origins),
                marker,
                upper,
                0,
            )
        word_characters += 1
        pieces.append(folded)
        origins.extend([(start, index)] * len(folded))
        previous_lower = lower
    if word_start >= 0:
        words.append(Word(word_start, len(origins), word_marker, word_capitalised, word_characters))
    return FoldedPrompt(
        original=text, letters="".join(pieces), origins=tuple(origins), words=tuple(words)
    )
