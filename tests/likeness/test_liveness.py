"""The liveness challenge, with frames built from synthetic landmarks of a turning head:
the pose sequence, continuity of video frames, and parallax that a flat photo cannot show
however it is warped. Real photos warped and run through dlib: test_liveness_warped_photos.py.
"""

import numpy as np
import pytest
from faces import REAL_TURNS, plane_warp, synthetic_landmarks, synthetic_rigid_landmarks

from likeness.backends.base import DetectedFace, LandmarkLayout
from likeness.liveness import (
    MIN_PARALLAX_PER_SINE,
    PARALLAX_DIRECTIONS,
    PosedFrame,
    check_continuity,
    check_liveness,
    check_pose_sequence,
    new_challenge,
    parallax_per_sine,
)
from likeness.parallax import measure_parallax
from likeness.pose import PoseClass, classify_head_pose, estimate_head_pose

NO_PIXELS = np.zeros((1, 1, 3), np.uint8)  # the pose and continuity checks read landmarks only

ANGLES = {
    PoseClass.FRONTAL: (0, 0),
    PoseClass.LEFT: (35, 0),
    PoseClass.RIGHT: (-35, 0),
    PoseClass.UP: (0, 30),
}


def _frames(poses, *, layout=LandmarkLayout.DLIB_5, seed=3, fps=None):
    """One frame per pose; with ``fps``, consecutive frames of one video taken that often."""
    frames = []
    for number, pose in enumerate(poses):
        yaw, pitch = ANGLES[pose] if isinstance(pose, PoseClass) else pose
        landmarks = synthetic_landmarks(layout=layout, yaw=yaw, pitch=pitch, seed=seed)
        face = DetectedFace(
            box=(0, 0, 200, 200),
            landmarks=landmarks.astype(np.float32),
            landmark_layout=layout,
            detection_score=1.0,
            embedding=np.ones(4, np.float32) / 2,
        )
        frames.append(
            PosedFrame(
                label=f"frame {number}",
                face=face,
                rgb=NO_PIXELS,
                clip=None if fps is None else 1,
                timestamp_s=0.0 if fps is None else number / fps,
            )
        )
    return frames


def test_challenges_start_frontal_and_ask_for_each_turn_once():
    challenges = {tuple(new_challenge()) for _ in range(200)}
    assert all(
        c[0] == PoseClass.FRONTAL
        and sorted(c[1:]) == sorted([PoseClass.LEFT, PoseClass.RIGHT, PoseClass.UP])
        for c in challenges
    )
    assert len(challenges) > 1  # the order is random


@pytest.mark.parametrize("layout", list(LandmarkLayout))
def test_frames_that_follow_the_challenge_pass(layout):
    challenge = [PoseClass.FRONTAL, PoseClass.RIGHT, PoseClass.UP, PoseClass.LEFT]
    assert check_pose_sequence(challenge, _frames(challenge, layout=layout)) is None


def test_a_video_passing_through_other_poses_on_the_way_passes():
    challenge = [PoseClass.FRONTAL, PoseClass.LEFT, PoseClass.UP, PoseClass.RIGHT]
    shown = [
        PoseClass.FRONTAL,
        (10, 0),
        PoseClass.LEFT,
        PoseClass.FRONTAL,
        PoseClass.UP,
        PoseClass.FRONTAL,
        PoseClass.RIGHT,
    ]
    assert check_pose_sequence(challenge, _frames(shown)) is None


def test_the_right_poses_in_the_wrong_order_fail_and_say_which_step():
    challenge = [PoseClass.FRONTAL, PoseClass.LEFT, PoseClass.UP, PoseClass.RIGHT]
    shown = [PoseClass.FRONTAL, PoseClass.RIGHT, PoseClass.UP, PoseClass.LEFT]
    problem = check_liveness(challenge, _frames(shown))
    assert problem is not None
    assert "after frontal, left no frame shows up" in problem


def test_a_still_photo_repeated_fails():
    challenge = [PoseClass.FRONTAL, PoseClass.LEFT, PoseClass.UP, PoseClass.RIGHT]
    problem = check_liveness(challenge, _frames([PoseClass.FRONTAL] * 4))
    assert problem is not None
    assert "no frame shows left" in problem


def test_the_first_frame_must_be_frontal():
    challenge = [PoseClass.FRONTAL, PoseClass.LEFT, PoseClass.UP, PoseClass.RIGHT]
    problem = check_liveness(challenge, _frames([PoseClass.LEFT, *challenge]))
    assert problem == "frame 0 must look straight at the camera (the challenge starts frontal)"


def test_landmarks_that_are_no_face_fail():
    frames = _frames([PoseClass.FRONTAL])
    scrambled = DetectedFace(
        box=(0, 0, 9, 9),
        landmarks=np.array([[0, 0], [100, 3], [7, 90], [50, 50], [3, 200]], np.float32),
        landmark_layout=LandmarkLayout.DLIB_5,
        detection_score=1.0,
        embedding=np.ones(4, np.float32) / 2,
    )
    frames.append(PosedFrame(label="frame 1", face=scrambled, rgb=NO_PIXELS))
    problem = check_liveness([PoseClass.FRONTAL, PoseClass.LEFT], frames)
    assert problem is not None
    assert problem.startswith("frame 1")


def _read_pose(frontal5, turned5):
    """The turn the five-point pose estimate reads, as the challenge classifies it."""
    reference = estimate_head_pose(frontal5, layout=LandmarkLayout.DLIB_5)
    pose = estimate_head_pose(turned5, layout=LandmarkLayout.DLIB_5).relative_to(reference)
    return pose, classify_head_pose(pose)


@pytest.mark.parametrize("seed", range(20))
def test_real_head_turns_show_parallax(seed):
    """Heads of 20 shapes turned 20-45 degrees sideways and 15-30 up pass the depth check."""
    frontal5 = synthetic_landmarks(layout=LandmarkLayout.DLIB_5, yaw=0, pitch=0, seed=seed)
    frontal = synthetic_rigid_landmarks(yaw=0, pitch=0, seed=seed)
    checked = 0
    for yaw, pitch in REAL_TURNS:
        turned5 = synthetic_landmarks(layout=LandmarkLayout.DLIB_5, yaw=yaw, pitch=pitch, seed=seed)
        pose, pose_class = _read_pose(frontal5, turned5)
        if pose_class not in PARALLAX_DIRECTIONS:
            continue  # read as in between: the challenge would not count it, nor check it
        parallax = measure_parallax(
            frontal, synthetic_rigid_landmarks(yaw=yaw, pitch=pitch, seed=seed)
        )
        shown = parallax_per_sine(parallax, pose=pose, pose_class=pose_class)
        assert shown >= MIN_PARALLAX_PER_SINE, (yaw, pitch, pose, shown)
        checked += 1
    assert checked >= len(REAL_TURNS) * 2 // 3  # the rest read as in between


def _flat_warps():
    """Affine and perspective warps of a flat picture, over a range of strengths."""
    warps = [{"shear": s / 100} for s in range(-60, 61, 10) if s]
    warps += [{"squeeze": q / 100} for q in range(50, 91, 10)]
    warps += [{"perspective": (p / 10000, 0.0)} for p in (-20, -10, 10, 20)]
    warps += [{"perspective": (0.0, p / 10000)} for p in (-20, -10, 10, 20)]
    warps += [
        {"shear": s, "squeeze": q, "perspective": (p / 10000, p / 20000)}
        for s in (-0.4, 0.4)
        for q in (0.7, 1.0)
        for p in (-15, 15)
    ]
    return warps


def _apply(homography, points):
    mapped = np.c_[points, np.ones(len(points))] @ homography.T
    return mapped[:, :2] / mapped[:, 2:3]


@pytest.mark.parametrize("seed", range(5))
def test_a_warped_flat_face_shows_no_parallax(seed):
    """Landmarks of one frontal photo, sheared, squeezed and tilted: the pose estimate reads
    turns into many of them, and the depth check refuses every one."""
    rng = np.random.default_rng(seed)
    frontal5 = synthetic_landmarks(layout=LandmarkLayout.DLIB_5, yaw=0, pitch=0, seed=seed)
    frontal = synthetic_rigid_landmarks(yaw=0, pitch=0, seed=seed)
    read_as = set()
    for warp in _flat_warps():
        homography = plane_warp(tuple(frontal.mean(axis=0)), **warp)
        warped5 = _apply(homography, frontal5) + rng.normal(0, 0.5, size=frontal5.shape)
        warped = _apply(homography, frontal) + rng.normal(0, 0.5, size=frontal.shape)
        parallax = measure_parallax(frontal, warped)
        assert np.linalg.norm(parallax) < 0.01, (warp, parallax)
        pose, pose_class = _read_pose(frontal5, warped5)
        if pose_class in PARALLAX_DIRECTIONS:
            read_as.add(pose_class)
            assert parallax_per_sine(parallax, pose=pose, pose_class=pose_class) < (
                MIN_PARALLAX_PER_SINE
            ), (warp, pose)
    # The warps do fool the pose estimate: that is the attack.
    assert {PoseClass.LEFT, PoseClass.RIGHT, PoseClass.UP} <= read_as


def test_a_slideshow_of_stills_in_a_video_is_refused():
    challenge = [PoseClass.FRONTAL, PoseClass.LEFT, PoseClass.UP, PoseClass.RIGHT]
    slideshow = [pose for pose in challenge for _ in range(4)]
    problem = check_liveness(challenge, _frames(slideshow, fps=4))
    assert problem is not None
    assert "frame 4: the head turned" in problem and "slideshow" in problem


def test_a_head_turning_smoothly_in_a_video_is_continuous():
    yaws = [0, 0, 8, 16, 24, 32, 35, 28, 20, 10, 0, -10, -20, -30, -35, -25, -15, -5, 0]
    frames = _frames([(yaw, 0) for yaw in yaws] + [(0, p) for p in (8, 16, 24, 30)], fps=4)
    assert check_continuity(frames) is None
    challenge = [PoseClass.FRONTAL, PoseClass.LEFT, PoseClass.RIGHT, PoseClass.UP]
    assert check_pose_sequence(challenge, frames) is None


def test_separate_photos_are_not_held_to_continuity():
    assert check_continuity(_frames([PoseClass.FRONTAL, PoseClass.LEFT, PoseClass.RIGHT])) is None


def test_a_face_jumping_across_the_picture_is_refused():
    still, moved = _frames([PoseClass.FRONTAL, PoseClass.FRONTAL], fps=4)
    shift = still.face.width  # one face width in a quarter of a second
    jumped = DetectedFace(
        box=(shift, 0, shift + still.face.width, still.face.height),
        landmarks=moved.face.landmarks + np.float32(shift),
        landmark_layout=moved.face.landmark_layout,
        detection_score=1.0,
        embedding=moved.face.embedding,
    )
    frames = [
        still,
        PosedFrame(label="frame 1", face=jumped, rgb=NO_PIXELS, clip=1, timestamp_s=0.25),
    ]
    problem = check_continuity(frames)
    assert problem is not None and "jumped 1.0 face widths" in problem
