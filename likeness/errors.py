"""Errors of enrolment, conflicts and the face scan."""

from clearhouse.errors import ClearhouseError, Conflict, Forbidden, InvalidRequest


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


class MediaBusy(ClearhouseError):
    """Every media worker of this process stayed taken for as long as a request may wait."""

    status_code = 503
    slug = "media-busy"
    title = "Too much media being processed"
    sends_retry_after = True

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after_s)}


class MediaWorkerLost(ClearhouseError):
    """The worker process decoding an upload died (killed for memory, a crash in native
    code); the next request gets a new worker."""

    status_code = 503
    slug = "media-worker-lost"
    title = "Media processing stopped"
    sends_retry_after = True
    headers = {"Retry-After": "1"}


class PartyToConflict(Forbidden):
    slug = "party-to-conflict"
    title = "You are a party to this conflict"


class FaceIndexUnavailable(ClearhouseError):
    """A shard of the face index (likeness/index/sharded.py) is lost, rebuilding, behind the
    vault or past its deadline: no answer rather than one that might miss a face."""

    status_code = 503
    slug = "face-index-unavailable"
    title = "Face search not available"
    sends_retry_after = True
    headers = {"Retry-After": "2"}
