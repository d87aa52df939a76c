"""The liveness challenge, with frames built from synthetic landmarks of a turning head."""

import numpy as np
import pytest
from faces import synthetic_landmarks

from likeness.backends.base import DetectedFace, LandmarkLayout
from likeness.liveness import PosedFrame, check_liveness, new_challenge
from likeness.pose import PoseClass

ANGLES = {
    PoseClass.FRONTAL: (0, 0),
    PoseClass.LEFT: (35, 0),
    PoseClass.RIGHT: (-35, 0),
    PoseClass.UP: (0, 30),
}


def _frames(poses, *, layout=LandmarkLayout.DLIB_5, seed=3):
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
        frames.append(PosedFrame(label=f"frame {number}", face=face))
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
    assert check_liveness(challenge, _frames(challenge, layout=layout)) is None


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
    assert check_liveness(challenge, _frames(shown)) is None


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
    frames.append(PosedFrame(label="frame 1", face=scrambled))
    problem = check_liveness([PoseClass.FRONTAL, PoseClass.LEFT], frames)
    assert problem is not None
    assert problem.startswith("frame 1")
