"""Frames to MP4 (H.264, yuv420p), decoded back with PyAV."""

import av
import numpy as np
import pytest
from clips import moving_square

from generator.video import encode_mp4


def test_frames_encode_to_h264_and_decode_back_alike(tmp_path):
    frames = moving_square(count=7, width=64, height=48)
    path = tmp_path / "clip.mp4"
    encode_mp4(frames, fps=8, destination=path)
    with av.open(str(path)) as mp4:
        stream = mp4.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert stream.average_rate == 8
        decoded = np.stack([frame.to_ndarray(format="rgb24") for frame in mp4.decode(video=0)])
    assert decoded.shape == (7, 48, 64, 3)
    # Lossy, but the same pictures: within a few levels on average, the square where it was.
    assert np.abs(decoded.astype(int) - frames).mean() < 4
    assert decoded[3, 12:20, 16:28].min() > 200


def test_the_index_comes_before_the_media(tmp_path):
    path = tmp_path / "clip.mp4"
    encode_mp4(moving_square(count=2, width=32, height=32), fps=4, destination=path)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((2, 33, 32, 3), dtype=np.uint8), "even width and height"),
        (np.zeros((2, 32, 32), dtype=np.uint8), "RGB uint8"),
        (np.zeros((2, 32, 32, 3), dtype=np.float32), "RGB uint8"),
        (np.zeros((0, 32, 32, 3), dtype=np.uint8), "at least one frame"),
    ],
)
def test_frames_h264_cannot_carry_are_refused_and_nothing_is_written(tmp_path, frames, message):
    path = tmp_path / "clip.mp4"
    with pytest.raises(ValueError, match=message):
        encode_mp4(frames, fps=8, destination=path)
    assert not path.exists()
