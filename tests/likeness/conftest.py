"""Shared fixtures of the likeness tests: the real dlib model on the real photos in the
shared data folder (loaded once per session). The app with or without the liveness challenge
(the ``still_photos`` marker) is the suite's (tests/conftest.py)."""

import numpy as np
import pytest
from faces import FACES_DIR

PHOTOS = ("obama.jpg", "obama2.jpg", "obama_partial_face.jpg", "biden.jpg")


@pytest.fixture(scope="session")
def face_photos() -> dict[str, np.ndarray]:
    """The shared test photos as RGB arrays, by file name."""
    from clearhouse.media import decode_image

    missing = [name for name in PHOTOS if not (FACES_DIR / name).is_file()]
    if missing:
        pytest.fail(
            f"face photos missing from {FACES_DIR}: {missing}; set CLEARHOUSE_TEST_FACES_DIR"
        )
    return {name: decode_image((FACES_DIR / name).read_bytes()).rgb for name in PHOTOS}


@pytest.fixture(scope="session")
def dlib_backend():
    from likeness.backends.dlib_backend import DlibFaceBackend

    return DlibFaceBackend()


@pytest.fixture(scope="session")
def dlib_faces(dlib_backend, face_photos):
    """Each photo's detected faces, from one batched call."""
    names = list(face_photos)
    results = dlib_backend.detect_and_embed([face_photos[name] for name in names])
    return dict(zip(names, results, strict=True))
