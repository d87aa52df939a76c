"""Registered names, aliases and handles found in a folded prompt, however they are disguised.

Every name is kept as its skeleton (folded as prompts are) in a dict. A prompt is folded once
(`folding.fold_prompt`); the index then looks up every stretch of it that starts at the start
of a word and ends at the end of one (or before a possessive or plural "s"/"es"), up to the
longest name: a few hundred dict lookups for a long prompt, whatever the number of names.

A stretch may run over several words of the prompt only where the name itself has a word break
there ("Captain-Comet", "captain comet"), where the letters are spelled out one by one
("S p o n g e w i c k", at least three single letters in a row), or, for a distinctive name,
between two words of three letters or more ("Sponge wick"); so "a lice" is not "Alice". Inside
a hashtag, a distinctive name of six letters or more is found anywhere ("#spongewickfanart").

A name that is also an ordinary word or a common name (`vocabulary.ambiguity`) is reported with
the evidence that it means the asset: written in disguise, as a hashtag or handle, or (an
ordinary word) capitalised in the middle of a sentence. Without any, the matcher still takes
it when the rest of the prompt describes the asset (see `matcher.py`).
"""

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rights.matching.folding import FoldedPrompt, Word, fold_prompt
from rights.matching.types import MatchKind
from rights.matching.vocabulary import ARTICLES, Ambiguity, ambiguity

SPELLED_OUT_RUN = 3  # single letters in a row that read as a name spelled out
JOINED_WORD_LETTERS = 3  # both sides of a break inside a distinctive name are this long
HASHTAG_NAME_LETTERS = 6  # a distinctive name this long is found anywhere inside a hashtag
TITLE_CASE_SHARE = 0.6  # past this share of capitalised words, a capital proves nothing
_SENTENCE_END = re.compile(r"[.!?;:\n]\s*[\"'\u201c\u2018(]*\s*$")


@dataclass(frozen=True)
class NamePattern:
    """One name, alias or handle of an asset, as the index looks it up."""

    asset_id: uuid.UUID
    kind: MatchKind
    surface: str  # as the owner wrote it
    word_breaks: frozenset[int]  # letter offsets where the name itself breaks between words
    ambiguity: Ambiguity | None


@dataclass(frozen=True)
class NameHit:
    """A pattern found at letters ``[start, end)`` of the folded prompt."""

    pattern: NamePattern
    start: int  # in the prompt as given
    end: int
    disguised: bool  # not written plainly (digits, look-alikes, spaced out, accents added)
    marker: str | None  # "hashtag" or "handle" when written after '#' or '@'
    capitalised_mid_sentence: bool

    @property
    def kind(self) -> MatchKind:
        """The pattern's kind; a name written as an @handle is reported as a handle."""
        return MatchKind.handle if self.marker == "handle" else self.pattern.kind

    @property
    def needs_context(self) -> bool:
        """An ambiguous name written plainly: the prompt must describe the asset too."""
        ambiguity = self.pattern.ambiguity
        if ambiguity is None or self.disguised or self.marker is not None:
            return False
        return not (ambiguity == Ambiguity.word and self.capitalised_mid_sentence)


def _pattern(asset_id: uuid.UUID, kind: MatchKind, surface: str) -> tuple[str, NamePattern]:
    folded = fold_prompt(surface)
    breaks = frozenset(word.start for word in folded.words[1:])
    return folded.letters, NamePattern(
        asset_id=asset_id,
        kind=kind,
        surface=surface,
        word_breaks=breaks,
        ambiguity=ambiguity(surface),
    )


def _with_articles_dropped(
    names: Iterable[tuple[MatchKind, str]],
) -> list[tuple[MatchKind, str]]:
    """Each name, and also without a leading article: "The Comet Captain", "Comet Captain"."""
    spelled = []
    for kind, surface in names:
        spelled.append((kind, surface))
        first, _, rest = surface.strip().partition(" ")
        if first.casefold() in ARTICLES and rest.strip():
            spelled.append((kind, rest.strip()))
    return spelled


def _plain(text: str) -> str:
    """Case-folded, with every run of separators one space: how a name is written plainly."""
    return " ".join(re.split(r"[\W_]+", text.casefold())).strip()


class NameIndex:
    """Names, aliases and handles of every asset, by skeleton. Not thread-safe on its own:
    `catalogue.TextCatalogue` guards it with a read-write lock."""

    def __init__(self) -> None:
        self._patterns: dict[str, list[NamePattern]] = defaultdict(list)
        self._skeletons_of: dict[uuid.UUID, list[str]] = {}
        self._longest = 0

    def put(self, asset_id: uuid.UUID, names: Iterable[tuple[MatchKind, str]]) -> None:
        """Make these names of the asset findable, in place of any it had."""
        self.remove(asset_id)
        skeletons = []
        for kind, surface in _with_articles_dropped(names):
            skeleton, pattern = _pattern(asset_id, kind, surface)
            if skeleton:
                self._patterns[skeleton].append(pattern)
                skeletons.append(skeleton)
                self._longest = max(self._longest, len(skeleton))
        self._skeletons_of[asset_id] = skeletons

    def remove(self, asset_id: uuid.UUID) -> None:
        for skeleton in self._skeletons_of.pop(asset_id, ()):
            kept = [p for p in self._patterns[skeleton] if p.asset_id != asset_id]
            if kept:
                self._patterns[skeleton] = kept
            else:
                del self._patterns[skeleton]

    def holders(self, surface: str) -> list[NamePattern]:
        """The names of any asset that fold to the same skeleton as ``surface`` (or as it
        without a leading article): the same name, however it is written."""
        return [
            pattern
            for _, spelling in _with_articles_dropped([(MatchKind.name, surface)])
            for pattern in self._patterns.get(fold_prompt(spelling).letters, ())
        ]

    def find(self, prompt: FoldedPrompt) -> list[NameHit]:
        """Every name in the prompt, each at its longest stretch."""
        hits: list[NameHit] = []
        letters, words = prompt.letters, prompt.words
        if not self._patterns:
            return hits
        starts = {word.start: index for index, word in enumerate(words)}
        ends = {word.end: index for index, word in enumerate(words)}
        for first_index, first in enumerate(words):
            for last_index in range(first_index, len(words)):
                end = words[last_index].end
                if end - first.start > self._longest + 2:
                    break
                for stop in self._stops(letters, first.start, end):
                    for pattern in self._patterns.get(letters[first.start : stop], ()):
                        if self._joins_well(pattern, words, first_index, last_index):
                            hits.append(self._hit(prompt, pattern, first.start, stop, first))
        hits.extend(self._inside_hashtags(prompt, starts, ends))
        return _longest_per_asset(hits)

    def _stops(self, letters: str, start: int, end: int) -> list[int]:
        """Where a name may end: at the word's end, or before a possessive/plural s or es."""
        stops = [end]
        if end - start > 3 and letters[end - 1] == "s":
            stops.append(end - 1)
            if letters[end - 2] == "e":
                stops.append(end - 2)
        return stops

    def _joins_well(
        self,
        pattern: NamePattern,
        words: tuple[Word, ...],
        first: int,
        last: int,
    ) -> bool:
        origin = words[first].start
        for index in range(first + 1, last + 1):
            offset = words[index].start - origin
            if offset in pattern.word_breaks:
                continue
            left, right = words[index - 1], words[index]
            if _in_spelled_out_run(words, index - 1) and _in_spelled_out_run(words, index):
                continue
            if (
                pattern.ambiguity is None
                and left.end - left.start >= JOINED_WORD_LETTERS
                and right.end - right.start >= JOINED_WORD_LETTERS
            ):
                continue
            return False
        return True

    def _inside_hashtags(
        self, prompt: FoldedPrompt, starts: dict[int, int], ends: dict[int, int]
    ) -> list[NameHit]:
        hits = []
        for begin, finish in _hashtag_stretches(prompt.words):
            for start in range(begin, finish):
                for stop in range(start + HASHTAG_NAME_LETTERS, finish + 1):
                    if stop - start > self._longest:
                        break
                    if start in starts and stop in ends:
                        continue  # at word edges: found by `find` already
                    for pattern in self._patterns.get(prompt.letters[start:stop], ()):
                        if pattern.ambiguity is None:
                            word = prompt.words[_word_at(prompt.words, start)]
                            hits.append(self._hit(prompt, pattern, start, stop, word))
        return hits

    def _hit(
        self, prompt: FoldedPrompt, pattern: NamePattern, start: int, stop: int, first: Word
    ) -> NameHit:
        span_start, span_end = prompt.span(start, stop)
        written = prompt.original[span_start:span_end]
        return NameHit(
            pattern=pattern,
            start=span_start,
            end=span_end,
            disguised=_plain(written) != _plain(pattern.surface) or not written.isascii(),
            marker=first.marker,
            capitalised_mid_sentence=first.capitalised
            and not _starts_sentence(prompt.original, span_start)
            and not _title_case(prompt),
        )


def _in_spelled_out_run(words: tuple[Word, ...], index: int) -> bool:
    """Whether word ``index`` is one of at least SPELLED_OUT_RUN single letters in a row."""

    def single(i: int) -> bool:
        return 0 <= i < len(words) and words[i].characters == 1

    if not single(index):
        return False
    low = high = index
    while single(low - 1):
        low -= 1
    while single(high + 1):
        high += 1
    return high - low + 1 >= SPELLED_OUT_RUN


def _hashtag_stretches(words: tuple[Word, ...]) -> list[tuple[int, int]]:
    """[start, end) letters of each hashtag (its words written without spaces between)."""
    stretches: list[tuple[int, int]] = []
    for word in words:
        if word.marker != "hashtag":
            continue
        if stretches and stretches[-1][1] == word.start:
            stretches[-1] = (stretches[-1][0], word.end)
        else:
            stretches.append((word.start, word.end))
    return stretches


def _word_at(words: tuple[Word, ...], letter: int) -> int:
    return next(i for i, word in enumerate(words) if word.start <= letter < word.end)


def _starts_sentence(text: str, position: int) -> bool:
    before = text[:position]
    return not before.strip() or _SENTENCE_END.search(before) is not None


def _title_case(prompt: FoldedPrompt) -> bool:
    longer = [word for word in prompt.words if word.end - word.start > 3]
    if len(longer) < 3:
        return False
    return sum(word.capitalised for word in longer) / len(longer) > TITLE_CASE_SHARE


_KIND_ORDER = {MatchKind.name: 2, MatchKind.alias: 1, MatchKind.handle: 0}


def _longest_per_asset(hits: list[NameHit]) -> list[NameHit]:
    """Per asset, the best hit that needs no context and the best that does: the longest,
    then the one whose kind is as written (an @handle), then name over alias over handle."""
    best: dict[tuple[uuid.UUID, bool], NameHit] = {}

    def rank(hit: NameHit) -> tuple[int, bool, int, int]:
        as_written = hit.kind == hit.pattern.kind
        return hit.end - hit.start, as_written, _KIND_ORDER[hit.pattern.kind], -hit.start

    for hit in hits:
        key = (hit.pattern.asset_id, hit.needs_context)
        if key not in best or rank(hit) > rank(best[key]):
            best[key] = hit
    return list(best.values())
