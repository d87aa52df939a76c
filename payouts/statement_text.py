"""Which font shows each character of a statement PDF's user text (names, memos), so that none
prints as a box.

reportlab's standard fonts hold WinAnsi, about Latin-1 (Helvetica), with Greek and signs
(Symbol) and dingbats (ZapfDingbats): any other character came out as a black box, in the
picture and in the text a reader copies. Chinese, Japanese and Korean now go in Adobe's
standard CJK fonts, reportlab's built-in CID fonts: the PDF names the font and its character
collection and embeds nothing, so nothing is read or downloaded here, and a reader draws them
with a CJK font of its own (Acrobat Reader fetches its Asian font pack). A reader with none
(poppler on a server without CJK fonts) draws empty squares, but still copies and searches the
text as written. The Russian alphabet is in those collections too, drawn full width. Hebrew,
Arabic and Thai go in Noto fonts embedded as subsets, shaped, and Hebrew and Arabic drawn right
to left (payouts/statement_scripts.py): a line's runs are put in the order they are drawn by
Unicode's bidirectional algorithm (ICU's, which PyICU already brings) once the line is broken.
Emoji and other symbols no font here holds are written as their Unicode names ("[grinning
face]"), a letter without its accent where the bare letter is held, and any other character as
"?"; the CSV has every character as written.
"""

import functools
import unicodedata
from collections.abc import Iterator
from itertools import groupby

import icu
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.textobject import PDFTextObject

from payouts.statement_scripts import (
    RIGHT_TO_LEFT_FONTS,
    SHAPED_FONTS,
    THAI,
    actual_text,
    script_font,
    shaped,
    shaped_width,
)

CHINESE, JAPANESE, KOREAN = "STSong-Light", "HeiseiMin-W3", "HYSMyeongJo-Medium"
Runs = list[tuple[str, str]]
"""A text as (font, text) runs, in order."""

# Basic Multilingual Plane ranges only: the CID fonts' Unicode encodings (UCS-2) hold no other.
_HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF))
_KANA = ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF65, 0xFF9F))
# Held by all three CJK fonts: drawn in the one a text's other characters call for.
_SHARED_CJK = (
    (0x0401, 0x0401),  # Ё
    (0x0410, 0x044F),  # the Russian alphabet
    (0x0451, 0x0451),  # ё
    (0x2E80, 0x2FDF),  # radicals
    (0x3000, 0x303F),  # CJK punctuation
    (0x3100, 0x312F),  # bopomofo
    (0x3200, 0x33FF),  # enclosed letters and compatibility forms
    (0x3400, 0x4DBF),  # ideographs, extension A
    (0x4E00, 0x9FFF),  # ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFE30, 0xFE4F),  # compatibility forms
    (0xFF00, 0xFF64),  # full-width forms
    (0xFFE0, 0xFFEE),
)
# Shown by the characters they join or modify, or not at all: dropped.
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc", "Cs", "Co", "Cn"})
_SKIN_TONES = range(0x1F3FB, 0x1F400)


def _within(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


@functools.cache
def _cjk_fonts() -> None:
    """Register the CID fonts once: their metrics ship with reportlab, no font file is read."""
    for name in (CHINESE, JAPANESE, KOREAN):
        pdfmetrics.registerFont(UnicodeCIDFont(name))


@functools.cache
def _standard_encodings(latin: str) -> tuple[str, ...]:
    """The encodings of ``latin`` and of the standard fonts reportlab draws with when it lacks
    a character (Symbol: Greek and mathematical signs; ZapfDingbats: dingbats such as ✓)."""
    font = pdfmetrics.getFont(latin)
    return tuple(each.encName for each in (font, *font.substitutionFonts))


def _in_standard_fonts(text: str, latin: str) -> bool:
    for encoding in _standard_encodings(latin):
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            continue
        return True
    return len(text) > 1 and all(_in_standard_fonts(character, latin) for character in text)


def font_runs(text: str, *, latin: str) -> Runs:
    """``text`` as runs of one font each, (font, text), in the order it is read: ``latin``
    where it holds the characters, a CJK font for Chinese, Japanese and Korean (ideographs in
    the Japanese font in a text with kana, in the Korean one in a text with Hangul), a Noto
    font for Hebrew, Arabic and Thai, names or "?" for the rest (see the module)."""
    if _in_standard_fonts(text, latin):
        return [(latin, text)] if text else []
    _cjk_fonts()
    text = unicodedata.normalize("NFC", text)  # an accent typed apart joins its letter
    codes = [ord(character) for character in text]
    han = (
        JAPANESE
        if any(_within(code, _KANA) for code in codes)
        else KOREAN
        if any(_within(code, _HANGUL) for code in codes)
        else CHINESE
    )
    runs: Runs = []
    for font, shown in _characters(text, han=han, latin=latin):
        _append(runs, font, shown)
    return runs


def _characters(text: str, *, han: str, latin: str) -> Iterator[tuple[str, str]]:
    for character in text:
        font = _font_of(character, han=han, latin=latin)
        if font is not None:
            yield font, character
            continue
        category = unicodedata.category(character)
        # A letter no font holds, shown without its accents where that one is held (ά, ş).
        bare = "".join(
            part
            for part in unicodedata.normalize("NFKD", character)
            if not unicodedata.combining(part)
        )
        if bare != character and bare and _in_standard_fonts(bare, latin):
            yield latin, bare
        elif category in _DROPPED_CATEGORIES or ord(character) in _SKIN_TONES:
            continue
        elif category.startswith("S"):
            yield latin, f"[{unicodedata.name(character, 'symbol').lower()}]"
        else:
            yield latin, "?"


@functools.lru_cache(maxsize=65536)  # a statement's memos draw on a few hundred characters
def _font_of(character: str, *, han: str, latin: str) -> str | None:
    """The font that holds ``character``; None: none here does."""
    code = ord(character)
    if _in_standard_fonts(character, latin):
        return latin
    if _within(code, _HANGUL):
        return KOREAN
    if _within(code, _KANA):
        return JAPANESE
    if _within(code, _SHARED_CJK):
        return han
    return script_font(character)


def text_width(text: str, font: str, size: float) -> float:
    """How wide ``text`` is in ``font`` at ``size``, shaped where the font is."""
    if font in SHAPED_FONTS:
        return shaped_width(font, text, size)
    return stringWidth(text, font, size)


def runs_width(runs: Runs, size: float) -> float:
    """How wide ``runs`` are, each in its font, at ``size``."""
    return sum(text_width(text, font, size) for font, text in runs)


def wrap_runs(text: str, *, latin: str, size: float, width: float) -> list[Runs]:
    """``text``'s runs broken into lines no wider than ``width``: at spaces, between any two
    CJK characters, and inside a word only when the word alone is wider (never between a
    letter and its marks). Each line's runs are in the order it is read."""
    lines: list[Runs] = [[]]
    used = 0.0
    for font, piece in _pieces(font_runs(text, latin=latin)):
        piece_width = text_width(piece, font, size)
        if used + piece_width > width and lines[-1]:
            lines.append([])
            used = 0.0
            piece = piece.lstrip(" ")
            piece_width = text_width(piece, font, size)
        if piece_width > width:  # a word wider than the line: cut where it fills one
            for cluster in _clusters(piece):
                cluster_width = text_width(cluster, font, size)
                if used + cluster_width > width and lines[-1]:
                    lines.append([])
                    used = 0.0
                _append(lines[-1], font, cluster)
                used += cluster_width
            continue
        if piece:
            _append(lines[-1], font, piece)
            used += piece_width
    return [line for line in lines if line] or [[(latin, "")]]


def first_line(text: str, *, latin: str, size: float, width: float) -> Runs:
    """As much of ``text`` as fits in ``width``, ended with "…" when cut."""
    ellipsis = text_width("…", latin, size)
    lines = wrap_runs(text, latin=latin, size=size, width=width - ellipsis)
    return lines[0] + [(latin, "…")] if len(lines) > 1 else lines[0]


def _pieces(runs: Runs) -> Iterator[tuple[str, str]]:
    """What a line may break between: each word with the spaces before it in a Latin run, each
    character in a CJK one, each word of a Thai one (written without spaces between words:
    ICU's dictionary finds them)."""
    for font, text in runs:
        if font in (CHINESE, JAPANESE, KOREAN):
            yield from ((font, character) for character in text)
            continue
        if font == THAI:
            yield from ((font, word) for word in _thai_words(text))
            continue
        word = ""
        for character in text:
            if character == " " and word.strip(" "):
                yield font, word
                word = ""
            word += character
        if word:
            yield font, word


def _thai_words(text: str) -> Iterator[str]:
    words = icu.BreakIterator.createLineInstance(_THAI_LOCALE)  # one a text: not thread-safe
    words.setText(text)
    start = words.first()
    for end in words:  # the Thai run's characters are all in the BMP: UTF-16 indices match
        yield text[start:end]
        start = end


_THAI_LOCALE = icu.Locale("th")


def _clusters(word: str) -> Iterator[str]:
    """``word``'s characters, each with the marks that follow it (Thai vowels and tones,
    Hebrew points, Arabic vowel signs)."""
    cluster = ""
    for character in word:
        if cluster and unicodedata.category(character) in ("Mn", "Mc"):
            cluster += character
            continue
        if cluster:
            yield cluster
        cluster = character
    if cluster:
        yield cluster


def _append(line: Runs, font: str, text: str) -> None:
    if line and line[-1][0] == font:
        line[-1] = (font, line[-1][1] + text)
    else:
        line.append((font, text))


def show_runs(text: PDFTextObject, runs: Runs, *, size: float, leading: float) -> None:
    """Write a line's ``runs`` on ``text`` from its current point, left to right as they are
    drawn; a shaped text inside a span that reads as its characters."""
    if not any(font in SHAPED_FONTS for font, _ in runs):  # drawn as they are read
        for font, part in runs:
            if text._fontname != font:  # reportlab's text object keeps its current font here
                text.setFont(font, size, leading)
            text.textOut(part)
        return
    for font, drawn, shown in _drawn_runs(runs):
        if text._fontname != font:  # reportlab's text object keeps its current font here
            text.setFont(font, size, leading)
        if shown is None:
            text.textOut(drawn)
            continue
        # Marked content around the glyphs: reportlab's text object has no call for it.
        text._code.append(actual_text(shown))
        text.textOut(drawn)
        text._code.append("EMC")


def _drawn_runs(runs: Runs) -> Iterator[tuple[str, str, str | None]]:
    """A line's ``runs`` in the order they are drawn, left to right: (font, what is drawn,
    None or, for a shaped text, its characters in the order their glyphs are drawn: what a
    reader reorders right-to-left text from, as it does drawn characters)."""
    if not any(font in RIGHT_TO_LEFT_FONTS for font, _ in runs):
        for font, part in runs:
            yield (font, shaped(font, part), part) if font in SHAPED_FONTS else (font, part, None)
        return
    text = "".join(part for _, part in runs)
    fonts = [font for font, part in runs for _ in part]
    # Every character of a run is in the Basic Multilingual Plane (see font_runs), so ICU's
    # UTF-16 indices are the string's.
    bidi = icu.Bidi()
    bidi.setPara(icu.UnicodeString(text), 0)  # left to right, as the document around it
    for run in range(bidi.countRuns()):
        start, length, direction = bidi.getVisualRun(run)
        right_to_left = direction == _RIGHT_TO_LEFT
        pieces = [
            (font, "".join(character for _, character in pairs))
            for font, pairs in groupby(
                zip(fonts[start : start + length], text[start : start + length], strict=True),
                key=lambda pair: pair[0],
            )
        ]
        for font, logical in reversed(pieces) if right_to_left else pieces:
            if font in SHAPED_FONTS:
                yield font, shaped(font, logical), logical[::-1] if right_to_left else logical
            elif right_to_left:  # brackets and the like turned to face the other way
                yield font, "".join(icu.Char.charMirror(c) for c in reversed(logical)), None
            else:
                yield font, logical, None


_RIGHT_TO_LEFT = 1  # ICU's UBIDI_RTL, a visual run's direction
