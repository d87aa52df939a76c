"""The request digest: one SHA-256 that names one generation request exactly.

A clearance token is bound to it, so a generator can check that the request it is about to
run is the one that was cleared, and an owner's approval names it. Third-party generators
compute it themselves, so the encoding is stated here in full:

1. Take the JSON object ``{"declared_use": "...", "input_media_sha256": [...],
   "parameters": {...}, "prompt": "...", "version": 2}``:

   - ``declared_use``: what the output will be used for, as declared (``personal``,
     ``commercial``, ...): an owner's approval and a grant's allowed uses are about it, so a
     request for another use is another request;
   - ``prompt``: the prompt exactly as sent: no trimming, no Unicode normalisation;
   - ``parameters``: the generation parameters as sent (duration, size, steps, seed, ...),
     a JSON object whose values are strings, integers between -(2^53 - 1) and 2^53 - 1,
     true, false, null, arrays and objects (at most 32 one inside another, counting the
     request's own object and ``parameters``). No fractional or exponent numbers: JSON has
     no single canonical form for them, so send a value like a guidance scale of 7.5 as
     the string ``"7.5"`` or as an integer in smaller units (``750`` hundredths);
   - ``input_media_sha256``: the lowercase hex SHA-256 of each input file's bytes, in the
     order the files are given (empty without input media).

2. Serialise it with the JSON Canonicalization Scheme (RFC 8785): object members sorted by
   their names' UTF-16 code units, no whitespace, strings with only ``"``, ``\\`` and control
   characters escaped (``\\b \\f \\n \\r \\t``, others as lowercase ``\\u00xx``), everything
   else as literal UTF-8. With the numbers above restricted to integers, this is Python's
   ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` over members sorted as
   stated, and JavaScript's ``JSON.stringify`` over the same.

3. The digest is the lowercase hex SHA-256 of those UTF-8 bytes.

``tests/licensing/test_digest.py`` holds a worked example, bytes and digest.
"""

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from licensing.errors import RequestNotDigestible

DIGEST_VERSION = 2  # 2: the declared use joined the request
MAX_SAFE_INTEGER = 2**53 - 1  # RFC 8785 / I-JSON: integers every JSON reader holds exactly
#: Arrays and objects one inside another, the request's own object counted: deeper has no use
#: in a generation's parameters, and would exhaust the recursion below (a RecursionError).
MAX_NESTING = 32
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def request_digest(
    *,
    prompt: str,
    declared_use: str,
    parameters: Mapping[str, Any],
    input_media_sha256: Sequence[str],
) -> str:
    """The lowercase hex SHA-256 of the request's canonical JSON (see the module's notes).

    Raises :class:`RequestNotDigestible` for what has no canonical form."""
    for position, media_hash in enumerate(input_media_sha256):
        if not isinstance(media_hash, str) or not SHA256_HEX.fullmatch(media_hash):
            raise RequestNotDigestible(
                f"input_media_sha256[{position}] must be a SHA-256 in 64 lowercase hex digits."
            )
    if not isinstance(parameters, Mapping):
        raise RequestNotDigestible("parameters must be a JSON object.")
    request = {
        "declared_use": declared_use,
        "input_media_sha256": list(input_media_sha256),
        "parameters": parameters,
        "prompt": prompt,
        "version": DIGEST_VERSION,
    }
    return hashlib.sha256(canonical_json(request)).hexdigest()


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of ``value``, which may hold no fractional numbers."""
    text = json.dumps(
        _canonical(value, path="$"), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestNotDigestible(
            "the request holds a lone UTF-16 surrogate, which is not Unicode text."
        ) from exc


def _canonical(value: Any, *, path: str, depth: int = 1) -> Any:
    """``value`` with each object's members in RFC 8785 order, refusing what has no canonical
    form. ``path`` names the offending value in errors (``$.parameters.guidance``); ``depth``
    counts ``value`` and the arrays and objects around it."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise RequestNotDigestible(
                f"{path} is {value}, beyond what every JSON reader holds exactly "
                f"(±{MAX_SAFE_INTEGER}): send it as a string."
            )
        return value
    if isinstance(value, float):
        raise RequestNotDigestible(
            f"{path} is the fractional number {value!r}, which has no canonical JSON form: "
            "send it as a string or as an integer in smaller units."
        )
    if isinstance(value, Mapping | list | tuple) and depth > MAX_NESTING:
        raise RequestNotDigestible(
            f"{path} is nested more than {MAX_NESTING} arrays or objects deep: send a "
            "flatter value."
        )
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise RequestNotDigestible(f"{path} has a member name that is not a string.")
        ordered = sorted(value, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
        return {
            key: _canonical(value[key], path=f"{path}.{key}", depth=depth + 1) for key in ordered
        }
    if isinstance(value, list | tuple):
        return [
            _canonical(item, path=f"{path}[{index}]", depth=depth + 1)
            for index, item in enumerate(value)
        ]
    raise RequestNotDigestible(f"{path} cannot be held in JSON ({type(value).__name__}).")
