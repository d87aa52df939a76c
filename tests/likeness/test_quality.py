"""Face quality: real photos pass; blurred or small faces fail with a reason."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from likeness.backends.base import DetectedFace, LandmarkLayout
from likeness.quality import DEFAULT_MIN_FACE_PX, assess_face_quality, laplacian_variance


def test_sharp_real_faces_are_acceptable(dlib_faces, face_photos):
    for name, faces in dlib_faces.items():
        quality = assess_face_quality(face_photos[name], faces[0])
        assert quality.acceptable, (name, quality)
        # Well past the minimum, even with the photos shrunk to 1280 px when decoded.
        assert quality.face_px >= 2 * DEFAULT_MIN_FACE_PX


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg"])
def test_blurred_face_is_rejected_as_blurred(dlib_faces, face_photos, name):
    face = dlib_faces[name][0]
    blurred = Image.fromarray(face_photos[name]).filter(ImageFilter.GaussianBlur(0.02 * face.width))
    quality = assess_face_quality(np.asarray(blurred), face)
    assert not quality.acceptable
    assert "blurred" in quality.reason
    assert quality.sharpness < assess_face_quality(face_photos[name], face).sharpness / 5


def test_small_face_is_rejected_as_too_small(dlib_faces, face_photos):
    face = dlib_faces["obama.jpg"][0]
    quality = assess_face_quality(face_photos["obama.jpg"], face, min_face_px=face.width + 10)
    assert not quality.acceptable
    assert "move closer" in quality.reason


def test_face_box_reaching_past_the_frame_is_measured_on_what_is_inside():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(100, 100, 3), dtype=np.uint8)
    face = DetectedFace(
        box=(-50, -50, 150, 150),
        landmarks=np.zeros((5, 2), np.float32),
        landmark_layout=LandmarkLayout.DLIB_5,
        detection_score=1.0,
        embedding=np.zeros(128, np.float32),
    )
    quality = assess_face_quality(image, face, min_face_px=100)
    assert quality.acceptable and quality.sharpness > 1000


def test_laplacian_variance_is_zero_for_a_flat_or_linear_image():
    assert laplacian_variance(np.full((20, 20), 90.0)) == 0.0
    ramp = np.add.outer(np.arange(20.0), 2 * np.arange(20.0))
    assert laplacian_variance(ramp) == pytest.approx(0.0)
    checker = np.indices((20, 20)).sum(axis=0) % 2 * 255.0
    assert laplacian_variance(checker) > 1e5
