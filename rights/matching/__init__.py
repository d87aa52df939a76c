"""The IP text check: which registered characters, styles and people a prompt touches.

By name, alias or handle, however disguised (`folding.py`, `name_index.py`), and by
description without any name (`semantic_index.py`, with the MiniLM sentence model of
`encoder.py`). `runtime.MatchingRuntime.match(session, prompt)` is the entry point for
clearance; it keeps the in-memory catalogue (`catalogue.py`) in step with the database
(`store.py`). Each `types.TextMatch` names the asset, the kind of evidence, a score and where in
the prompt it was found.
"""

from rights.matching.matcher import TextMatcher, Thresholds
from rights.matching.runtime import MatchingRuntime
from rights.matching.types import CatalogueAsset, MatchKind, TextMatch

__all__ = [
    "CatalogueAsset",
    "MatchKind",
    "MatchingRuntime",
    "TextMatch",
    "TextMatcher",
    "Thresholds",
]
