"""Restrictions in the owner's own words ("never drinking alcohol", "don't make me swear"):
what each forbids, read from the words.

A restriction says what may not be shown, wrapped in how owners say no: "never", "don't",
"no", "don't make me", "don't put me in", "never show me". `forbidden_activities` unwraps it
into what it forbids ("drinking alcohol", "swear", "religious content") and splits a list of
things ("guns or weapons") into each of them, so the content check's sentence model compares a
prompt with what is forbidden, not with the refusal: "never drinking alcohol" reads about as
much like "drinking water" as like "a beer", "drinking alcohol" does not. Pure text work, so
the policy document can refuse a restriction that forbids nothing ("never!").
"""

import re

MAX_RESTRICTIONS = 10
MAX_RESTRICTION_LENGTH = 200

# One refusal word or phrase at the start, taken off again and again: "please never show me
# in" is four of them. The last group is the prepositions left in front of a place or kind of
# content once the verb is gone ("in political content", "at a nightclub", "with guns").
_REFUSAL = re.compile(
    r"^(?:please|i\s+(?:do\s+not|don'?t)\s+want(?:\s+(?:you\s+)?to)?|never(?:\s+ever)?|"
    r"(?:do\s+not|don'?t|dont)|no(?:\s+more)?|not|nothing\s+(?:with|involving|about)|avoid|"
    r"without|(?:must|may|should|can)\s*(?:not|n'?t)(?:\s+be)?|"
    r"(?:ever\s+)?(?:make|show|put|have|let|use|depict|portray|film|picture|cast|see)\s+"
    r"(?:me|my\s+(?:face|likeness|character)|him|her|them|it)|"
    r"be(?:\s+shown)?|appear|in|at|on|with|into|within|involving|about)\s+",
    re.IGNORECASE,
)
_ALTERNATIVES = re.compile(r",|;|/|\bor\b|\band\b|\bnor\b", re.IGNORECASE)


def forbidden_activity(restriction: str) -> str:
    """What ``restriction`` forbids, its refusal taken off: "never in political content" is
    "political content"; "" if nothing is left."""
    what = " ".join(restriction.split()).strip(" .!;:")
    while True:
        unwrapped = _REFUSAL.sub("", what + " ", count=1).strip()
        if unwrapped == what or not unwrapped:
            return unwrapped
        what = unwrapped


def forbidden_activities(restriction: str) -> tuple[str, ...]:
    """What ``restriction`` forbids as a whole, then each thing of a list it names: "guns or
    weapons" is ("guns or weapons", "guns", "weapons")."""
    whole = forbidden_activity(restriction)
    if not whole:
        return ()
    parts = [part.strip() for part in _ALTERNATIVES.split(whole) if part.strip()]
    return tuple(dict.fromkeys([whole, *parts]))
