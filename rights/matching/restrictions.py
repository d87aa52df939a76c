"""The restriction check: which of an owner's restrictions in their own words a prompt breaks.

Each restriction ("never drinking alcohol") is unwrapped into what it forbids
(`policies.restrictions.forbidden_activities`: "drinking alcohol"), and each forbidden activity
is embedded once, as the mean of a few phrasings of it ("a video of someone drinking
alcohol", ...), with the content check's sentence model: a bare phrase of two words embeds
far from the prompts that show it, the phrasings pull it towards them. A prompt breaks the
restriction when

- **it reads unusually like it**: the prompt's embedding (the one the IP check computed: no
  model run per request) is closer to a forbidden activity than to the everyday scenes it is
  closest to (the content check's own measure against everyday life), by far more than the
  everyday scenes themselves are: that margin, less its mean over the everyday scenes read as
  prompts, in standard deviations of it, reaches ``unusual``; or
- **it shows the content category the restriction names**: a restriction that reads like one
  of `ContentCategory`'s descriptions ("no violence", "never in political content") is also
  broken by the content check's finding of that category, which has descriptions and words
  of its own for it.

Why the everyday scenes read as prompts: the bare margin is on a different scale for each
activity. The everyday scenes' margins spread wider for "a swimsuit" (standard deviation 0.10:
a beach, a pool, a fashion show read close to it, most scenes far) than for "religious
content" (0.08), so one bare margin for all denies ordinary prompts for the first and misses
breaking ones for the second. In those units one threshold serves every restriction, and an
owner's new one needs no labelled prompt, only the scenes the content check already has.

Restrictions are embedded when a policy version is saved (`prepare`) and when the app warms
up, and kept per text in this process (a policy version never changes, and the same words in
another version are the same restriction); a clearance compares the prompt's embedding with
them: a product of 384 numbers per forbidden activity. One a process has not seen yet (a
version saved by another process) is embedded on first use, once.

How well: on the held-out half of tests/policies/cases/restrictions.toml (see
tests/restriction_quality.py and the README), the sentence model alone tells a breaking
prompt from a respecting one only in part; ``unusual`` was chosen on the tuning half to deny
at most 3% of the prompts that respect a restriction.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from policies.document import ContentCategory
from policies.restrictions import forbidden_activities
from rights.matching.content_check import ContentCheck, ContentFinding
from rights.matching.encoder import SentenceEncoder

# How a forbidden activity is said, to embed it: the mean of these reads like prompts.
_PHRASINGS = (
    "{}",
    "a video of someone {}",
    "a person {}",
    "a scene with {}",
    "@someone {}",
)
_KEPT = 20_000  # restrictions kept embedded per process (about 8 KB each)


@dataclass(frozen=True)
class RestrictionThresholds:
    # How unusual the margin over the closest everyday scenes is, in standard deviations of
    # the everyday scenes' own margins. The lowest that denies at most 3% of the tuning half's
    # respecting prompts is 4.21 (3 of 125), with the fourth 0.007 below it; rounded up to the
    # next tenth (2 of 125), since the int8 graph is built where it runs and may move scores a
    # little between builds.
    unusual: float = 4.3
    everyday_neighbours: int = 8  # the content check's own count
    # A restriction names a content category when what it forbids reads this much like the
    # category's name ("no violence", "nothing sexual", "no politics"); "no kissing" (0.48 from
    # "sexual content") and "no crime" (0.60 from "violent content") do not.
    names_category: float = 0.62


@dataclass(frozen=True)
class _Prepared:
    activities: tuple[str, ...]
    vectors: npt.NDArray[np.float32]  # one unit row per activity
    # Per activity: the mean and standard deviation of its margin over the everyday scenes,
    # each scene read as a prompt (its closest scenes being the others).
    usual: npt.NDArray[np.float32]
    spread: npt.NDArray[np.float32]
    category: ContentCategory | None


class RestrictionCheck:
    """Embeds restrictions once and reads prompts against them; thread-safe."""

    def __init__(
        self,
        *,
        encoder: SentenceEncoder,
        content: ContentCheck,
        thresholds: RestrictionThresholds | None = None,
    ) -> None:
        self.encoder = encoder
        self.content = content
        self.thresholds = thresholds or RestrictionThresholds()
        self._prepared: OrderedDict[str, _Prepared] = OrderedDict()
        self._lock = threading.Lock()
        self._category_names: npt.NDArray[np.float32] | None = None
        self._everyday_closest: npt.NDArray[np.float32] | None = None

    def prepare(self, restrictions: Iterable[str]) -> None:
        """Embed the restrictions this process has not seen yet (a few ms each)."""
        for restriction in restrictions:
            self._get(restriction)

    def broken(
        self,
        restrictions: Iterable[str],
        *,
        embedding: npt.NDArray[np.float32],
        content: Iterable[ContentFinding],
    ) -> dict[str, str]:
        """The restrictions a prompt breaks, each with how, for a person ("it reads like
        “drinking alcohol”"). ``embedding``: the prompt's; ``content``: what the content check
        found in it."""
        found = {finding.category: finding for finding in content}
        everyday = self._everyday(embedding)
        broken = {}
        for restriction in dict.fromkeys(restrictions):
            prepared = self._get(restriction)
            if prepared.category is not None and prepared.category in found:
                broken[restriction] = (
                    f"it shows {prepared.category.label}: {found[prepared.category].explanation()}"
                )
                continue
            if not prepared.activities:
                continue
            unusual = _unusual(prepared, embedding, everyday)
            best = int(np.argmax(unusual))
            if unusual[best] >= self.thresholds.unusual:
                broken[restriction] = f"it reads like \u201c{prepared.activities[best]}\u201d"
        return broken

    def score(self, restriction: str, *, embedding: npt.NDArray[np.float32]) -> float:
        """How unusually much the prompt reads like what ``restriction`` forbids: what
        ``unusual`` is compared with (for calibrating it)."""
        prepared = self._get(restriction)
        if not prepared.activities:
            return float("-inf")
        return float(_unusual(prepared, embedding, self._everyday(embedding)).max())

    def named_category(self, restriction: str) -> ContentCategory | None:
        return self._get(restriction).category

    def _everyday(self, embedding: npt.NDArray[np.float32]) -> float:
        _, vectors = self.content.compared_texts()
        scenes = vectors[self.content.everyday_rows()] @ embedding
        return float(_mean_of_closest(scenes, self.thresholds.everyday_neighbours))

    def _everyday_scenes(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The everyday scenes' embeddings, and how much each reads like its closest others:
        a scene's own everyday baseline, read as a prompt."""
        _, vectors = self.content.compared_texts()
        scenes = vectors[self.content.everyday_rows()]
        closest = self._everyday_closest
        if closest is None:
            among = scenes @ scenes.T
            np.fill_diagonal(among, -np.inf)  # a scene is not its own neighbour
            closest = _mean_of_closest(among, self.thresholds.everyday_neighbours)
            self._everyday_closest = closest
        return scenes, closest

    def _get(self, restriction: str) -> _Prepared:
        with self._lock:
            prepared = self._prepared.get(restriction)
            if prepared is not None:
                self._prepared.move_to_end(restriction)
                return prepared
        prepared = self._embed(restriction)  # outside the lock: a model run per phrasing
        with self._lock:
            self._prepared[restriction] = prepared
            while len(self._prepared) > _KEPT:
                self._prepared.popitem(last=False)
        return prepared

    def _embed(self, restriction: str) -> _Prepared:
        activities = forbidden_activities(restriction)
        if not activities:
            none = np.zeros(0, np.float32)
            vectors = np.zeros((0, self.encoder.dimension), np.float32)
            return _Prepared((), vectors, none, none, None)
        rows = []
        for activity in activities:
            mean = self.encoder.encode([p.format(activity) for p in _PHRASINGS]).mean(axis=0)
            rows.append(mean / np.linalg.norm(mean))
        vectors = np.stack(rows).astype(np.float32)
        scenes, closest = self._everyday_scenes()
        margins = vectors @ scenes.T - closest  # (activity, scene)
        return _Prepared(
            activities,
            vectors,
            usual=margins.mean(axis=1),
            spread=margins.std(axis=1),
            category=self._category_named(self._bare(activities)),
        )

    def _bare(self, activities: tuple[str, ...]) -> npt.NDArray[np.float32]:
        """The activities as said, without phrasings: what a category's name is compared with."""
        return self.encoder.encode(list(activities))

    def _category_named(self, vectors: npt.NDArray[np.float32]) -> ContentCategory | None:
        """The content category the restriction names, if it names one."""
        names = self._category_names
        if names is None:  # embedded once: "sexual content", "sexual", "violent content", ...
            texts = [t for c in ContentCategory for t in (c.label, c.value.replace("_", " "))]
            names = self._category_names = self.encoder.encode(texts)
        similarities = (vectors @ names.T).max(axis=0)  # per name, over the activities
        best = int(np.argmax(similarities))
        if similarities[best] < self.thresholds.names_category:
            return None
        return list(ContentCategory)[best // 2]


def _unusual(
    prepared: _Prepared, embedding: npt.NDArray[np.float32], everyday: float
) -> npt.NDArray[np.float32]:
    """Per forbidden activity: the prompt's margin over its closest everyday scenes, less the
    everyday scenes' usual margin, in standard deviations of theirs."""
    return (prepared.vectors @ embedding - everyday - prepared.usual) / prepared.spread


def _mean_of_closest(similarities: npt.NDArray[np.float32], count: int) -> npt.NDArray:
    """The mean of the ``count`` highest similarities along the last axis."""
    return np.partition(similarities, -count, axis=-1)[..., -count:].mean(axis=-1)
