"""The face index split across Ray actors (``CLEARHOUSE_FACE_INDEX_SHARDS`` with
``CLEARHOUSE_RAY_ADDRESS``): each likeness's templates live on one of N index shards
(``shard.py``, a :class:`FaceIndex` each: exact search on NumPy or torch, FAISS past
``face_index_approximate_after``), and a search asks every shard and merges their top k.

Shards are named, detached actors (one set per installation, named after its database), so
every API process of the installation uses the same ones, and Ray restarts one that dies.

**Never a silent miss.** The vault's change counter (``face_index_generation``, advanced in
the transaction of every enrolment, activation and deletion) is the truth, and each shard
records the generation it reflects:

- The process that commits a change sends it to every shard once committed (the part of it
  that lands there, maybe nothing), counted with its generation; a shard applies changes in
  generation order and skips one it has (``shard.py``), so a change sent twice or out of
  order does no harm.
- Every process learns the counter as it does for its own index today: the change channel
  (clearhouse/changes.py: PostgreSQL ``LISTEN/NOTIFY``, or a read of the counter where it
  cannot be trusted) tells it the vault changed, and its next use reads the counter
  (:meth:`ShardedFaceIndex.follow`). One channel, nothing polled.
- A search asks each shard for at least the generation its process knows. A shard behind
  waits a moment for the change on its way, then answers :data:`BEHIND`; a shard restarted
  by Ray holds nothing (:data:`NOT_LOADED`) and is behind every caller. Either way, and for
  a shard lost or past the deadline, the search raises :class:`FaceIndexUnavailable` (503
  with Retry-After on the API) and never returns what the other shards found alone; a
  shard lost or behind is reloaded from the vault in the background meanwhile (one
  snapshot: the templates and the counter they make), and answers again once loaded.

A change committed without a process to send it (the CLI's retention run) or lost with its
process leaves every shard behind: the next search finds that out and reloads them.
Imported only when shards are configured: ``ray`` is a dependency, but the API need not
load it.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from uuid import UUID

import numpy as np
import numpy.typing as npt
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from clearhouse.ray_start import started
from likeness.errors import FaceIndexUnavailable
from likeness.index.batches import TemplateBatch, pack_by_model
from likeness.index.shard import BEHIND, IndexShard, ShardChange
from likeness.index.types import (
    FaceIndexError,
    FaceMatch,
    FaceTemplate,
    IdArray,
    unit_rows,
    uuid_array,
)

log = logging.getLogger(__name__)

NAMESPACE = "clearhouse"
# A shard runs one search at a time per thread; changes and loads must not queue behind them.
SHARD_THREADS = 8
# Part of the deadline a shard behind the caller waits for the change on its way (the
# committing process sends it right after its commit, which others may hear of first).
CATCH_UP_SHARE = 0.5
_RESTART_POLL_S = 0.2
# Queries up to Ray's own limit for arguments sent inside a call (``max_direct_call_object_size``);
# past it, one copy is put in the object store for every shard to read.
_SENT_WITH_THE_CALL_BYTES = 100 * 1024
_SERVING_WAIT_S = 120.0

# The vault as of one generation: that generation and the active templates of the likenesses
# the predicate keeps (those of the shards being loaded: no other template is decrypted), packed.
VaultSnapshot = Callable[[Callable[[UUID], bool]], tuple[int, list[TemplateBatch]]]


def shard_numbers(likeness_ids: IdArray, *, shards: int) -> npt.NDArray[np.int64]:
    """The shard of each likeness: its UUID's last 8 bytes modulo the shard count."""
    low = np.frombuffer(likeness_ids.tobytes(), dtype=">u8").reshape(-1, 2)[:, 1]
    return (low % np.uint64(shards)).astype(np.int64)


def shard_of(likeness_id: UUID, *, shards: int) -> int:
    """:func:`shard_numbers` for one likeness."""
    return int.from_bytes(likeness_id.bytes[8:], "big") % shards


def part_of(batches: Sequence[TemplateBatch], *, shard: int, shards: int) -> list[TemplateBatch]:
    """The rows of ``batches`` whose likeness falls in ``shard``."""
    parts = []
    for batch in batches:
        mine = shard_numbers(batch.likeness_ids, shards=shards) == shard
        if mine.any():
            parts.append(
                TemplateBatch(
                    model_key=batch.model_key,
                    vectors=batch.vectors[mine],
                    template_ids=batch.template_ids[mine],
                    likeness_ids=batch.likeness_ids[mine],
                )
            )
    return parts


def installation_key(database_url: str) -> str:
    """What the shards of one installation are named after: a digest of its database URL
    (not the URL, which may hold a password)."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:12]


def start_index_shards(
    *,
    installation: str,
    shards: int,
    approximate_threshold: int | None = None,
    nprobe: int | None = None,
    device: str | None = None,
) -> list:
    """The installation's ``shards`` index shard actors, created unless another process did.

    Each asks for a CPU (a search is a pass over its templates), spread over the nodes, and
    is restarted without end by Ray, empty: the next search reloads it. Call after
    ``ray.init``."""
    remote = ray.remote(IndexShard)
    return [
        remote.options(
            name=f"face-index-{installation}-{number}-of-{shards}",
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            max_restarts=-1,
            max_task_retries=0,  # a search is asked again by its caller, not by Ray
            max_concurrency=SHARD_THREADS,
            num_cpus=1,
            scheduling_strategy="SPREAD",
        ).remote(device=device, approximate_threshold=approximate_threshold, nprobe=nprobe)
        for number in range(shards)
    ]


class ShardedFaceIndex:
    """The face index over index shard actors; reads like :class:`FaceIndex`.

    ``read_vault`` gives the vault's active templates of the likenesses a predicate keeps and
    the generation they make, read in one snapshot; ``deadline_s`` bounds how long a search
    waits for every shard."""

    def __init__(self, *, shards: list, read_vault: VaultSnapshot, deadline_s: float) -> None:
        if not shards:
            raise FaceIndexError("a sharded face index needs at least one shard")
        self.shards = shards
        self.deadline_s = deadline_s
        self._read_vault = read_vault
        self._known = 0  # the newest vault generation this process has heard of
        self._lock = threading.Lock()
        self._reloading: set[int] = set()

    # -- following the vault -------------------------------------------------------------

    def follow(self, *, generation: int) -> None:
        """From now on, answer only from shards at ``generation`` or newer."""
        with self._lock:
            self._known = max(self._known, generation)

    def load_behind(self, *, start_within_s: float = 300.0) -> int:
        """Load every shard older than the vault, now (on start); returns the generation.
        Shards the cluster cannot place within ``start_within_s`` stop the start."""
        held = started(
            [shard.held_generation.remote() for shard in self.shards],
            what=f"{len(self.shards)} face index shard(s)",
            within_s=start_within_s,
        )
        return self._reload_now(range(len(self.shards)), older_than_vault=held)

    def changed_at(self, generation: int) -> "CountedChange":
        """The change the vault counted as ``generation``, to send to the shards once it
        committed."""
        return CountedChange(self, generation)

    def send(self, changes: list[ShardChange]) -> None:
        """One change to every shard (``changes[n]`` to shard ``n``), waited for up to the
        deadline. A shard that misses it is behind, and the next search reloads it."""
        self.follow(generation=changes[0].generation)
        refs = [
            shard.apply.remote(change) for shard, change in zip(self.shards, changes, strict=True)
        ]
        try:
            ray.get(refs, timeout=self.deadline_s)
        except (RayError, GetTimeoutError) as error:
            log.warning("a face index shard missed change %d: %s", changes[0].generation, error)

    # -- reading -------------------------------------------------------------------------

    def search(
        self,
        *,
        model_key: str,
        queries: npt.ArrayLike,
        k: int = 5,
        min_similarity: float = -1.0,
    ) -> list[list[FaceMatch]]:
        """:meth:`FaceIndex.search` over every shard, or :class:`FaceIndexUnavailable` when
        any shard cannot answer at the generation this process knows within the deadline."""
        if not isinstance(k, int) or k < 1:
            raise FaceIndexError(f"k must be a positive integer, not {k!r}")
        if not -1.0 <= float(min_similarity) <= 1.0:
            raise FaceIndexError(
                f"min_similarity must be a cosine in [-1, 1], not {min_similarity}"
            )
        vectors = unit_rows(queries, dimension=None, what="queries")
        with self._lock:
            known = self._known
        # A scan's few faces go with each call (Ray sends an argument this small inside the call
        # itself); a put first costs a round trip to the object store, ~3 ms a search here.
        queries_arg = vectors if vectors.nbytes <= _SENT_WITH_THE_CALL_BYTES else ray.put(vectors)
        refs = [
            shard.search.remote(
                at_least=known,
                wait_s=self.deadline_s * CATCH_UP_SHARE,
                model_key=model_key,
                queries=queries_arg,
                k=k,
                min_similarity=float(min_similarity),
            )
            for shard in self.shards
        ]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=self.deadline_s)
        answered = set(ready)
        late = [number for number, ref in enumerate(refs) if ref not in answered]
        if late:
            raise FaceIndexUnavailable(
                f"face index shard(s) {late} did not answer within {self.deadline_s:g} s; "
                "try again shortly"
            )
        answers: list[list[list[FaceMatch]]] = []
        unusable: list[int] = []
        for number, ref in enumerate(refs):
            try:
                answer = ray.get(ref)
            except RayActorError:  # lost, or restarting after a loss
                answer = BEHIND
            except RayTaskError as error:  # a query the shard's index refused: say why
                if isinstance(error.cause, FaceIndexError):
                    raise error.cause from None
                raise
            if answer is BEHIND:
                unusable.append(number)
            else:
                answers.append(answer)
        if unusable:
            self._reload_in_background(unusable)
            raise FaceIndexUnavailable(
                f"face index shard(s) {unusable} are being rebuilt from the vault; try again "
                "shortly"
            )
        return [_merged(rows, k=k) for rows in zip(*answers, strict=True)]

    def count(self, *, model_key: str | None = None) -> int:
        """Templates held by every shard, for one model or all."""
        return sum(self.shard_counts(model_key=model_key))

    def shard_counts(self, *, model_key: str | None = None) -> list[int]:
        return ray.get([shard.count.remote(model_key) for shard in self.shards])

    def memory_bytes(self) -> list[int]:
        """Bytes each shard's index holds."""
        return ray.get([shard.memory_bytes.remote() for shard in self.shards])

    # -- reloading -----------------------------------------------------------------------

    def _reload_in_background(self, numbers: list[int]) -> None:
        with self._lock:
            fresh = [number for number in numbers if number not in self._reloading]
            self._reloading.update(fresh)
        if fresh:
            threading.Thread(
                target=self._reload, args=(fresh,), name="face-index-reload", daemon=True
            ).start()

    def _reload(self, numbers: list[int]) -> None:
        try:
            for number in numbers:
                self._wait_until_serving(self.shards[number])
            self._reload_now(numbers)
        except Exception:
            log.exception("reloading face index shard(s) %s failed; searches retry it", numbers)
        finally:
            with self._lock:
                self._reloading.difference_update(numbers)

    def _reload_now(
        self, numbers: Iterable[int], *, older_than_vault: list[int] | None = None
    ) -> int:
        """Load shards ``numbers`` from one snapshot of the vault, decrypting only their
        likenesses' templates; with ``older_than_vault`` (each shard's generation), only those
        behind the snapshot are loaded. Returns the snapshot's generation."""
        count = len(self.shards)
        wanted = set(numbers)
        generation, batches = self._read_vault(
            lambda likeness_id: shard_of(likeness_id, shards=count) in wanted
        )
        if older_than_vault is not None:
            wanted = {number for number in wanted if older_than_vault[number] < generation}
        self._load(wanted, generation=generation, batches=batches)
        self.follow(generation=generation)
        return generation

    def _load(
        self, numbers: Iterable[int], *, generation: int, batches: list[TemplateBatch]
    ) -> None:
        count = len(self.shards)
        ray.get(
            [
                self.shards[number].load.remote(
                    generation=generation, batches=part_of(batches, shard=number, shards=count)
                )
                for number in numbers
            ]
        )

    @staticmethod
    def _wait_until_serving(shard) -> None:
        """Until ``shard`` answers: one Ray is restarting refuses calls at once."""
        deadline = time.monotonic() + _SERVING_WAIT_S
        while True:
            try:
                ray.get(shard.held_generation.remote(), timeout=_SERVING_WAIT_S)
                return
            except RayActorError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(_RESTART_POLL_S)


class CountedChange:
    """A committed change to the active templates at one generation, as the runtime's
    ``change_index`` callers make it (``add_templates`` or ``remove_likeness``)."""

    def __init__(self, index: ShardedFaceIndex, generation: int) -> None:
        self._index = index
        self.generation = generation

    def add_templates(self, *, templates: Iterable[FaceTemplate]) -> None:
        batches = pack_by_model(templates)
        count = len(self._index.shards)
        self._index.send(
            [
                ShardChange(self.generation, added=part_of(batches, shard=number, shards=count))
                for number in range(count)
            ]
        )

    def remove_likeness(self, *, likeness_id: UUID) -> None:
        (shard,) = shard_numbers(uuid_array([likeness_id]), shards=len(self._index.shards))
        self._index.send(
            [
                ShardChange(
                    self.generation, removed_likenesses=[likeness_id] if number == shard else []
                )
                for number in range(len(self._index.shards))
            ]
        )


def _merged(rows: Sequence[list[FaceMatch]], *, k: int) -> list[FaceMatch]:
    """One query's best ``k`` over the shards' answers (each likeness lives on one shard)."""
    matches = [match for row in rows for match in row]
    matches.sort(key=lambda match: match.similarity, reverse=True)
    return matches[:k]
