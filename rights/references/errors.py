"""Errors of reference pictures."""

from clearhouse.errors import Conflict, InvalidRequest


class NotACharacterOrStyle(InvalidRequest):
    slug = "not-a-character-or-style"
    title = "Only characters and styles have reference pictures"


class UnusableReferenceImage(InvalidRequest):
    """A picture that decodes but holds too little to recognise it by."""

    slug = "unusable-reference-image"
    title = "Picture cannot serve as a reference"


class TooManyReferenceImages(Conflict):
    slug = "too-many-reference-images"
    title = "Asset holds as many reference pictures as it may"


class ReferenceImageExists(Conflict):
    slug = "reference-image-exists"
    title = "Picture already registered for this asset"
