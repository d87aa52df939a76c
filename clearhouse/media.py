"""Decode uploaded images and videos into RGB frames, refusing what is unsafe or unusable.

Images (JPEG, PNG, WebP) are decoded with Pillow, turned upright from their EXIF
orientation; videos (MP4/MOV, WebM/Matroska, AVI) with PyAV, sampled at ``sample_fps``.
Every frame is shrunk to at most ``max_side`` pixels on its longer side while it is decoded
(a JPEG is decoded at 1/2, 1/4 or 1/8 scale straight from its DCT), since what reads the
frames (face detection, image hashes) gains nothing from more. Every size is checked from
the headers before any pixel is decoded, and all the uploads of one request share one
:class:`PixelBudget`, so a small file that would expand to gigabytes (a decompression bomb)
is refused or shrunk cheaply. PyAV is imported only when a video arrives.
"""

import io
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from clearhouse.errors import ClearhouseError

SUPPORTED_MEDIA = "JPEG, PNG or WebP images, or MP4, MOV, WebM, MKV or AVI videos"


class MediaError(ClearhouseError):
    """Uploaded media that cannot be used; ``detail`` says what to send instead."""

    status_code = 400
    slug = "unusable-media"
    title = "Unusable media"


class UnsupportedMedia(MediaError):
    status_code = 415
    slug = "unsupported-media"
    title = "Unsupported media type"


class MediaTooLarge(MediaError):
    status_code = 413
    slug = "media-too-large"
    title = "Media too large"


class MediaTooLong(MediaTooLarge):
    slug = "media-too-long"
    title = "Video too long"


class CorruptMedia(MediaError):
    status_code = 400
    slug = "corrupt-media"
    title = "Corrupt media"


class EmptyMedia(MediaError):
    status_code = 400
    slug = "empty-media"
    title = "Empty media"


class TooManyPixels(MediaTooLarge):
    slug = "too-many-pixels"
    title = "Too many pixels in one request"


#: Every refusal of :func:`decode_uploads`, for the routes that declare what they raise.
DECODING_ERRORS = (
    UnsupportedMedia,
    MediaTooLarge,
    MediaTooLong,
    TooManyPixels,
    CorruptMedia,
    EmptyMedia,
)


@dataclass(frozen=True)
class MediaLimits:
    """What an upload may be: bytes on the wire, pixels per frame, seconds of video; and what
    one request's uploads together may cost: pixels decoded, pixels kept for what reads them."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_video_seconds: float = 30.0
    # A video may not hold more frames than this many per second of its length (guards
    # against streams whose timestamps lie).
    max_decoded_fps: float = 240.0
    max_side: int = 1280
    max_request_pixels: int = 64_000_000
    max_request_decoded_pixels: int = 2_000_000_000


class PixelBudget:
    """The pixels one request may still cost, shared by all its uploads.

    ``decoded`` counts what decoders produce: every frame of a video (sampled or not, at the
    stream's size), an image at the size it is decoded at (a JPEG after DCT scaling); it
    bounds the CPU a request takes. ``kept`` counts the frames kept (for face detection,
    for hashing), after shrinking; it bounds the memory a request holds and the time spent
    reading them.
    """

    def __init__(self, limits: MediaLimits) -> None:
        self.limits = limits
        self.decoded = 0
        self.kept = 0

    def check_ahead(self, *, decoded: int, kept: int) -> None:
        """Refuse now, before decoding, what the headers say would not fit."""
        self._check(decoded=self.decoded + decoded, kept=self.kept + kept)

    def charge(self, *, decoded: int = 0, kept: int = 0) -> None:
        self.decoded += decoded
        self.kept += kept
        self._check(decoded=self.decoded, kept=self.kept)

    def _check(self, *, decoded: int, kept: int) -> None:
        limits = self.limits
        if decoded > limits.max_request_decoded_pixels:
            raise TooManyPixels(
                f"the uploads of this request decode to at least {decoded} pixels (every video "
                f"frame counts), over the limit of {limits.max_request_decoded_pixels}; send a "
                "shorter or lower-resolution video, or fewer files"
            )
        if kept > limits.max_request_pixels:
            raise TooManyPixels(
                f"the uploads of this request make at least {kept} pixels of frames to examine "
                f"(frames shrunk to {limits.max_side} px), over the limit of "
                f"{limits.max_request_pixels}; send fewer photos or a shorter video"
            )


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame: RGB uint8 (H, W, 3), its index in the source, its time in seconds.

    For an image, index and timestamp are 0. For a video, ``index`` counts every frame the
    stream decoded (not only the sampled ones) and ``timestamp_s`` is from the stream start.
    ``scale`` is how many source pixels one pixel of ``rgb`` stands for (1.0 when the frame
    was not shrunk): boxes found in ``rgb`` are mapped back with :meth:`source_box`.
    """

    index: int
    timestamp_s: float
    rgb: np.ndarray
    scale: float = 1.0

    def source_box(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A (left, top, right, bottom) box in ``rgb`` pixels, in pixels of the upload."""
        left, top, right, bottom = (round(v * self.scale) for v in box)
        return left, top, right, bottom


def sniff_media_kind(data: bytes) -> str | None:
    """ "image", "video" or None, from the file's leading bytes (never from its name)."""
    if data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image"
    if data[4:8] == b"ftyp" or data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "video"
    return None


def decode_uploads(
    uploads: list[bytes], *, limits: MediaLimits | None = None, sample_fps: float = 2.0
) -> list[list[Frame]]:
    """Decode every upload of one request, one list of frames per upload, within one budget."""
    limits = limits or MediaLimits()
    budget = PixelBudget(limits)
    return [
        decode_media(data, limits=limits, sample_fps=sample_fps, budget=budget) for data in uploads
    ]


def decode_media(
    data: bytes,
    *,
    limits: MediaLimits | None = None,
    sample_fps: float = 2.0,
    budget: PixelBudget | None = None,
) -> list[Frame]:
    """Decode an uploaded image (one frame) or video (frames every 1/``sample_fps`` s)."""
    limits = limits or MediaLimits()
    _check_bytes(data, limits=limits)
    kind = sniff_media_kind(data)
    if kind == "image":
        return [decode_image(data, limits=limits, budget=budget)]
    if kind == "video":
        return decode_video(data, limits=limits, sample_fps=sample_fps, budget=budget)
    raise UnsupportedMedia(f"this file is not a supported image or video; send {SUPPORTED_MEDIA}")


def decode_image(
    data: bytes, *, limits: MediaLimits | None = None, budget: PixelBudget | None = None
) -> Frame:
    """Decode a JPEG, PNG or WebP image into one upright RGB frame of at most ``max_side``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    limits = limits or MediaLimits()
    budget = budget or PixelBudget(limits)
    _check_bytes(data, limits=limits)
    with warnings.catch_warnings():
        # Our own pixel limit is checked below, before decoding; Pillow's is a backstop.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"])
        except Image.DecompressionBombError as error:
            raise _too_many_pixels(None, limits) from error
        except UnidentifiedImageError as error:
            if sniff_media_kind(data) == "image":
                raise CorruptMedia(
                    "the image's header is damaged and it cannot be read; export it again "
                    "and upload the new file"
                ) from error
            raise UnsupportedMedia(
                f"this file is not a supported image; send {SUPPORTED_MEDIA}"
            ) from error
        except OSError as error:  # cut short inside the header segments Pillow reads at once
            raise CorruptMedia(
                f"the image ends inside its header ({error}); upload the complete file again"
            ) from error
        width, height = image.size
        if width * height > limits.max_pixels:
            raise _too_many_pixels((width, height), limits)
        if width == 0 or height == 0:
            raise EmptyMedia("the image has no pixels; upload another image")
        target = shrunk_size(width, height, max_side=limits.max_side)
        image.draft("RGB", target)  # a JPEG now decodes at the smallest DCT scale >= target
        budget.charge(decoded=image.width * image.height, kept=target[0] * target[1])
        try:
            image.load()
            if image.mode in ("1", "P", "PA"):  # resampling these would pick nearest colours
                image = image.convert("RGB")
            if image.size != target:
                image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
            upright = ImageOps.exif_transpose(image) or image
            rgb = np.asarray(upright.convert("RGB"))
        except (OSError, SyntaxError, ValueError) as error:
            raise CorruptMedia(
                f"the image is corrupt or truncated ({error}); upload the complete file again"
            ) from error
    return Frame(index=0, timestamp_s=0.0, rgb=rgb, scale=max(width, height) / max(target))


def decode_video(
    data: bytes,
    *,
    limits: MediaLimits | None = None,
    sample_fps: float = 2.0,
    budget: PixelBudget | None = None,
) -> list[Frame]:
    """Decode a video's first video stream, keeping about ``sample_fps`` frames per second."""
    import av

    limits = limits or MediaLimits()
    budget = budget or PixelBudget(limits)
    if sample_fps <= 0:
        raise ValueError("sample_fps must be positive")
    _check_bytes(data, limits=limits)
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except av.error.EOFError as error:
        raise EmptyMedia(
            "the video ends before its first frame: it is empty or was cut short; upload "
            "the complete video"
        ) from error
    except av.FFmpegError as error:
        if sniff_media_kind(data) == "video":
            raise CorruptMedia(
                "the video's container is damaged or incomplete and cannot be read; export "
                "it again and upload the complete file"
            ) from error
        raise UnsupportedMedia(
            f"this file is not a supported video; send {SUPPORTED_MEDIA}"
        ) from error
    with container:
        if not container.streams.video:
            raise EmptyMedia("the file holds no video stream; upload a video with pictures")
        stream = container.streams.video[0]
        _check_video_header(container, stream, limits=limits, budget=budget, sample_fps=sample_fps)
        # One thread per decode: each frame thread holds frames of its own (24 MB each at
        # 4000x4000); parallelism comes from the runtime's media threads instead.
        stream.codec_context.thread_count = 1
        return _sample_frames(
            container, stream, limits=limits, budget=budget, sample_fps=sample_fps
        )


def shrunk_size(width: int, height: int, *, max_side: int) -> tuple[int, int]:
    """(width, height) scaled down, aspect kept, so the longer side is at most ``max_side``."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_video_header(
    container: Any, stream: Any, *, limits: MediaLimits, budget: PixelBudget, sample_fps: float
) -> None:
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > limits.max_pixels:
        raise _too_many_pixels((width, height), limits)
    seconds = None
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / 1_000_000
    if seconds is not None and seconds > limits.max_video_seconds:
        raise _too_long(seconds, limits)
    frames = stream.frames or (
        math.ceil(seconds * float(stream.average_rate))
        if seconds is not None and stream.average_rate
        else 0
    )
    sampled = min(frames, math.floor(seconds * sample_fps) + 1) if seconds is not None else 0
    kept_width, kept_height = shrunk_size(width, height, max_side=limits.max_side)
    # What the headers promise; a stream that lies is still counted frame by frame.
    budget.check_ahead(decoded=frames * width * height, kept=sampled * kept_width * kept_height)


def _sample_frames(
    container: Any, stream: Any, *, limits: MediaLimits, budget: PixelBudget, sample_fps: float
) -> list[Frame]:
    import av

    interval = 1.0 / sample_fps
    max_decoded = max(1, int(limits.max_video_seconds * limits.max_decoded_fps))
    rate = float(stream.average_rate) if stream.average_rate else None
    frames: list[Frame] = []
    next_sample = 0.0
    start: float | None = None
    decoded = 0
    try:
        for frame in container.decode(stream):
            if frame.width * frame.height > limits.max_pixels:
                raise _too_many_pixels((frame.width, frame.height), limits)
            budget.charge(decoded=frame.width * frame.height)
            if frame.time is not None:
                start = frame.time if start is None else start
                timestamp = frame.time - start
            else:
                timestamp = decoded / rate if rate else float(decoded)
            if timestamp > limits.max_video_seconds:
                raise _too_long(timestamp, limits)
            if decoded >= max_decoded:
                raise _too_long(decoded / limits.max_decoded_fps, limits)
            if timestamp + 1e-6 >= next_sample:
                width, height = shrunk_size(frame.width, frame.height, max_side=limits.max_side)
                budget.charge(kept=width * height)
                rgb = frame.to_ndarray(
                    width=width, height=height, format="rgb24", interpolation="AREA"
                )
                frames.append(
                    Frame(
                        index=decoded,
                        timestamp_s=round(timestamp, 6),
                        rgb=rgb,
                        scale=max(frame.width, frame.height) / max(width, height),
                    )
                )
                next_sample = (int((timestamp + 1e-6) / interval) + 1) * interval
            decoded += 1
    except av.FFmpegError as error:
        if not frames:
            raise CorruptMedia(
                f"the video could not be decoded ({error}); export it again with a common "
                "codec (H.264 in MP4) and upload the complete file"
            ) from error
        # A damaged tail after good frames: keep what decoded, as players do.
    if not frames:
        raise EmptyMedia("the video has no frames; upload the complete video")
    return frames


def _check_bytes(data: bytes, *, limits: MediaLimits) -> None:
    if not data:
        raise EmptyMedia(f"the upload is empty; send {SUPPORTED_MEDIA}")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"the upload is {len(data)} bytes, over the limit of {limits.max_bytes}; send a "
            "smaller or more compressed file"
        )


def _too_many_pixels(size: tuple[int, int] | None, limits: MediaLimits) -> MediaTooLarge:
    shown = f"is {size[0]}x{size[1]} pixels" if size else "has too many pixels"
    return MediaTooLarge(
        f"the media {shown}, over the limit of {limits.max_pixels} pixels per frame; "
        "downscale it and upload it again"
    )


def _too_long(seconds: float, limits: MediaLimits) -> MediaTooLong:
    return MediaTooLong(
        f"the video runs {seconds:.1f} s, over the limit of {limits.max_video_seconds:g} s; "
        "trim it and upload it again"
    )
