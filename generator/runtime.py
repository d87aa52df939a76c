"""What a generation worker holds: the database, the keys that verify clearance tokens, the
output check's face index and reference catalogue, the pipeline and the signing identity.

Built once per process that runs jobs (the API's lifespan, `clearhouse generate`, a Ray
generation worker, whose pipeline is then a handle on its actors: generator/ray_workers.py).
The pipeline and the signing identity load on first use, and the pipeline runs one
generation at a time (one per actor with Ray).
"""

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from clearhouse.keys import KeyRing
from clearhouse.settings import Settings
from generator.pipeline import ClipPipeline, load_configured_pipeline
from generator.signing_identity import SigningIdentity, configured_signing_identity
from likeness.runtime import LikenessRuntime
from rights.references.catalogue import ReferenceCatalogue


@dataclass
class GeneratorRuntime:
    engine: Engine
    settings: Settings
    keys: KeyRing
    likeness: LikenessRuntime
    catalogue: ReferenceCatalogue
    loaded_pipeline: ClipPipeline | None = None
    """A pipeline already loaded; else the settings' one, on first use."""
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the process shuts down: a running generation stops within a step, and its
    job goes back to the queue."""
    generating: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    """Generations the pipeline runs at once: one in process, one per actor with Ray."""
    _loading: threading.Lock = field(default_factory=threading.Lock)
    _identity: SigningIdentity | None = None

    def pipeline(self) -> ClipPipeline:
        import torch

        with self._loading:
            torch.set_num_threads(self.settings.generator_threads)
            if self.loaded_pipeline is None:
                self.loaded_pipeline = load_configured_pipeline(self.settings)
            return self.loaded_pipeline

    def signing_identity(self) -> SigningIdentity:
        with self._loading:
            if self._identity is None:
                self._identity = configured_signing_identity(self.settings)
            return self._identity
