"""The content check with the real sentence model: a category's words found through the dodges
a name is found through and only as whole words, a prompt that reads like a category found by
description, and what each finding says about why."""

import numpy as np
import pytest

from policies.document import ContentCategory
from rights.matching.content_check import (
    ContentCheck,
    ContentThresholds,
    EvidenceKind,
)
from rights.matching.content_descriptions import CATEGORIES, EVERYDAY
from rights.matching.encoder import SentenceEncoder
from rights.matching.reading import read_prompt


@pytest.fixture(scope="module")
def check() -> ContentCheck:
    return ContentCheck(encoder=SentenceEncoder())


def _categories(check: ContentCheck, prompt: str) -> set[ContentCategory]:
    return {finding.category for finding in check.find(prompt)}


@pytest.mark.parametrize(
    ("prompt", "written"),
    [
        ("a knight beheaded in the courtyard", "beheaded"),
        ("a knight b3h3aded in the courtyard", "b3h3aded"),
        ("a knight B E H E A D E D in the courtyard", "B E H E A D E D"),
        ("a knight b\u0435he\u0430ded in the courtyard", "b\u0435he\u0430ded"),  # Cyrillic e, a
        ("the #beheading of a knight", "beheading"),
    ],
)
def test_a_word_of_a_category_is_found_however_it_is_written(check, prompt, written):
    (finding,) = [f for f in check.find(prompt) if f.category == ContentCategory.violence]
    (word,) = [e for e in finding.evidence if e.kind == EvidenceKind.word]
    assert word.text == written == prompt[word.start : word.end]


def test_a_word_is_found_only_whole():
    # "heroine" is not "heroin", "swordsmanship" holds no "orgy": nothing but the words is
    # looked at here, so the sentence model cannot hide a wrong word match.
    check = ContentCheck(
        encoder=SentenceEncoder(),
        thresholds=ContentThresholds(margins=dict.fromkeys(ContentCategory, 1.0)),
    )
    assert check.find("the heroine of the story practising swordsmanship") == []
    (finding,) = check.find("a heroin addict in a doorway")
    assert finding.category == ContentCategory.illegal_activity
    assert [(e.text, e.start, e.end) for e in finding.evidence] == [("heroin", 2, 8)]


def test_a_prompt_that_reads_like_a_category_is_found_by_description(check):
    prompt = "a soldier stabs a prisoner over and over while the others watch"
    (finding,) = check.find(prompt)
    assert finding.category == ContentCategory.violence
    (evidence,) = finding.evidence
    assert evidence.kind == EvidenceKind.description
    violence = next(texts for texts in CATEGORIES if texts.category == ContentCategory.violence)
    assert evidence.text in violence.descriptions
    assert evidence.score >= ContentThresholds().margins[ContentCategory.violence]
    assert finding.explanation() == f"it reads like \u201c{evidence.text}\u201d"


@pytest.mark.parametrize(
    "prompt",
    [
        "a bloody mary cocktail with a celery stick on a brunch table",
        "two boxers trading punches in the final round of a title fight",
        "a politician's birthday party with balloons",  # a party, not the politics
        "a mother breastfeeding her newborn in a rocking chair",
        "a surgeon making the first incision in an operating theatre",
    ],
)
def test_everyday_scenes_close_to_a_category_are_not_in_it(check, prompt):
    # "a politician's birthday party" names a politician, and politicians count as political
    # content (policies.document.ContentCategory); read here only for the word "party".
    assert _categories(check, prompt) - {ContentCategory.political} == set()


def test_several_categories_are_found_in_one_prompt(check):
    found = _categories(check, "a gang of neo-nazis beating an immigrant to death in the street")
    assert {ContentCategory.violence, ContentCategory.hate} <= found


def test_a_category_the_prompt_reads_far_less_like_than_its_closest_is_not_taken(check):
    # Far from everything everyday, this prompt clears the margin of self-harm too ("banging
    # his head against the wall"); it reads much more like violence.
    prompt = "a man smashes a stranger's head with a crowbar outside a bar, blood on the pavement"
    assert _categories(check, prompt) == {ContentCategory.violence}
    everything = ContentCheck(
        encoder=check.encoder, thresholds=ContentThresholds(behind_closest=1.0)
    )
    assert ContentCategory.self_harm in _categories(everything, prompt)


@pytest.mark.parametrize("prompt", ["x", "", "a video", "ok", "nothing", "black", "a bed", "2024"])
def test_a_short_ordinary_prompt_shows_nothing(check, prompt):
    # Each read like a category by more than its margin before short prompts' were raised:
    # "x" like "XXX adult video", "a video" like "a video telling a streamer to kill herself".
    assert check.find(prompt) == []


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("nude woman", ContentCategory.sexual),
        ("a beheading", ContentCategory.violence),
        ("torture", ContentCategory.violence),
        ("nazi rally", ContentCategory.hate),
        ("burn the mosque", ContentCategory.hate),
        ("stalking her", ContentCategory.harassment),
        ("vote trump", ContentCategory.political),
        ("suicide", ContentCategory.self_harm),
        ("selling drugs", ContentCategory.illegal_activity),
    ],
)
def test_a_short_prompt_in_a_category_is_found(check, prompt, category):
    assert category in _categories(check, prompt)


def test_the_names_a_short_prompt_touches_are_not_read_for_what_it_shows(check):
    # Read whole, "@captain_test a video" has two words of content, the handle's, and reads
    # like harassment; beside the handle there is none.
    prompt = "@captain_test a video"
    handle = (1, len(prompt) - len(" a video"))
    assert ContentCategory.harassment in _categories(check, prompt)
    assert check.find_in_reading(read_prompt(prompt, encoder=check.encoder), names=[handle]) == []


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("Captain Test porn", ContentCategory.sexual),
        ("Captain Test a shooting", ContentCategory.violence),
        ("Captain Test stalking her", ContentCategory.harassment),
    ],
)
def test_what_a_short_prompt_says_beside_a_name_is_read_alone(check, prompt, category):
    # Read whole, the name weighs as much as the rest, and the rest is one or two words: the
    # prompt would have to clear a short prompt's margin with half of it saying who.
    reading = read_prompt(prompt, encoder=check.encoder)
    found = check.find_in_reading(reading, names=[(0, len("Captain Test"))])
    assert [finding.category for finding in found] == [category]


def test_a_word_found_twice_over_is_one_piece_of_evidence(check):
    (hate,) = [f for f in check.find("neo-nazi graffiti on a wall") if f.category.value == "hate"]
    assert [e.text for e in hate.evidence if e.kind == EvidenceKind.word] == ["neo-nazi"]


def test_the_descriptions_are_embedded_once_and_kept_beside_the_model(tmp_path):
    encoder = SentenceEncoder(cache_dir=tmp_path)
    first = ContentCheck(encoder=encoder)
    first.find("a cat on a sofa")
    (kept,) = tmp_path.glob("content-descriptions-*.npy")
    texts = sum(len(c.descriptions) for c in CATEGORIES) + len(EVERYDAY)
    assert np.load(kept).shape == (texts, encoder.dimension)
