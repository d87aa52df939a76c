"""Passwords as NIST SP 800-63B asks: normalised, long enough, not a known-weak one.

A password is NFKC-normalised before it is hashed and before it is checked at sign-in, so
the same passphrase typed on two keyboards (a full-width digit, a composed accent) is the same
password. Its length is counted in characters after normalisation. zxcvbn, with its
frequency lists of common passwords, names and words, refuses the guessable ones and says why.
"""

import unicodedata

from zxcvbn import zxcvbn

from clearhouse.names import is_invisible

MIN_LENGTH = 12
# zxcvbn's scores run 0 to 4; 3 is "safely unguessable: moderate protection from offline
# slow-hash scenarios" (its own words), which argon2id is.
MIN_STRENGTH = 3
# zxcvbn's matching grows with the length, so it refuses more than 72 characters; a password
# whose first 72 are hard to guess is no easier for what follows.
_STRENGTH_CHECKED_CHARS = 72


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def password_problem(password: str, *, personal: list[str]) -> str | None:
    """Why this (normalised) password is refused, or None. ``personal``: the email, the name."""
    if len(password) < MIN_LENGTH:
        return (
            f"The password has {len(password)} characters (counted after Unicode NFKC "
            f"normalisation); use at least {MIN_LENGTH}, a few unrelated words make a good one."
        )
    if all(character.isspace() or is_invisible(character) for character in password):
        return "The password is only spaces or invisible characters; use words you can see."
    verdict = zxcvbn(password[:_STRENGTH_CHECKED_CHARS], user_inputs=personal)
    if verdict["score"] < MIN_STRENGTH:
        feedback = verdict["feedback"]
        why = feedback.get("warning") or "It is easy to guess."
        hints = " ".join(feedback.get("suggestions") or [])
        return f"The password is too easy to guess: {why.rstrip('.')}. {hints}".strip()
    return None
