"""The matcher's decisions with the real sentence model: name-free descriptions found, generic
prompts not, and a name that is an ordinary word taken only when the prompt is about the asset."""

import uuid

import ip_quality
import pytest

from rights.matching.catalogue import TextCatalogue
from rights.matching.encoder import SentenceEncoder
from rights.matching.matcher import TextMatcher
from rights.matching.types import CatalogueAsset, MatchKind

PLUMBER = CatalogueAsset(
    id=uuid.uuid4(),
    handle="luca_valvetti",
    name="Luca Valvetti",
    description="An Italian plumber with a bushy black moustache, a red cap and blue overalls "
    "over a red shirt. He jumps on mushrooms and stomps walking turtles in a cartoon kingdom of "
    "green warp pipes, collecting gold coins to rescue a princess.",
    keywords=("italian plumber", "red cap", "blue overalls", "moustache", "mushrooms"),
    example_prompts=("a mustachioed plumber in a red hat leaping over green pipes",),
)
THOR = CatalogueAsset(
    id=uuid.uuid4(),
    handle="thor_thunder",
    name="Thor",
    description="The Norse god of thunder: a red-bearded giant of a man in a winged helmet who "
    "swings the short-handled hammer Mjolnir, calls down lightning and rides a chariot pulled by "
    "two goats.",
    keywords=("norse god", "thunder god", "red beard", "hammer", "lightning", "goat chariot"),
)
NEMO = CatalogueAsset(
    id=uuid.uuid4(),
    handle="captain_nemo",
    name="Captain Nemo",
    aliases=("Nemo",),
    description="The brooding captain of the submarine Nautilus, a bearded engineer in a naval "
    "coat, who roams the ocean depths and plays a great pipe organ beneath the sea.",
    keywords=("submarine captain", "nautilus", "pipe organ", "ocean depths"),
)


def _registered(handle: str) -> CatalogueAsset:
    """An asset of the quality set (tests/rights/matching/cases/assets.toml), as registered."""
    (body,) = [b for b in ip_quality.registered_assets() if b["handle"] == handle]
    return ip_quality.catalogue_asset(body)


ROBOT_BOY = _registered("rivet_kid")
MERMAID = CatalogueAsset(
    id=uuid.uuid4(),
    handle="coralie",
    name="Coralie",
    description="A red-haired mermaid princess with a turquoise tail and a purple seashell "
    "top who collects human objects in a secret grotto.",
    keywords=("mermaid princess", "red hair", "turquoise tail", "purple seashell top"),
    example_prompts=("mermaid sitting on a rock dreaming of the human world",),
)
LINK = CatalogueAsset(  # invented: a carrier pigeon who links the towers of a sky city
    id=uuid.uuid4(),
    handle="link_the_pigeon",
    name="Link",
    description="A scruffy grey carrier pigeon in a tiny leather satchel and aviator goggles "
    "who flies messages between the floating towers of a sky city.",
    keywords=("carrier pigeon", "leather satchel", "aviator goggles", "sky city towers"),
)


@pytest.fixture(scope="module")
def matcher() -> TextMatcher:
    encoder = SentenceEncoder()
    catalogue = TextCatalogue(dimension=encoder.dimension)
    for asset in (PLUMBER, THOR, NEMO, LINK, ROBOT_BOY, MERMAID):
        catalogue.put(asset, encoder.encode(asset.semantic_texts()))
    return TextMatcher(catalogue=catalogue, encoder=encoder)


def found(matcher: TextMatcher, prompt: str) -> dict[uuid.UUID, MatchKind]:
    return {match.asset_id: match.kind for match in matcher.match(prompt)}


def test_the_issues_name_free_plumber_is_found_by_description(matcher):
    prompt = "an Italian plumber in a red cap and blue overalls jumping on mushrooms"
    (match,) = matcher.match(prompt)
    assert (match.asset_id, match.kind) == (PLUMBER.id, MatchKind.description)
    assert prompt[match.start : match.end] == prompt
    assert matcher.thresholds.similarity_with_words <= match.score <= 1


@pytest.mark.parametrize(
    "prompt",
    [
        # The issue's generic near misses.
        "a mermaid",
        "a robot boy",
        "a plumber fixing a sink",
        # More of the same kind.
        "a man in a red cap",
        "mushrooms growing in a forest",
        "a submarine",
        "a thunderstorm over the sea",
        "a pigeon on a statue",
    ],
)
def test_generic_prompts_near_an_asset_are_not_matched(matcher, prompt):
    assert found(matcher, prompt) == {}


@pytest.mark.parametrize(
    ("prompt", "asset"),
    [
        ("Thor swinging his hammer as lightning splits the sky", THOR),
        ("thor riding his goat chariot through a thunderstorm", THOR),
        ("Nemo at the great pipe organ of his submarine", NEMO),
        ("link the carrier pigeon with his satchel and goggles over the sky city", LINK),
    ],
)
def test_a_plain_ordinary_word_name_counts_when_the_prompt_is_about_the_asset(
    matcher, prompt, asset
):
    kinds = found(matcher, prompt)
    assert set(kinds) == {asset.id}
    assert kinds[asset.id] in {MatchKind.name, MatchKind.alias}  # found by its name, in context


@pytest.mark.parametrize(
    "prompt",
    [
        "click the link in the description for the full recipe",
        "a chain link fence in the morning fog",
        "a statue of thor in a museum lobby",
        "a clownfish named Nemo in an aquarium",
        "nemo dat quod non habet, written on a chalkboard",
    ],
)
def test_a_plain_ordinary_word_name_alone_is_not_a_match(matcher, prompt):
    assert found(matcher, prompt) == {}


@pytest.mark.parametrize(
    ("prompt", "asset"),
    [
        ("a robot boy with jet boots and a glowing heart core flying over neon towers", ROBOT_BOY),
        ("a red-haired mermaid with a turquoise tail and a lilac shell top in a grotto", MERMAID),
    ],
)
def test_the_same_kind_of_thing_described_in_its_own_details_is_matched(matcher, prompt, asset):
    assert found(matcher, prompt) == {asset.id: MatchKind.description}


def test_a_prompt_can_name_one_asset_and_describe_another(matcher):
    prompt = (
        "Captain Nemo watches an Italian plumber in a red cap and blue overalls stomp turtles "
        "and jump on mushrooms"
    )
    matches = matcher.match(prompt)
    assert {(m.asset_id, m.kind) for m in matches} == {
        (NEMO.id, MatchKind.name),
        (PLUMBER.id, MatchKind.description),
    }
    assert matches[0].asset_id == NEMO.id  # a name (score 1) ranks first
    (named,) = [m for m in matches if m.kind == MatchKind.name]
    assert prompt[named.start : named.end] == "Captain Nemo"
