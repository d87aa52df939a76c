"""Errors of protected entries."""

from clearhouse.errors import Conflict


class ProtectedEntryExists(Conflict):
    slug = "protected-entry-exists"
    title = "A protected entry of this kind and name exists"


class UnreadableName(Conflict):
    slug = "protected-name-unreadable"
    title = "The name has no letters to match by"
