"""The content check: which content categories a prompt shows, whatever the requester declares.

The categories and what each covers are `policies.document.ContentCategory`; what each reads
like is `content_descriptions.toml`. A category is found in a prompt by either of:

- **words**: one of the category's unambiguous words or phrases ("beheaded", "sieg heil",
  "money laundering"), looked up in the folded prompt by the IP check's name index, so with
  word boundaries and through the same dodges as a name (spaced out, leetspeak, look-alike
  letters, accents, hashtags): "b3h3aded" and "B E H E A D E D" count, and "heroine" is not
  "heroin";
- **description**: the prompt's embedding (the one the IP check computed: one model run per
  request) reads more like the category's descriptions than like everyday scenes, by at least
  the category's ``margin``: the mean similarity of its ``neighbours`` closest descriptions of
  the category, less that of its closest everyday scenes. Measuring against everyday scenes
  rather than alone is what tells "a butcher cutting steaks" (close to an animal slaughtered,
  closer still to the butcher of the everyday scenes) from a slaughter. A prompt far from
  everything everyday tends to clear that bar for several categories at once, so a category is
  taken only if the prompt reads nearly as much like it as like its closest category
  (``behind_closest``); a prompt may still show several ("neo-nazis beating an immigrant").

A prompt of few words of content (`content_words`) reads like little, and its margins say
little: "x", "a video" or "black" sit far from every everyday scene and near some description
by chance. One with no word of content ("x", "", an emoji, "a video") is judged by its words
only; one of one or two words must clear each margin by ``short_prompt_margins`` more ("a bed"
is not sexual, "nude woman" is). The names of the assets a clearance's prompt touches say who
is in it, not what it shows, so they are not counted, and when what is left beside them is
that short, it is read alone ("@captain_test a video" is "a video"): a second run of the
model, on a few words.

The margins were chosen on the development half of the labelled set (tests/content_quality.py,
tests/rights/matching/cases/content_categories.toml), each the highest margin of an ordinary
prompt there plus 0.02 (at least 0.02), and are checked on the held-out half; the short prompts'
raises likewise, per number of words of content, from its short ordinary prompts. A prompt's
check is one product of its embedding with the texts (about 1,120 x 384) and the name index's
lookups: about a tenth of a millisecond. The texts are embedded once per model and kept beside
the model's graph in the encoder's cache folder.

What it cannot see: one embedding reads the whole prompt, so one violent sentence in a long,
peaceful paragraph weighs less than it would alone; coded language that appears in none of the
descriptions and no vocabulary ("a crowd singing songs about the showers") is missed.
"""

import hashlib
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from policies.document import ContentCategory
from rights.matching.content_descriptions import CATEGORIES, EVERYDAY
from rights.matching.content_words import content_words
from rights.matching.encoder import SentenceEncoder
from rights.matching.name_index import NameIndex
from rights.matching.reading import PromptReading, read_prompt
from rights.matching.types import MatchKind

DEFAULT_MARGINS: Mapping[ContentCategory, float] = MappingProxyType(
    {
        ContentCategory.sexual: 0.044,
        ContentCategory.violence: 0.02,
        ContentCategory.hate: 0.02,
        ContentCategory.harassment: 0.02,
        ContentCategory.political: 0.02,
        ContentCategory.self_harm: 0.02,
        ContentCategory.illegal_activity: 0.022,
    }
)
# Per words of content: how much more a prompt that short must read like a category. Each is
# the highest margin over its category's of a short ordinary prompt of the development half
# ("black": hate by 0.063; "a sad song": self-harm by 0.003), plus 0.02.
SHORT_PROMPT_MARGINS: Mapping[int, float] = MappingProxyType({1: 0.083, 2: 0.023})


@dataclass(frozen=True)
class ContentThresholds:
    neighbours: int = 5  # a category's closest descriptions, averaged into its similarity
    everyday_neighbours: int = 8  # the closest everyday scenes, averaged likewise
    # A category found by description reads within this of the category the prompt reads most
    # like: "a man smashes a stranger's head against a wall" reads like violence, and a little
    # like self-harm's "banging his head against the wall", which does not make it self-harm.
    behind_closest: float = 0.1
    margins: Mapping[ContentCategory, float] = field(default_factory=lambda: DEFAULT_MARGINS)
    short_prompt_margins: Mapping[int, float] = field(default_factory=lambda: SHORT_PROMPT_MARGINS)


class EvidenceKind(StrEnum):
    word = "word"  # one of the category's words, as written in the prompt
    description = "description"  # the prompt reads like the category's descriptions


@dataclass(frozen=True)
class ContentEvidence:
    """Why a category was found: ``text`` is the word as written in the prompt (at ``start``,
    ``end``), or the category's description the prompt reads most like, with ``score`` its
    margin over everyday scenes."""

    kind: EvidenceKind
    text: str
    start: int | None = None
    end: int | None = None
    score: float | None = None

    def sentence(self) -> str:
        if self.kind == EvidenceKind.word:
            return f"it says \u201c{self.text}\u201d"
        return f"it reads like \u201c{self.text}\u201d"


@dataclass(frozen=True)
class ContentFinding:
    category: ContentCategory
    evidence: tuple[ContentEvidence, ...]

    def explanation(self) -> str:
        """How the prompt shows it, for a person: "it says “beheaded”"."""
        return "; ".join(evidence.sentence() for evidence in self.evidence)


@dataclass(frozen=True)
class _Vocabulary:
    index: NameIndex
    entries: Mapping[uuid.UUID, ContentCategory]


@dataclass(frozen=True)
class _Descriptions:
    vectors: npt.NDArray[np.float32]  # every category's descriptions, then the everyday scenes
    rows: Mapping[ContentCategory, slice]
    everyday: slice
    texts: tuple[str, ...]


class ContentCheck:
    """Finds the content categories of prompts; thread-safe, built on first use."""

    def __init__(
        self, *, encoder: SentenceEncoder, thresholds: ContentThresholds | None = None
    ) -> None:
        self.encoder = encoder
        self.thresholds = thresholds or ContentThresholds()
        self._built: tuple[_Vocabulary, _Descriptions] | None = None
        self._lock = threading.Lock()

    def find(self, prompt: str) -> list[ContentFinding]:
        """The categories ``prompt`` shows, in the order of `ContentCategory`."""
        return self.find_in_reading(read_prompt(prompt, encoder=self.encoder))

    def find_in_reading(
        self, reading: PromptReading, *, names: Sequence[tuple[int, int]] = ()
    ) -> list[ContentFinding]:
        """`find`, for a prompt already folded and embedded; ``names``: where the prompt names
        the assets it touches (``[start, end)``), which are not read for what it shows."""
        vocabulary, descriptions = self._build()
        evidence: dict[ContentCategory, list[ContentEvidence]] = {}
        spans = {
            (hit.start, hit.end): vocabulary.entries[hit.pattern.asset_id]
            for hit in vocabulary.index.find(reading.folded)
        }  # one per stretch of the prompt: "neo-nazi" is both "neo nazi" and "neonazi"
        for (start, end), category in sorted(spans.items()):
            evidence.setdefault(category, []).append(
                ContentEvidence(EvidenceKind.word, reading.text[start:end], start, end)
            )
        read = self._what_to_read(reading, names)
        if read is not None:
            for category, description in self._described(descriptions, *read).items():
                evidence.setdefault(category, []).append(description)
        return [
            ContentFinding(category, tuple(evidence[category]))
            for category in ContentCategory
            if category in evidence
        ]

    def _what_to_read(
        self, reading: PromptReading, names: Sequence[tuple[int, int]]
    ) -> tuple[npt.NDArray[np.float32], float] | None:
        """The embedding to compare with the descriptions and how much the margins are raised
        for it, by the prompt's words of content beside the names; None with no such word."""
        pieces, after = [], 0
        for start, end in sorted(names):
            pieces.append(reading.text[after:start])
            after = max(after, end)
        tokens = " ".join([*pieces, reading.text[after:]]).split()
        rest = " ".join(token for token in tokens if any(c.isalnum() for c in token))  # no "@"
        words = len(content_words(rest))
        if words == 0:
            return None
        raised_by = self.thresholds.short_prompt_margins.get(words)
        if raised_by is None:
            return reading.embedding, 0.0
        if names:
            return self.encoder.encode_one(rest), raised_by
        return reading.embedding, raised_by

    def _described(
        self, descriptions: _Descriptions, embedding: npt.NDArray[np.float32], raised_by: float
    ) -> dict[ContentCategory, ContentEvidence]:
        """The categories the embedding reads like, each with its closest description."""
        thresholds = self.thresholds
        similarities = descriptions.vectors @ embedding
        everyday = _mean_of_closest(
            similarities[descriptions.everyday], thresholds.everyday_neighbours
        )
        reads_like = {
            category: _mean_of_closest(similarities[rows], thresholds.neighbours)
            for category, rows in descriptions.rows.items()
        }
        closest_category = max(reads_like.values())
        found = {}
        for category, rows in descriptions.rows.items():
            margin = reads_like[category] - everyday
            if (
                margin >= thresholds.margins[category] + raised_by
                and reads_like[category] >= closest_category - thresholds.behind_closest
            ):
                closest = descriptions.texts[rows.start + int(np.argmax(similarities[rows]))]
                found[category] = ContentEvidence(
                    EvidenceKind.description, closest, score=round(margin, 4)
                )
        return found

    def load(self) -> None:
        """Build the vocabulary and embed the descriptions now, rather than on the first
        prompt."""
        self._build()

    def compared_texts(self) -> tuple[tuple[str, ...], npt.NDArray[np.float32]]:
        """Every text prompts are compared with (descriptions, then everyday scenes), and
        their embeddings, row for row."""
        descriptions = self._build()[1]
        return descriptions.texts, descriptions.vectors

    def everyday_rows(self) -> slice:
        """Where the everyday scenes are among `compared_texts`."""
        return self._build()[1].everyday

    def reads_like(self, embedding: npt.NDArray[np.float32]) -> dict[ContentCategory, float]:
        """How much a text reads like each category: the mean similarity of its closest
        descriptions (what `find_in_reading` compares)."""
        descriptions = self._build()[1]
        similarities = descriptions.vectors @ embedding
        return {
            category: _mean_of_closest(similarities[rows], self.thresholds.neighbours)
            for category, rows in descriptions.rows.items()
        }

    def _build(self) -> tuple[_Vocabulary, _Descriptions]:
        built = self._built
        if built is None:
            with self._lock:
                built = self._built
                if built is None:
                    built = self._built = (_vocabulary(), _descriptions(self.encoder))
        return built


def _mean_of_closest(similarities: npt.NDArray[np.float32], count: int) -> float:
    count = min(count, len(similarities))
    return float(np.partition(similarities, -count)[-count:].mean())


def _vocabulary() -> _Vocabulary:
    index = NameIndex()
    entries = {}
    for texts in CATEGORIES:
        for word in texts.words:
            entry = uuid.uuid5(uuid.NAMESPACE_URL, f"clearhouse-content/{texts.category}/{word}")
            index.put(entry, [(MatchKind.name, word)])
            entries[entry] = texts.category
    return _Vocabulary(index=index, entries=entries)


_embedded: dict[Path, npt.NDArray[np.float32]] = {}
_embedding_lock = threading.Lock()


def _descriptions(encoder: SentenceEncoder) -> _Descriptions:
    texts: list[str] = []
    rows = {}
    for category in CATEGORIES:
        rows[category.category] = slice(len(texts), len(texts) + len(category.descriptions))
        texts.extend(category.descriptions)
    everyday = slice(len(texts), len(texts) + len(EVERYDAY))
    texts.extend(EVERYDAY)
    return _Descriptions(
        vectors=_embeddings(encoder, texts), rows=rows, everyday=everyday, texts=tuple(texts)
    )


def _embeddings(encoder: SentenceEncoder, texts: list[str]) -> npt.NDArray[np.float32]:
    """The texts' embeddings: kept in the encoder's cache folder, per model and texts, so a
    process computes them (a few seconds) only the first time these descriptions are used."""
    digest = hashlib.sha256("\n".join([encoder.model_key, *texts]).encode()).hexdigest()[:16]
    path = Path(encoder.cache_dir) / f"content-descriptions-{digest}.npy"
    with _embedding_lock:
        vectors = _embedded.get(path)
        if vectors is None:
            if path.exists():
                vectors = np.load(path)
            else:
                vectors = encoder.encode(texts)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                partial = path.with_suffix(f".{os.getpid()}.npy")
                np.save(partial, vectors)
                partial.replace(path)
            _embedded[path] = vectors
    return vectors
