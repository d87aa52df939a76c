"""Errors of the generator."""

from clearhouse.errors import ClearhouseError, Conflict, InvalidRequest


class UnrunnableGeneration(InvalidRequest):
    """Generation parameters the pipeline cannot run; ``detail`` says what would run."""

    slug = "unrunnable-generation"
    title = "The generation cannot run as asked"


class UnknownCameo(InvalidRequest):
    """A cameo whose handle no live registered asset has."""

    slug = "unknown-cameo"
    title = "No registered asset has this handle"


class GenerationNotReleased(Conflict):
    """A clip asked for before its generation was released (or after it ended otherwise)."""

    slug = "generation-not-released"
    title = "This generation has not been released"


class ClipTakenDown(ClearhouseError):
    """A released clip no longer served: a consent it was licensed under was withdrawn."""

    status_code = 410
    slug = "clip-taken-down"
    title = "This clip was taken down"


class GenerationQueueFull(ClearhouseError):
    """As many jobs are queued as the generator takes (``generation_queue_max``): the request
    is refused before it is cleared, so nothing is recorded or charged for it."""

    status_code = 503
    slug = "generation-queue-full"
    title = "The generation queue is full"
    sends_retry_after = True

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after_s)}


class GenerationCancelled(Exception):
    """A generation stopped between two denoising steps because its caller asked it to (a
    revocation cancels the job); ``steps_done`` of ``steps_total`` had run."""

    def __init__(self, *, steps_done: int, steps_total: int) -> None:
        super().__init__(f"cancelled after {steps_done} of {steps_total} steps")
        self.steps_done = steps_done
        self.steps_total = steps_total


class UnsupportedModel(RuntimeError):
    """A model directory this generator cannot load or drive (an operator's setting)."""


class ProvenanceCredentialsError(RuntimeError):
    """A C2PA signing certificate chain or key that cannot sign (an operator's setting)."""
