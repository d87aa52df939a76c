"""Names, aliases and handles found in prompts however they are written, at word boundaries,
with spans that point at the prompt as given."""

import uuid

import pytest

from rights.matching.folding import fold_prompt
from rights.matching.name_index import NameIndex
from rights.matching.types import MatchKind

SPONGE = uuid.uuid4()
COMET = uuid.uuid4()
LINK = uuid.uuid4()
THOR = uuid.uuid4()
NEMO = uuid.uuid4()
ALICE = uuid.uuid4()
MIRAGE = uuid.uuid4()


@pytest.fixture(scope="module")
def index() -> NameIndex:
    names = NameIndex()
    names.put(SPONGE, [(MatchKind.name, "Spongewick"), (MatchKind.handle, "spongewick")])
    names.put(
        COMET,
        [
            (MatchKind.name, "Captain Comet"),
            (MatchKind.alias, "The Comet Captain"),
            (MatchKind.handle, "captain_comet"),
        ],
    )
    names.put(LINK, [(MatchKind.name, "Link"), (MatchKind.handle, "hero_of_hyrule")])
    names.put(THOR, [(MatchKind.name, "Thor")])
    names.put(NEMO, [(MatchKind.name, "Captain Nemo"), (MatchKind.alias, "Nemo")])
    names.put(ALICE, [(MatchKind.name, "Alice")])
    names.put(MIRAGE, [(MatchKind.name, "Madame Mirage"), (MatchKind.alias, "Mirage")])
    return names


def found(index: NameIndex, prompt: str) -> dict[uuid.UUID, str]:
    """Assets found without needing the prompt to describe them, with the text matched."""
    return {
        hit.pattern.asset_id: prompt[hit.start : hit.end]
        for hit in index.find(fold_prompt(prompt))
        if not hit.needs_context
    }


DODGES = [
    ("plain", "Spongewick flipping burgers", "Spongewick"),
    ("case", "SPONGEWICK flipping burgers", "SPONGEWICK"),
    ("spaced out", "S p o n g e w i c k flipping burgers", "S p o n g e w i c k"),
    ("dotted", "a poster of S.p.o.n.g.e.w.i.c.k", "S.p.o.n.g.e.w.i.c.k"),
    ("leetspeak", "Sp0ng3w1ck flipping burgers", "Sp0ng3w1ck"),
    ("leet symbols", "$pongew!ck at the diner", "$pongew!ck"),
    ("joined words", "captaincomet over the moon", "captaincomet"),
    ("hyphenated", "Captain-Comet over the moon", "Captain-Comet"),
    ("underscored", "captain_comet over the moon", "captain_comet"),
    ("split name", "Sponge wick at the diner", "Sponge wick"),
    ("camel case", "a still of CaptainComet", "CaptainComet"),
    ("homoglyphs", "Sp\u043engew\u0456ck at the diner", "Sp\u043engew\u0456ck"),  # Cyrillic o and i
    ("accents", "Sp\u00f6ng\u00e9wick at the diner", "Sp\u00f6ng\u00e9wick"),
    (
        "full width",
        "\uff33\uff50\uff4f\uff4e\uff47\uff45\uff57\uff49\uff43\uff4b at the diner",
        "\uff33\uff50\uff4f\uff4e\uff47\uff45\uff57\uff49\uff43\uff4b",
    ),
    ("invisible characters", "Sponge\u200bwi\u00adck at the diner", "Sponge\u200bwi\u00adck"),
    ("possessive", "Spongewick's first day", "Spongewick"),
    ("curly possessive", "Captain Comet\u2019s rocket", "Captain Comet"),
    ("possessive without apostrophe", "Spongewicks first day", "Spongewick"),
    ("hashtag", "#Spongewick fan art", "Spongewick"),
    ("camel-case hashtag", "#CaptainComet fan art", "CaptainComet"),
    ("inside a hashtag", "#spongewickfanart", "spongewick"),
    ("alias", "the comet captain returns", "comet captain"),
]


@pytest.mark.parametrize(("dodge", "prompt", "written"), DODGES, ids=[d[0] for d in DODGES])
def test_a_disguised_name_is_found_and_its_span_is_the_text_as_written(
    index, dodge, prompt, written
):
    matches = found(index, prompt)
    assert set(matches) <= {SPONGE, COMET}, matches
    assert len(matches) == 1, f"{dodge}: {matches}"
    assert written in next(iter(matches.values()))


@pytest.mark.parametrize(
    ("prompt", "written"),
    [("here is The Comet Captain again", "The Comet Captain"), ("Comet Captain!", "Comet Captain")],
)
def test_an_alias_is_found_with_or_without_its_article(index, prompt, written):
    (hit,) = [h for h in index.find(fold_prompt(prompt)) if h.pattern.asset_id == COMET]
    assert hit.kind == MatchKind.alias
    assert prompt[hit.start : hit.end] == written


def test_an_at_handle_is_reported_as_a_handle():
    index = NameIndex()
    index.put(COMET, [(MatchKind.name, "Captain Comet"), (MatchKind.handle, "captain_comet")])
    prompt = "a cameo by @captain_comet tonight"
    (hit,) = index.find(fold_prompt(prompt))
    assert hit.kind == MatchKind.handle
    assert prompt[hit.start : hit.end] == "captain_comet"
    (plain,) = index.find(fold_prompt("a cameo by Captain Comet"))
    assert plain.kind == MatchKind.name


@pytest.mark.parametrize(
    "prompt",
    [
        "a sponge and a wick on a table",
        "spongewickerwork basket",
        "the comet and the captain",
        "a pink blinking light",
        "linking the two scenes",
        "the author of the thorough report",
        "a lemon tree",
        "a lice comb",
        "a malice of crows",
    ],
)
def test_a_name_inside_other_words_is_not_found(index, prompt):
    assert index.find(fold_prompt(prompt)) == []


@pytest.mark.parametrize(
    "prompt",
    [
        "click the link below for the recipe",
        "a chain link fence in the rain",
        "Link the two clips together",  # capitalised, but it starts the sentence
        "A Link In The Chain Of Command",  # title case proves nothing
        "a statue of thor in a museum",
        "a clownfish named Nemo",  # a common name: a capital proves nothing
        "nemo, the latin for nobody",
        "my friend alice at her birthday",
        "a mirage over the desert road",
    ],
)
def test_a_name_that_is_an_ordinary_word_needs_more_than_the_word(index, prompt):
    hits = index.find(fold_prompt(prompt))
    assert hits, "the word is there; the matcher decides with the rest of the prompt"
    assert all(hit.needs_context for hit in hits)


@pytest.mark.parametrize(
    ("prompt", "asset"),
    [
        ("L1nk with a sword", LINK),
        ("L i n k with a sword", LINK),
        ("#Link cosplay", LINK),
        ("a portrait of Link in the forest", LINK),  # an ordinary word, capitalised mid-sentence
        ("Th0r with a hammer", THOR),
        ("T.h.o.r with a hammer", THOR),
        ("N\u0435mo at the organ", NEMO),  # Cyrillic e
        ("Captain Nemo at the organ", NEMO),  # the full name is distinctive
        ("Al1ce at the tea party", ALICE),
        ("a portrait of Mirage, the magician", MIRAGE),
        ("@hero_of_hyrule in a cameo", LINK),
    ],
)
def test_an_ordinary_word_name_counts_when_disguised_marked_or_capitalised(index, prompt, asset):
    assert asset in found(index, prompt)


def test_a_name_spelled_out_needs_three_single_letters_in_a_row(index):
    assert ALICE not in found(index, "a lice comb")
    assert ALICE in found(index, "A l i c e at the tea party")


def test_names_of_a_removed_asset_are_no_longer_found():
    index = NameIndex()
    index.put(SPONGE, [(MatchKind.name, "Spongewick")])
    index.put(COMET, [(MatchKind.name, "Captain Comet")])
    index.remove(SPONGE)
    assert index.find(fold_prompt("Spongewick and Captain Comet"))[0].pattern.asset_id == COMET
    index.put(COMET, [(MatchKind.name, "Major Meteor")])  # renamed
    assert index.find(fold_prompt("Captain Comet")) == []
    assert len(index.find(fold_prompt("Major Meteor"))) == 1


def test_spans_map_back_through_folding_that_changes_lengths():
    # A ligature, full-width letters, and a sharp s that folds to two letters.
    prompt = "\ufb01nd \uff33\uff50\uff4f\uff4e\uff47\uff45 in the \u00dftreet"
    folded = fold_prompt(prompt)
    assert folded.letters.startswith("flnd")
    for word in folded.words:
        start, end = folded.span(word.start, word.end)
        written = prompt[start:end]
        assert fold_prompt(written).letters == folded.letters[word.start : word.end]
