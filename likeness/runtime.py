"""What a running app holds for likeness work: the face backend, the index, the key store.

Built in the app's lifespan. The backend loads on first use (dlib's weights take a second,
and most requests never need them); the index is rebuilt from the vault at start.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from clearhouse.db import after_commit
from clearhouse.settings import Settings
from likeness import vault
from likeness.backends.base import DetectedFace, FaceBackend
from likeness.index import FaceIndex
from likeness.key_store import LikenessKeyStore, open_key_store
from likeness.media import MediaLimits
from likeness.vault_crypto import load_master_key


@cache
def load_backend(name: str, model_dir: Path | None) -> FaceBackend:
    """One backend per process and configuration: models are large and read-only."""
    if name == "insightface":
        from likeness.backends.insightface_backend import InsightFaceBackend

        if model_dir is None:
            raise ValueError(
                "CLEARHOUSE_FACE_BACKEND=insightface needs CLEARHOUSE_INSIGHTFACE_MODEL_DIR: "
                "the folder holding the SCRFD and ArcFace ONNX files"
            )
        return InsightFaceBackend(model_dir=model_dir)
    from likeness.backends.dlib_backend import DlibFaceBackend

    return DlibFaceBackend()


def configured_key_store(settings: Settings) -> LikenessKeyStore:
    """The likeness key store the settings name, its keys wrapped by the master key."""
    master_key = load_master_key(
        key_b64=settings.face_master_key,
        key_file=None if settings.face_master_key else settings.key_dir / "face-master.key",
    )
    return open_key_store(
        path=settings.likeness_key_store_path,
        master_key=master_key,
        main_database_url=settings.resolved_database_url,
    )


@dataclass
class LikenessRuntime:
    settings: Settings
    key_store: LikenessKeyStore
    index: FaceIndex
    generation: int = -1  # the vault generation the index holds (-1: none loaded yet)
    _backend_lock: threading.Lock = field(default_factory=threading.Lock)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, *, settings: Settings, engine: Engine) -> "LikenessRuntime":
        runtime = cls(
            settings=settings,
            key_store=configured_key_store(settings),
            index=FaceIndex(approximate_threshold=settings.face_index_approximate_after),
        )
        if settings.face_backend == "insightface":
            # The operator's model files must load now: a server that cannot scan should not
            # start. (dlib's weights ship with the package and load on first use.)
            load_backend(settings.face_backend, settings.insightface_model_dir)
        with Session(engine) as session:
            runtime.refresh(session)
        return runtime

    def refresh(self, session: Session) -> None:
        """Rebuild the index from the vault if another process changed the active templates."""
        current = vault.index_generation(session)
        if current == self.generation:
            return
        with self._sync_lock:
            if current != self.generation:
                templates = vault.open_templates(session, key_store=self.key_store)
                self.index.rebuild(templates=templates)
                self.generation = current

    def change_index(self, session: Session, change: Callable[[FaceIndex], object]) -> None:
        """Count a change to the active templates now; apply it to this index on commit."""
        generation = vault.advance_index_generation(session)

        def apply() -> None:
            change(self.index)
            if self.generation == generation - 1:  # in step before: now in step again
                self.generation = generation

        after_commit(session, apply)

    @property
    def backend(self) -> FaceBackend:
        return load_backend(self.settings.face_backend, self.settings.insightface_model_dir)

    @property
    def match_threshold(self) -> float:
        configured = self.settings.face_match_threshold
        return configured if configured is not None else self.backend.default_match_threshold

    @property
    def media_limits(self) -> MediaLimits:
        return MediaLimits(
            max_bytes=self.settings.scan_max_bytes,
            max_pixels=self.settings.scan_max_pixels,
            max_video_seconds=self.settings.scan_max_video_seconds,
        )

    def detect_and_embed(self, frames: list[np.ndarray]) -> list[list[DetectedFace]]:
        # One model instance per process; its native code is not documented as thread-safe.
        with self._backend_lock:
            return self.backend.detect_and_embed(frames)


def get_likeness(request: Request) -> LikenessRuntime:
    return request.app.state.likeness


LikenessDep = Annotated[LikenessRuntime, Depends(get_likeness)]
