"""Errors of enrolment, conflicts and the face scan."""

from clearhouse.errors import Conflict, InvalidRequest


class NotALikeness(InvalidRequest):
    slug = "not-a-likeness"
    title = "Only a likeness asset has a face"


class EnrolmentRejected(InvalidRequest):
    """The frames do not make a valid enrolment; the detail names the frame and the fault."""

    slug = "enrolment-rejected"
    title = "Enrolment rejected"


class EnrolmentClosed(Conflict):
    slug = "enrolment-closed"
    title = "Enrolment no longer open"


class FaceAlreadyEnrolled(Conflict):
    slug = "face-already-enrolled"
    title = "Face already enrolled"


class ConflictAlreadyResolved(Conflict):
    slug = "conflict-resolved"
    title = "Conflict already resolved"
