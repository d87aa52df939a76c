"""Invented but plausible registered assets, to fill a catalogue to 10,000 around the quality set.

Each filler is a character (or now and then a style or a person) put together from pools of
species, roles, looks, clothes, habits and places, with an invented two-word name, a
description of two sentences, six keywords and three example prompts, as an owner would write
them. They share the quality set's vocabulary (knights, robots, mermaids, red scarves), so they
compete with its assets and with its negatives as a crowded registry would. Deterministic for a
given seed.
"""

import random

SYLLABLES = (
    "bal",
    "bar",
    "bel",
    "bix",
    "bor",
    "bram",
    "cal",
    "cor",
    "dar",
    "del",
    "dor",
    "fen",
    "fim",
    "gal",
    "gor",
    "hal",
    "hob",
    "jas",
    "kel",
    "kor",
    "lam",
    "lin",
    "lor",
    "mab",
    "mar",
    "mel",
    "mor",
    "nib",
    "nor",
    "oss",
    "pel",
    "pim",
    "quen",
    "ral",
    "rin",
    "ros",
    "sab",
    "sel",
    "tam",
    "tor",
    "ul",
    "vas",
    "vel",
    "wen",
    "wil",
    "yar",
    "zan",
    "zor",
)
ENDINGS = (
    "a",
    "an",
    "ar",
    "eck",
    "el",
    "en",
    "er",
    "ia",
    "ick",
    "in",
    "is",
    "ix",
    "o",
    "on",
    "or",
    "us",
    "wick",
    "wood",
    "by",
    "ley",
    "ton",
)
SPECIES = (
    "fox",
    "owl",
    "robot",
    "dragon",
    "cat",
    "bear",
    "girl",
    "boy",
    "knight",
    "witch",
    "wizard",
    "mermaid",
    "pirate",
    "alien",
    "ghost",
    "frog",
    "rabbit",
    "mouse",
    "dog",
    "wolf",
    "tiger",
    "penguin",
    "octopus",
    "turtle",
    "hedgehog",
    "raccoon",
    "squirrel",
    "badger",
    "goblin",
    "troll",
    "fairy",
    "elf",
    "dwarf",
    "giant",
    "skeleton",
    "vampire",
    "zombie",
    "snowman",
    "scarecrow",
    "android",
    "cyborg",
    "unicorn",
    "griffin",
    "phoenix",
    "beetle",
    "snail",
    "crab",
    "shark",
    "whale",
    "dolphin",
    "lion",
    "elephant",
    "giraffe",
    "hamster",
    "parrot",
    "crow",
    "bat",
    "lizard",
)
ROLES = (
    "detective",
    "chef",
    "pilot",
    "baker",
    "knight",
    "librarian",
    "inventor",
    "musician",
    "painter",
    "sailor",
    "astronaut",
    "gardener",
    "postman",
    "firefighter",
    "doctor",
    "teacher",
    "magician",
    "thief",
    "samurai",
    "ninja",
    "cowboy",
    "king",
    "queen",
    "prince",
    "princess",
    "wizard",
    "blacksmith",
    "tailor",
    "barista",
    "courier",
    "explorer",
    "miner",
    "lighthouse-keeper",
    "clockmaker",
    "toymaker",
    "beekeeper",
    "shepherd",
    "drummer",
    "singer",
    "dancer",
    "boxer",
    "racer",
    "surfer",
    "skater",
    "archer",
    "guard",
    "spy",
    "ranger",
)
LOOKS = (
    "a silver mechanical arm",
    "glowing green eyes",
    "a striped tail",
    "a crooked grin",
    "freckles",
    "a long white beard",
    "a missing tooth",
    "tiny wings",
    "a glowing chest light",
    "three eyes",
    "antlers",
    "a bushy moustache",
    "spiky orange hair",
    "a scar over one eye",
    "round spectacles",
    "a curly tail",
    "huge floppy ears",
    "a patchwork body",
    "stone skin",
    "crystal horns",
    "a wooden leg",
    "a lantern for a head",
    "rainbow fur",
    "copper feathers",
    "a shell backpack",
    "webbed feet",
    "a braided ponytail",
    "a star-shaped birthmark",
    "bright purple skin",
    "a glass dome head",
    "clockwork joints",
    "a fluffy mane",
    "long whiskers",
    "a tiny crown",
    "big round eyes",
    "a hooked nose",
)
CLOTHES = (
    "a red scarf",
    "a blue raincoat",
    "a green cloak",
    "a yellow hard hat",
    "a purple top hat",
    "a leather jacket",
    "a knitted jumper",
    "a tuxedo",
    "a spacesuit",
    "overalls",
    "a kimono",
    "a sailor suit",
    "a trench coat",
    "a hoodie",
    "a tutu",
    "a suit of armour",
    "a lab coat",
    "a poncho",
    "a denim vest",
    "a fur-lined parka",
    "a striped shirt",
    "a velvet robe",
    "a bow tie",
    "rubber boots",
    "a sombrero",
    "a beret",
    "a bomber jacket",
    "a cardigan",
    "a wizard hat",
    "goggles",
)
HABITS = (
    "bakes bread before sunrise",
    "solves riddles for travellers",
    "repairs broken clocks",
    "plays the accordion on street corners",
    "collects lost buttons",
    "races hot-air balloons",
    "guards a hidden waterfall",
    "delivers parcels by kite",
    "paints murals at night",
    "tames thunderstorms",
    "grows giant vegetables",
    "writes letters to the moon",
    "juggles flaming torches",
    "sails paper boats",
    "hunts for buried treasure",
    "teaches frogs to sing",
    "builds robots out of junk",
    "runs a tiny cinema",
    "brews glowing tea",
    "chases shooting stars",
    "knits scarves for trees",
    "fixes spaceships",
    "rides a giant snail",
    "dances in the rain",
    "keeps bees on a rooftop",
)
PLACES = (
    "a floating island",
    "a lighthouse",
    "a desert town",
    "a snowy village",
    "a sunken city",
    "a haunted mansion",
    "a bamboo forest",
    "a neon city",
    "a candy kingdom",
    "a volcano",
    "a clockwork tower",
    "a moon base",
    "a jungle temple",
    "a seaside harbour",
    "a mushroom forest",
    "a cloud castle",
    "a busy market",
    "an abandoned circus",
    "a glacier",
    "a swamp",
    "an underground railway",
    "a treehouse town",
    "a coral reef",
    "a space station",
    "a windmill farm",
)
STYLE_LOOKS = (
    "watercolour",
    "charcoal sketch",
    "neon outlines",
    "pixel art",
    "claymation",
    "woodcut print",
    "cel shading",
    "oil paint impasto",
    "cross-hatched ink",
    "glitch art",
    "felt puppets",
    "chalk on a blackboard",
    "collage of magazine cutouts",
    "embroidery",
    "mosaic tiles",
    "blueprint lines",
    "stained paper",
    "pastel crayons",
    "airbrushed chrome",
    "linocut",
)
COLOURS = (
    "amber",
    "teal",
    "crimson",
    "ochre",
    "lilac",
    "cobalt",
    "sepia",
    "mint",
    "coral",
    "indigo",
)
PEOPLE = (
    "streamer",
    "skateboarder",
    "chef",
    "violinist",
    "weather presenter",
    "marathon runner",
    "poet",
    "carpenter",
    "yoga teacher",
    "magician",
    "climber",
    "DJ",
    "potter",
    "sommelier",
    "comedian",
)
HAIR = (
    "a shaved head",
    "long red curls",
    "a silver bob",
    "blue dreadlocks",
    "a black ponytail",
    "a grey quiff",
    "braided hair",
    "a pink mohawk",
)


def _name(rng: random.Random) -> str:
    def word() -> str:
        return (rng.choice(SYLLABLES) + rng.choice(ENDINGS)).capitalize()

    return f"{word()} {word()}"


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _bare(phrase: str) -> str:
    return phrase.removeprefix("a ").removeprefix("an ")


def _character(rng: random.Random) -> dict:
    species, role = rng.choice(SPECIES), rng.choice(ROLES).replace("-", " ")
    look, other_look = rng.sample(LOOKS, 2)
    clothes, habit, place = rng.choice(CLOTHES), rng.choice(HABITS), rng.choice(PLACES)
    return {
        "kind": "character",
        "description": (
            f"{_a(species).capitalize()} {role} with {look} and {other_look}, wearing "
            f"{clothes}. It {habit} in {place}."
        ),
        "keywords": [
            f"{species} {role}",
            *map(_bare, (look, other_look, clothes)),
            habit,
            _bare(place),
        ],
        "example_prompts": [
            f"{_a(species)} {role} in {clothes} in {place}",
            f"{species} with {look} who {habit}",
            f"{_a(role)} {species} with {other_look}, {place} in the background",
        ],
    }


def _style(rng: random.Random) -> dict:
    look, other = rng.sample(STYLE_LOOKS, 2)
    first, second = rng.sample(COLOURS, 2)
    return {
        "kind": "style",
        "description": (
            f"A {look} look mixed with {other}, in {first} and {second} tones, "
            "with visible texture and a slight wobble between frames."
        ),
        "keywords": [look, other, f"{first} tones", f"{second} tones", "visible texture"],
        "example_prompts": [
            f"a city street in {look} style with {first} tones",
            f"portrait rendered as {other} in {second}",
        ],
    }


def _person(rng: random.Random) -> dict:
    job, hair, clothes = rng.choice(PEOPLE), rng.choice(HAIR), rng.choice(CLOTHES)
    place = rng.choice(PLACES)
    return {
        "kind": "likeness",
        "description": f"{_a(job).capitalize()} with {hair} who always wears {clothes}.",
        "keywords": [job, *map(_bare, (hair, clothes))],
        "example_prompts": [f"{_a(job)} with {hair} in {clothes} in {place}"],
    }


def fillers(count: int, *, seed: int = 8, taken: set[str] = frozenset()) -> list[dict]:
    """``count`` assets as registration bodies (kind, handle, name, aliases, texts)."""
    rng = random.Random(seed)
    made: list[dict] = []
    handles = set(taken)
    while len(made) < count:
        draw = rng.random()
        body = _style(rng) if draw < 0.05 else _person(rng) if draw < 0.12 else _character(rng)
        name = _name(rng)
        handle = name.lower().replace(" ", "_")
        if handle in handles:
            continue
        handles.add(handle)
        made.append({"handle": handle, "name": name, "aliases": [], **body})
    return made
