"""The content words of a text, reduced to rough stems, for counting words a prompt shares with
an asset's own texts ("red cap", "blue overalls", "moustache").

Lower-cased, accents removed, split on anything that is not a letter or digit, stop words and
the boilerplate of video prompts ("cinematic", "shot", "style") dropped, and a plural or verb
ending taken off so "mushrooms" meets "mushroom" and "jumping" meets "jumps". Crude on purpose:
the sentence model handles synonyms; this only has to notice the same words.
"""

import re
import unicodedata

_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "nor",
        "of",
        "in",
        "on",
        "at",
        "to",
        "with",
        "without",
        "for",
        "from",
        "by",
        "as",
        "into",
        "onto",
        "over",
        "under",
        "above",
        "below",
        "between",
        "through",
        "across",
        "along",
        "around",
        "about",
        "after",
        "before",
        "behind",
        "beside",
        "near",
        "off",
        "out",
        "up",
        "down",
        "who",
        "whom",
        "whose",
        "which",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "he",
        "him",
        "his",
        "she",
        "her",
        "hers",
        "they",
        "them",
        "their",
        "theirs",
        "we",
        "us",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "must",
        "not",
        "no",
        "so",
        "than",
        "then",
        "too",
        "very",
        "just",
        "also",
        "all",
        "any",
        "each",
        "every",
        "some",
        "such",
        "own",
        "same",
        "other",
        "only",
        "more",
        "most",
        "while",
        "where",
        "when",
        "what",
        "how",
        "why",
        "there",
        "here",
        "if",
        "once",
        "one",
        "two",
        "three",
        "s",
        "t",
        "shot",
        "scene",
        "style",
        "image",
        "video",
        "photo",
        "picture",
        "frame",
        "footage",
        "render",
        "cinematic",
        "realistic",
        "detailed",
        "quality",
        "high",
        "resolution",
        "hd",
        "4k",
        "8k",
        "closeup",
        "close",
        "wide",
        "view",
        "camera",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")
_STEM_LETTERS = 3


def _stem(word: str) -> str:
    """A light Porter-like stem: plural, then -ing/-ed, then a final e ("dancing", "dances" and
    "dance" all give "danc")."""
    if len(word) <= _STEM_LETTERS:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for ending in ("ing", "ed"):
        if word.endswith(ending) and not word.endswith("eed"):
            stem = word[: -len(ending)]
            if len(stem) >= _STEM_LETTERS:
                if len(stem) > _STEM_LETTERS and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                    stem = stem[:-1]  # "running" -> "run"
                word = stem
            break
    if word.endswith("e") and len(word) > _STEM_LETTERS:
        word = word[:-1]
    return word


def content_words(text: str) -> frozenset[str]:
    """The stems of the words in ``text`` that carry its content."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return frozenset(
        _stem(word) for word in _WORD.findall(plain) if word not in _STOP_WORDS and len(word) > 1
    )
