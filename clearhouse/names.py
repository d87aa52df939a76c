"""Names people read: refusing text that hides what it says, and folding look-alikes together.

`fold` maps a name to a skeleton that every look-alike spelling of it shares: case, accents,
Unicode confusables (UTS #39, ICU's own skeleton), digits written for letters (0 for o, 1 for l
or i, 3 for e, 4 for a, 5 for s, 7 for t) and separators (``.``, ``_``, ``-``, spaces, any
punctuation). Two names with one skeleton read alike: `captain_comet`, `captain.c0met` and
`captain_cornet` all fold to ``captalncornet``. A skeleton is for comparing, never for showing.

`check_readable` refuses names that are empty to the eye (only spaces or invisible
characters) or that carry bidirectional controls, which reorder what a reader sees
(``invoice\\u202egpj.exe`` shows as ``invoiceexe.jpg``).
"""

import unicodedata
from functools import cache

import icu

# Explicit embeddings, overrides and isolates (UAX #9), and the implicit direction marks.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
# Letters and symbols that render as nothing, though Unicode does not class them as format
# characters: Hangul fillers, the Mongolian vowel separator, the blank Braille pattern.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u180e\u2800")
# Digits written for letters, after case folding. A capital I (folded to i) looks like a
# lower-case l, and both like 1, so i and l fold together too.
_DIGITS_AS_LETTERS = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t"})
_I_AS_L = str.maketrans({"i": "l"})


def is_invisible(character: str) -> bool:
    """Draws nothing on its own: format and control characters, marks, blank glyphs."""
    return (
        unicodedata.category(character) in {"Cf", "Cc", "Mn", "Me", "Zl", "Zp"}
        or character in _BLANK_GLYPHS
    )


def check_readable(text: str) -> str:
    """``text`` unchanged if a reader sees what it says; a ValueError saying why otherwise."""
    if any(character in BIDI_CONTROLS for character in text):
        raise ValueError(
            "text may not contain bidirectional controls (U+202A-U+202E, U+2066-U+2069, "
            "U+200E, U+200F, U+061C): they change the order a reader sees"
        )
    if all(character.isspace() or is_invisible(character) for character in text):
        raise ValueError("text must have a visible character, not only spaces or invisible ones")
    return text


@cache
def _spoof_checker() -> icu.SpoofChecker:
    # Only the skeleton is used: a const operation, safe from every thread.
    return icu.SpoofChecker()


def _without_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))


def fold(text: str) -> str:
    """The look-alike skeleton of a name (case, accents, confusables, digits, separators)."""
    folded = _without_marks(unicodedata.normalize("NFKC", text).casefold())
    folded = folded.translate(_DIGITS_AS_LETTERS)
    # UTS #39 maps other scripts' look-alikes (Cyrillic a, U+0430) and sequences (rn for m) to one
    # prototype; its prototypes are mixed case, so fold case and accents again after.
    folded = _spoof_checker().getSkeleton(0, folded)
    folded = _without_marks(folded.casefold()).translate(_DIGITS_AS_LETTERS).translate(_I_AS_L)
    return "".join(c for c in folded if unicodedata.category(c)[0] in {"L", "N", "S"})
