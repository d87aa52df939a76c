"""Hebrew, Arabic and Thai in a statement PDF: embedded Noto fonts, shaped with HarfBuzz.

None of reportlab's standard or CID fonts holds these scripts, and each needs more than one
glyph per character: Arabic letters join (a letter's form depends on its neighbours), Thai
stacks vowel and tone marks above and below its consonants, Hebrew and Arabic run right to
left. The fonts are Google's Noto Sans Hebrew, Arabic and Thai (SIL Open Font License),
unmodified, from the wheels ``justmytype-intl-rtl`` and ``justmytype-intl-sea``: read from
the installed package the first time a statement needs one, nothing downloaded. They are
variable fonts; Noto Sans Hebrew's default is its thinnest weight, so it is pinned to Regular
(fontTools' instancer) before reportlab registers it (Arabic's and Thai's default is Regular).
reportlab embeds only the glyphs a document uses (a subset) and shapes a text with HarfBuzz
(uharfbuzz): the glyphs come out in the order they are drawn, left to right, some (joined or
moved forms) without a character of their own, so each shaped text is drawn inside a marked
span whose ``ActualText`` says which characters it shows: copied, searched and read by
``pdftotext`` as written, not as glyph names.
"""

import functools
import io
import threading
from importlib.resources import files

from fontTools.ttLib import TTFont as FontFile
from fontTools.varLib import instancer
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import ShapedStr, TTFont, shapeStr

HEBREW, ARABIC, THAI = "NotoSansHebrew", "NotoSansArabic", "NotoSansThai"
# Each font: the package and file it comes from, and the code points it is used for.
_FONTS = {
    HEBREW: (
        "justmytype_intl_rtl",
        "fonts/ofl/notosanshebrew/NotoSansHebrew[wdth,wght].ttf",
        ((0x0590, 0x05FF), (0xFB1D, 0xFB4F)),
    ),
    ARABIC: (
        "justmytype_intl_rtl",
        "fonts/ofl/notosansarabic/NotoSansArabic[wdth,wght].ttf",
        ((0x0600, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    ),
    THAI: (
        "justmytype_intl_sea",
        "fonts/ofl/notosansthai/NotoSansThai[wdth,wght].ttf",
        ((0x0E00, 0x0E7F),),
    ),
}
SHAPED_FONTS = frozenset(_FONTS)
RIGHT_TO_LEFT_FONTS = frozenset((HEBREW, ARABIC))  # every right-to-left letter drawn is in one
_REGULAR = {"wght": 400, "wdth": 100}
_registering = threading.Lock()


def script_font(character: str) -> str | None:
    """The Noto font that shows ``character``, registered with reportlab; None: none here."""
    code = ord(character)
    for font, (_, _, ranges) in _FONTS.items():
        if any(low <= code <= high for low, high in ranges):
            return font if code in _registered(font).face.charToGlyph else None
    return None


@functools.cache
def _registered(font: str) -> TTFont:
    package, path, _ = _FONTS[font]
    with _registering:  # once: a second TTFont of the name would split a document's subset
        if font in pdfmetrics.getRegisteredFontNames():
            return pdfmetrics.getFont(font)
        data = io.BytesIO((files(package) / path).read_bytes())
        variable = FontFile(data)
        if any(axis.defaultValue != _REGULAR[axis.axisTag] for axis in variable["fvar"].axes):
            # Its outlines as they are drawn unless told otherwise are not Regular's (Hebrew's
            # are Thin): pinned, a fraction of a second once a process.
            data = io.BytesIO()
            instancer.instantiateVariableFont(variable, _REGULAR, updateFontNames=True).save(data)
        data.seek(0)
        registered = TTFont(font, data)
        pdfmetrics.registerFont(registered)
        return registered


@functools.lru_cache(maxsize=8192)  # a statement's memos repeat
def shaped(font: str, logical: str) -> str:
    """``logical`` (in the order it is read) as HarfBuzz shapes it in ``font``: its glyphs in
    the order they are drawn, left to right (a ``ShapedStr`` with their places, or a plain
    ``str`` when each character is one glyph where it would be anyway)."""
    _registered(font)
    return shapeStr(logical, font, 10)  # places are in thousandths of the size: any size


def shaped_width(font: str, logical: str, size: float) -> float:
    glyphs = shaped(font, logical)
    if isinstance(glyphs, ShapedStr):
        return sum(place.x_advance for place in glyphs.__shapeData__) * size / 1000
    return stringWidth(glyphs, font, size)


def actual_text(text: str) -> str:
    """The marked-content operator that opens a span reading as ``text`` (closed by EMC)."""
    return f"/Span <</ActualText <FEFF{text.encode('utf-16-be').hex().upper()}>>> BDC"
