"""Errors of opt-in policies."""

from clearhouse.errors import Forbidden


class MinorsLikenessProtected(Forbidden):
    """A minor's likeness is never usable by others, whatever its owner consents to."""

    slug = "minors-likeness-protected"
    title = "A minor's likeness cannot be licensed to others"
