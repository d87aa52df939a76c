"""The refused enrolment's layout: the frame the service's refusal names, and the pose read
in each frame when the liveness check's pose sequence failed (messages as
likeness/enrolment_frames.py and likeness/liveness.py write them)."""

from clearhouse.portal.enrolment_report import FrameSeen, enrolment_refusal


def test_the_frame_a_refusal_starts_with_is_named():
    assert enrolment_refusal("upload 3 shows no face; use a photo.").frame == "upload 3"
    refused = enrolment_refusal(
        "upload 1 at 1.5 s does not show the same person as upload 1 at 0.0 s (similarity 0.41)"
    )
    assert refused.frame == "upload 1 at 1.5 s"
    liveness = enrolment_refusal(
        "Liveness check failed: upload 2 must look straight at the camera (the challenge "
        "starts frontal)."
    )
    assert liveness.frame == "upload 2"


def test_a_failed_pose_sequence_lists_each_frames_pose():
    refused = enrolment_refusal(
        "Liveness check failed: the challenge asks for frontal, left, right, up, in that order, "
        "but after frontal no frame shows left (frames showed upload 1 at 0.0 s: frontal, "
        "upload 1 at 0.2 s: in between, upload 1 at 0.5 s: up); record again following the "
        "challenge."
    )
    assert refused.frame is None
    assert refused.poses == [
        FrameSeen("upload 1 at 0.0 s", "frontal"),
        FrameSeen("upload 1 at 0.2 s", "in between"),
        FrameSeen("upload 1 at 0.5 s", "up"),
    ]


def test_a_refusal_naming_no_frame_is_shown_as_it_is():
    message = "Enrolment needs at least 3 frames with one clear face each; 1 usable frame(s)."
    refused = enrolment_refusal(message)
    assert (refused.message, refused.frame, refused.poses) == (message, None, [])
