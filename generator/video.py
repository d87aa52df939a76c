"""Frames to an MP4 file: H.264 (libx264) in yuv420p, what every browser and player plays.

yuv420p halves the colour resolution in both directions, so the width and height must be
even; the pipeline's sizes (multiples of 8) always are. The ``moov`` index is written before
the media (``+faststart``), so a player starts before the whole file has arrived.
"""

from pathlib import Path

import numpy as np
import numpy.typing as npt

# x264's constant quality: 18 is visually lossless for most material, at a fraction of the
# size of lossless.
_QUALITY = 18


def encode_mp4(frames: npt.NDArray[np.uint8], *, fps: int, destination: Path) -> None:
    """Write ``frames`` ((count, height, width, 3) RGB uint8) as an MP4 at ``fps`` frames a
    second; nothing is left at ``destination`` if encoding fails."""
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"give frames as (count, height, width, 3) RGB uint8, not {frames.shape} {frames.dtype}"
        )
    count, height, width, _ = frames.shape
    if count < 1:
        raise ValueError("give at least one frame")
    if width % 2 or height % 2:
        raise ValueError(f"H.264 in yuv420p needs an even width and height, not {width}x{height}")
    if fps < 1:
        raise ValueError(f"give at least one frame a second, not {fps}")
    import av

    try:
        with av.open(
            str(destination), "w", format="mp4", options={"movflags": "+faststart"}
        ) as mp4:
            stream = mp4.add_stream("libx264", rate=fps, options={"crf": str(_QUALITY)})
            stream.width = width
            stream.height = height
            stream.pix_fmt = "yuv420p"
            for frame in frames:
                mp4.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            mp4.mux(stream.encode())  # what the encoder still holds
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
