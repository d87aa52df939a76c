"""The IP text check: which registered assets a prompt touches, by name or by description.

`TextMatcher.match` folds the prompt once and looks every registered name up in it
(`name_index.py`), embeds it once and searches the assets' own texts (`semantic_index.py`),
then decides:

- a name, alias or handle found as written or disguised is a match (score 1);
- a name that is also an ordinary word or a common name ("Link", "Thor", "Nemo"), written
  plainly, is a match only if the prompt is also *about* the asset: its similarity to the
  asset's texts reaches ``context_similarity`` or they share ``context_overlap`` of distinctive
  words ("Thor swinging his hammer in a storm", not "a thor's hammer pendant");
- with no name, the prompt describes the asset when it reads very like one of the asset's texts
  and says enough to single one asset out (``similarity_alone``, ``words_alone``: "a robot boy"
  reads very like an owner's keyword list "robot boy, jet boots, ..." but names no more than
  the kind of thing), or fairly like one while sharing enough of its distinctive words
  (``similarity_with_words`` and ``overlap_with_words``): the shared words are what tell "a
  mustachioed plumber in a red cap and blue overalls stomping turtles" from "a plumber fixing
  a sink", which the sentence model alone finds about as close.

The thresholds were chosen on the development half of the quality set
(tests/rights/matching/cases/, tests/ip_quality.py) and are checked on the held-out half.
"""

from dataclasses import dataclass

from rights.matching.catalogue import TextCatalogue
from rights.matching.content_words import content_words
from rights.matching.encoder import SentenceEncoder
from rights.matching.reading import PromptReading, read_prompt
from rights.matching.semantic_index import SemanticScore
from rights.matching.types import MatchKind, TextMatch


@dataclass(frozen=True)
class Thresholds:
    similarity_alone: float = 0.78
    words_alone: int = 4  # content words the prompt needs for similarity alone to count
    similarity_with_words: float = 0.40
    overlap_with_words: float = 3.0
    context_similarity: float = 0.55
    context_overlap: float = 1.5

    def describes(self, score: SemanticScore, *, prompt_words: int) -> bool:
        if score.similarity >= self.similarity_alone and prompt_words >= self.words_alone:
            return True
        return (
            score.similarity >= self.similarity_with_words
            and score.overlap >= self.overlap_with_words
        )

    def supports(self, score: SemanticScore | None) -> bool:
        """Whether the prompt is about the asset enough to read a plain common name as it."""
        return score is not None and (
            score.similarity >= self.context_similarity or score.overlap >= self.context_overlap
        )


class TextMatcher:
    """Matches prompts against a `TextCatalogue`; thread-safe."""

    def __init__(
        self,
        *,
        catalogue: TextCatalogue,
        encoder: SentenceEncoder,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.encoder = encoder
        self.thresholds = thresholds or Thresholds()

    def match(self, prompt: str) -> list[TextMatch]:
        """Every registered asset the prompt touches, once each, best evidence first."""
        return self.match_reading(read_prompt(prompt, encoder=self.encoder))

    def match_reading(self, reading: PromptReading) -> list[TextMatch]:
        """`match`, for a prompt already folded and embedded (`reading.read_prompt`)."""
        prompt = reading.text
        words = content_words(prompt)
        with self.catalogue.reading() as catalogue:
            hits = catalogue.names.find(reading.folded)
            scores = {
                score.asset_id: score
                for score in catalogue.semantic.search(reading.embedding, words)
            }
        matches: dict = {}
        for hit in hits:
            asset_id = hit.pattern.asset_id
            if hit.needs_context and not self.thresholds.supports(scores.get(asset_id)):
                continue
            if asset_id not in matches:
                matches[asset_id] = TextMatch(asset_id, hit.kind, 1.0, hit.start, hit.end)
        start, end = len(prompt) - len(prompt.lstrip()), len(prompt.rstrip())
        for asset_id, score in scores.items():
            if asset_id not in matches and self.thresholds.describes(
                score, prompt_words=len(words)
            ):
                matches[asset_id] = TextMatch(
                    asset_id, MatchKind.description, round(score.similarity, 4), start, end
                )
        return sorted(matches.values(), key=lambda match: -match.score)
