"""The request digest: a worked example third parties can check against, RFC 8785 order,
and refusals for what has no canonical form."""

import pytest

from licensing.digest import canonical_json, request_digest
from licensing.errors import RequestNotDigestible

EMPTY_FILE_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
EXAMPLE = {
    "prompt": "A café at dusk\n",
    "declared_use": "commercial",
    "parameters": {
        "width": 1280,
        "height": 720,
        "duration_ms": 5000,
        "steps": 30,
        "seed": 42,
        "guidance": "7.5",
    },
    "input_media_sha256": [EMPTY_FILE_SHA256],
}
# The canonical bytes, and their SHA-256 as computed by `printf '%s' '<bytes>' | sha256sum`.
EXAMPLE_BYTES = (
    '{"declared_use":"commercial",'
    '"input_media_sha256":["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],'
    '"parameters":{"duration_ms":5000,"guidance":"7.5","height":720,"seed":42,"steps":30,'
    '"width":1280},"prompt":"A café at dusk\\n","version":2}'
).encode()
EXAMPLE_DIGEST = "c7f655ce3b225ddd84aaf4ec8ee1b48677febc022897d554aea51bdabf78235b"


def test_the_worked_example():
    document = {**EXAMPLE, "version": 2}
    assert canonical_json(document) == EXAMPLE_BYTES
    assert request_digest(**EXAMPLE) == EXAMPLE_DIGEST


def test_the_order_parameters_were_written_in_does_not_matter():
    reordered = dict(reversed(list(EXAMPLE["parameters"].items())))
    assert request_digest(**{**EXAMPLE, "parameters": reordered}) == EXAMPLE_DIGEST


def test_members_are_sorted_by_utf16_code_units_as_rfc_8785_says():
    # U+1F600 is D83D DE00 in UTF-16, before U+FFFD; by code point it would come after.
    assert canonical_json({"\ufffd": 1, "\U0001f600": 2, "a": {"b": 1, "A": 2}}) == (
        '{"a":{"A":2,"b":1},"\U0001f600":2,"\ufffd":1}'.encode()
    )


def test_strings_escape_only_what_json_must():
    assert canonical_json(['"\\\b\f\n\r\t\x01\x7f/é€']) == (
        '["\\"\\\\\\b\\f\\n\\r\\t\\u0001\x7f/é€"]'.encode()
    )


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "A cafe at dusk\n"},
        {"prompt": "A café at dusk"},
        {"declared_use": "personal"},
        {"parameters": {**EXAMPLE["parameters"], "seed": 43}},
        {"parameters": {**EXAMPLE["parameters"], "seed": "42"}},
        {"input_media_sha256": []},
        {"input_media_sha256": [EMPTY_FILE_SHA256, EMPTY_FILE_SHA256]},
    ],
)
def test_any_change_to_the_request_changes_the_digest(change):
    assert request_digest(**{**EXAMPLE, **change}) != EXAMPLE_DIGEST


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"guidance": 7.5}, "$.parameters.guidance is the fractional number 7.5"),
        ({"seed": 2**53}, "$.parameters.seed is 9007199254740992, beyond"),
        ({"nested": [{"x": float("nan")}]}, "$.parameters.nested[0].x is the fractional"),
        ({1: "a"}, "$.parameters has a member name that is not a string"),
        ({"when": object()}, "$.parameters.when cannot be held in JSON (object)"),
    ],
)
def test_parameters_without_a_canonical_form_are_refused(parameters, message):
    with pytest.raises(RequestNotDigestible) as refused:
        request_digest(
            prompt="p", declared_use="personal", parameters=parameters, input_media_sha256=[]
        )
    assert refused.value.detail.startswith(message)


def test_media_hashes_must_be_lowercase_hex_sha256():
    for bad in (EMPTY_FILE_SHA256.upper(), EMPTY_FILE_SHA256[:-1], 42):
        with pytest.raises(RequestNotDigestible, match=r"input_media_sha256\[1\]"):
            request_digest(
                prompt="p",
                declared_use="personal",
                parameters={},
                input_media_sha256=[EMPTY_FILE_SHA256, bad],
            )


def test_a_lone_surrogate_is_not_text():
    with pytest.raises(RequestNotDigestible, match="lone UTF-16 surrogate"):
        request_digest(
            prompt="\ud800", declared_use="personal", parameters={}, input_media_sha256=[]
        )


def test_parameters_nest_at_most_32_arrays_and_objects_counting_the_request():
    def nested(depth):
        value = []
        for _ in range(depth - 1):
            value = [value]
        return value

    # The request's object and `parameters` are the first two of the 32.
    request_digest(
        prompt="p", declared_use="personal", parameters={"x": nested(30)}, input_media_sha256=[]
    )
    with pytest.raises(RequestNotDigestible, match=r"nested more than 32 arrays or objects"):
        request_digest(
            prompt="p",
            declared_use="personal",
            parameters={"x": nested(31)},
            input_media_sha256=[],
        )
