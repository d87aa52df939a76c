"""Head pose from five landmarks: synthetic faces turned by known angles, and real photos."""

import numpy as np
import pytest
from faces import rotation, synthetic_landmarks

from likeness.backends.base import LandmarkLayout
from likeness.pose import (
    CANONICAL_FACE_POINTS,
    HeadPose,
    PoseClass,
    classify_head_pose,
    estimate_head_pose,
)

LAYOUTS = list(LandmarkLayout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("yaw", "pitch", "expected"),
    [
        (0, 0, PoseClass.FRONTAL),
        (4, -3, PoseClass.FRONTAL),
        (35, 0, PoseClass.LEFT),
        (-35, 0, PoseClass.RIGHT),
        (30, 8, PoseClass.LEFT),
        (0, 30, PoseClass.UP),
        (0, -30, PoseClass.DOWN),
        (5, 28, PoseClass.UP),
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_turned_faces_are_classified_from_the_persons_frontal_frame(
    layout, yaw, pitch, expected, seed
):
    """As the liveness challenge uses it: poses measured from the same face's frontal frame."""
    frontal = synthetic_landmarks(layout=layout, yaw=0, pitch=0, roll=5.0, seed=seed)
    neutral = estimate_head_pose(frontal, layout=layout)
    landmarks = synthetic_landmarks(layout=layout, yaw=yaw, pitch=pitch, roll=5.0, seed=seed)
    pose = estimate_head_pose(landmarks, layout=layout).relative_to(neutral)
    assert classify_head_pose(pose) is expected, pose


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("yaw", "pitch", "expected"),
    [
        (0, 0, PoseClass.FRONTAL),
        (30, 0, PoseClass.LEFT),
        (-30, 0, PoseClass.RIGHT),
        (0, 25, PoseClass.UP),
        (0, -25, PoseClass.DOWN),
    ],
)
def test_average_face_is_classified_without_a_frontal_frame(layout, yaw, pitch, expected):
    rotated = CANONICAL_FACE_POINTS[layout] @ rotation(yaw=yaw, pitch=pitch, roll=-8).T
    landmarks = np.stack([rotated[:, 0], -rotated[:, 1]], axis=1) * 2.5 + 300
    pose = estimate_head_pose(landmarks, layout=layout)
    assert classify_head_pose(pose) is expected, pose
    assert pose.yaw == pytest.approx(yaw, abs=0.5) and pose.pitch == pytest.approx(pitch, abs=0.5)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("yaw", [-40, -20, 0, 20, 40])
def test_yaw_is_recovered_within_a_few_degrees(layout, yaw):
    pose = estimate_head_pose(synthetic_landmarks(layout=layout, yaw=yaw, pitch=0), layout=layout)
    assert pose.yaw == pytest.approx(yaw, abs=6)
    assert pose.fit_error < 0.15


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("roll", [-25, 0, 25])
def test_roll_does_not_read_as_a_turn(layout, roll):
    landmarks = synthetic_landmarks(layout=layout, yaw=0, pitch=0, roll=roll)
    pose = estimate_head_pose(landmarks, layout=layout)
    assert pose.roll == pytest.approx(roll, abs=5)
    assert classify_head_pose(pose) is PoseClass.FRONTAL


def test_pose_does_not_depend_on_where_or_how_big_the_face_is():
    layout = LandmarkLayout.ARCFACE_5
    landmarks = synthetic_landmarks(layout=layout, yaw=25, pitch=-10)
    moved = landmarks * 3.0 + np.array([1000.0, -200.0])
    first, second = (
        estimate_head_pose(landmarks, layout=layout),
        estimate_head_pose(moved, layout=layout),
    )
    assert first.yaw == pytest.approx(second.yaw, abs=1e-3)
    assert first.pitch == pytest.approx(second.pitch, abs=1e-3)


def test_in_between_poses_are_not_classified():
    assert classify_head_pose(HeadPose(yaw=16.0, pitch=0.0, roll=0.0, fit_error=0.0)) is None
    assert (
        classify_head_pose(HeadPose(yaw=16.0, pitch=0.0, roll=0.0, fit_error=0.0), turn_min_deg=15)
        is PoseClass.LEFT
    )
    # Both angles past their thresholds: the one furthest past wins.
    assert (
        classify_head_pose(HeadPose(yaw=-21.0, pitch=30.0, roll=0.0, fit_error=0.0)) is PoseClass.UP
    )


def test_rejects_landmarks_that_are_not_five_points():
    with pytest.raises(ValueError, match="5 finite"):
        estimate_head_pose(np.zeros((68, 2)), layout="dlib-5")
    with pytest.raises(ValueError, match="one point"):
        estimate_head_pose(np.ones((5, 2)), layout="arcface-5")


def test_real_photos(dlib_faces):
    """obama.jpg and biden.jpg look into the camera; obama2.jpg is turned toward the
    subject's right (his nose points to the image's left), obama_partial_face.jpg slightly."""
    poses = {
        name: estimate_head_pose(faces[0].landmarks, layout=faces[0].landmark_layout)
        for name, faces in dlib_faces.items()
    }
    assert classify_head_pose(poses["obama.jpg"]) is PoseClass.FRONTAL
    assert classify_head_pose(poses["biden.jpg"]) is PoseClass.FRONTAL
    assert -25 < poses["obama2.jpg"].yaw < -8
    assert -15 < poses["obama_partial_face.jpg"].yaw < 0
    for pose in poses.values():
        assert abs(pose.pitch) < 10
        assert pose.fit_error < 0.05
