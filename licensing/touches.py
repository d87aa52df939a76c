"""What a request touches, as :class:`Touch` values with their evidence: the prompt's text
(rights/matching); input images and faces join here as those checks reach clearance."""

from collections.abc import Sequence

from licensing.clearance import Touch
from rights.matching.types import TextMatch


def text_touches(prompt: str, matches: Sequence[TextMatch]) -> list[Touch]:
    """One touch per match: what found it, how strongly, and the words of the prompt."""
    return [
        Touch(
            asset_id=match.asset_id,
            evidence={
                "kind": match.kind.value,
                "score": round(match.score, 4),
                "span": [match.start, match.end],
                "text": prompt[match.start : match.end],
            },
        )
        for match in matches
    ]
