"""Decoding uploads: images and videos made here, and every way an upload can be unusable."""

import io
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from clearhouse.media import (
    CorruptMedia,
    EmptyMedia,
    MediaError,
    MediaLimits,
    MediaTooLarge,
    MediaTooLong,
    PixelBudget,
    TooManyPixels,
    UnsupportedMedia,
    decode_image,
    decode_media,
    decode_uploads,
    decode_video,
)


def make_image(*, fmt: str = "PNG", size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def make_video(
    *, seconds: float = 2.0, fps: int = 10, codec: str = "libx264", container: str = "mp4"
) -> bytes:
    """A video whose frame i is a flat grey of level 10 * i (mod 250), to tell frames apart."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        output.start_encoding()
        for i in range(round(seconds * fps)):
            pixels = np.full((48, 64, 3), 10 * i % 250, dtype=np.uint8)
            output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(stream.encode())
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_images_decode_to_one_rgb_frame(fmt):
    frames = decode_media(make_image(fmt=fmt))
    assert len(frames) == 1
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    assert (frames[0].index, frames[0].timestamp_s) == (0, 0.0)


def test_palette_and_alpha_images_become_rgb():
    assert decode_media(make_image(mode="RGBA")).pop().rgb.shape == (48, 64, 3)
    assert decode_media(make_image(mode="P")).pop().rgb.shape == (48, 64, 3)


def _sideways_jpeg(width: int, height: int) -> bytes:
    """A JPEG stored sideways: its EXIF orientation says display it turned 90 degrees
    clockwise."""
    image = Image.new("RGB", (width, height), "white")
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_exif_orientation_is_applied():
    assert decode_image(_sideways_jpeg(60, 30)).rgb.shape == (60, 30, 3)


@pytest.mark.parametrize(
    ("codec", "container"), [("libx264", "mp4"), ("mpeg4", "avi"), ("libvpx", "webm")]
)
def test_video_is_sampled_at_the_requested_rate(codec, container):
    frames = decode_media(make_video(codec=codec, container=container), sample_fps=2.0)
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.5, 1.0, 1.5], abs=1e-3)
    assert [f.index for f in frames] == [0, 5, 10, 15]
    # Frame 5 was encoded as grey level 50; lossy codecs keep it close.
    assert abs(float(frames[1].rgb.mean()) - 50) < 4
    assert all(f.rgb.shape == (48, 64, 3) for f in frames)


def test_sampling_faster_than_the_video_keeps_every_frame():
    frames = decode_media(make_video(seconds=1.0, fps=5), sample_fps=30.0)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]


def test_not_media_is_unsupported_with_what_to_send():
    with pytest.raises(UnsupportedMedia, match="send JPEG, PNG or WebP") as caught:
        decode_media(b"%PDF-1.7 this is a document, not a photo" * 10)
    assert caught.value.status_code == 415


def test_gif_is_unsupported():
    with pytest.raises(UnsupportedMedia):
        decode_media(make_image(fmt="GIF"))


def test_empty_upload():
    with pytest.raises(EmptyMedia) as caught:
        decode_media(b"")
    assert caught.value.status_code == 400


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_corrupt(fmt):
    data = make_image(fmt=fmt, size=(200, 200))
    with pytest.raises(CorruptMedia, match="upload the complete file") as caught:
        decode_media(data[: len(data) // 2])
    assert caught.value.status_code == 400


def test_an_image_cut_short_inside_its_header_is_corrupt():
    """Pillow reads a JPEG's header segments (EXIF, ...) as it opens it."""
    exif = Image.Exif()
    exif[0x010E] = "a description long enough to cut the file inside it " * 20
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), (90, 120, 30)).save(buffer, format="JPEG", exif=exif)
    data = buffer.getvalue()
    with pytest.raises(CorruptMedia, match="upload the complete file") as caught:
        decode_media(data[:120])
    assert caught.value.status_code == 400


def test_image_with_a_damaged_header_is_corrupt():
    data = bytearray(make_image(fmt="PNG"))
    data[12:30] = bytes(18)
    with pytest.raises(CorruptMedia):
        decode_media(bytes(data))


def test_oversized_pixel_count_is_refused_before_decoding():
    # A 12000x12000 PNG of one colour compresses to a small file: a decompression bomb.
    buffer = io.BytesIO()
    Image.new("L", (12000, 12000)).save(buffer, format="PNG")
    data = buffer.getvalue()
    assert len(data) < 2_000_000
    with pytest.raises(MediaTooLarge, match="12000x12000 pixels") as caught:
        decode_media(data, limits=MediaLimits(max_pixels=10_000_000))
    assert caught.value.status_code == 413


def test_pillows_own_bomb_limit_also_reads_as_too_large(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(MediaTooLarge, match="too many pixels"):
        decode_media(make_image(size=(64, 48)), limits=MediaLimits(max_pixels=10**9))


def test_too_many_bytes():
    with pytest.raises(MediaTooLarge, match="smaller or more compressed"):
        decode_media(make_image(), limits=MediaLimits(max_bytes=100))


def test_video_frame_too_large_in_pixels():
    with pytest.raises(MediaTooLarge, match="64x48"):
        decode_media(make_video(), limits=MediaLimits(max_pixels=1000))


def test_video_too_long():
    with pytest.raises(MediaTooLong, match="trim it") as caught:
        decode_media(make_video(seconds=3.0), limits=MediaLimits(max_video_seconds=2.0))
    assert caught.value.status_code == 413


@pytest.mark.parametrize("container", ["mp4", "matroska"])
def test_zero_frame_video_is_empty(container):
    data = make_video(seconds=0, codec="mpeg4", container=container)
    assert data  # a real container with its header, just no frames
    with pytest.raises(EmptyMedia, match="upload"):
        decode_media(data)


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated_video_is_corrupt(keep):
    data = make_video()
    with pytest.raises(MediaError) as caught:
        decode_media(data[: int(len(data) * keep)])
    assert isinstance(caught.value, CorruptMedia | EmptyMedia)
    assert caught.value.status_code == 400


def test_errors_are_platform_errors_with_problem_fields():
    from clearhouse.errors import ClearhouseError

    with pytest.raises(ClearhouseError) as caught:
        decode_media(b"not media at all")
    assert caught.value.slug == "unsupported-media"
    assert caught.value.title and caught.value.detail


def jpeg_bomb(*, width: int, height: int) -> bytes:
    """A 16x16 JPEG whose header claims ``width`` x ``height``: a few hundred bytes that a
    decoder would expand to the full claimed frame."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 90, 60)).save(buffer, format="JPEG", quality=50)
    data = bytearray(buffer.getvalue())
    start_of_frame = data.index(b"\xff\xc0")
    data[start_of_frame + 5 : start_of_frame + 9] = height.to_bytes(2, "big") + width.to_bytes(
        2, "big"
    )
    return bytes(data)


_DECODE_PEAK = """
import sys
from pathlib import Path
from clearhouse.media import decode_media, MediaLimits

def peak_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

data = Path(sys.argv[1]).read_bytes()
decode_media(Path(sys.argv[2]).read_bytes())  # load Pillow's and NumPy's code first
before = peak_mib()
try:
    frame, = decode_media(data, limits=MediaLimits(max_side=int(sys.argv[3])))
    outcome = "x".join(map(str, frame.rgb.shape))
except Exception as error:
    outcome = type(error).__name__
print(outcome, peak_mib() - before)
"""


def _decode_peak(tmp_path, data: bytes, *, max_side: int = 1280) -> tuple[str, float]:
    """Decode ``data`` in a fresh process: its outcome and how far its peak RSS grew (MiB)."""
    upload, warm_up = tmp_path / "upload", tmp_path / "warm-up"
    upload.write_bytes(data)
    warm_up.write_bytes(make_image(fmt="JPEG", size=(64, 64)))
    result = subprocess.run(
        [sys.executable, "-c", _DECODE_PEAK, str(upload), str(warm_up), str(max_side)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    outcome, growth = result.stdout.split()
    return outcome, float(growth)


def test_a_jpeg_bomb_is_decoded_small_without_allocating_its_claimed_frame(tmp_path):
    bomb = jpeg_bomb(width=6000, height=6600)
    assert len(bomb) < 1000
    full_frame_mib = 6000 * 6600 * 3 / 2**20  # 113 MiB as RGB
    outcome, growth = _decode_peak(tmp_path, bomb)
    assert outcome == "1280x1164x3"
    assert growth < full_frame_mib / 3


def test_a_large_jpeg_is_shrunk_while_decoded_and_turned_upright():
    budget = PixelBudget(MediaLimits())
    frame = decode_image(_sideways_jpeg(4000, 2000), budget=budget)
    assert frame.rgb.shape == (1280, 640, 3)
    assert frame.scale == pytest.approx(4000 / 1280)
    # Decoded at 1/2 scale from the DCT (the smallest scale at least 1280 wide), not in full.
    assert budget.decoded == 2000 * 1000
    assert budget.kept == 1280 * 640


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_other_images_are_shrunk_after_decoding(fmt):
    frame = decode_image(make_image(fmt=fmt, size=(900, 600)), limits=MediaLimits(max_side=300))
    assert frame.rgb.shape == (200, 300, 3)
    assert frame.source_box((30, 60, 90, 120)) == (90, 180, 270, 360)


def test_one_requests_uploads_share_one_pixel_budget():
    photo = make_image(fmt="PNG", size=(100, 100))
    limits = MediaLimits(max_request_pixels=25_000)
    assert len(decode_uploads([photo, photo], limits=limits)) == 2
    with pytest.raises(TooManyPixels, match="limit of 25000") as caught:
        decode_uploads([photo, photo, photo], limits=limits)
    assert caught.value.status_code == 413


def make_large_video(*, side: int, frames: int, fps: int = 4, format: str = "mp4") -> bytes:
    """Flat grey ``side`` x ``side`` frames: a few kilobytes that decode to megapixels each."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=format) as output:
        stream = output.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = side, side, "yuv420p"
        picture = av.VideoFrame.from_ndarray(np.full((side, side, 3), 128, np.uint8), "rgb24")
        for _ in range(frames):
            output.mux(stream.encode(picture))
        output.mux(stream.encode())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def video_4000() -> bytes:
    return make_large_video(side=4000, frames=8)


def test_a_video_of_4000px_frames_is_decoded_within_the_pixel_budget(video_4000):
    assert len(video_4000) < 200_000
    budget = PixelBudget(MediaLimits())
    frames = decode_video(video_4000, budget=budget, sample_fps=2.0)
    assert [f.timestamp_s for f in frames] == [0.0, 0.5, 1.0, 1.5]
    assert {f.rgb.shape for f in frames} == {(1280, 1280, 3)}
    assert budget.decoded == 8 * 4000 * 4000  # every frame decoded, sampled or not
    assert budget.kept == 4 * 1280 * 1280


def test_a_video_over_the_decode_budget_is_refused_from_its_header(video_4000):
    budget = PixelBudget(MediaLimits(max_request_decoded_pixels=100_000_000))
    with pytest.raises(TooManyPixels, match="every video frame counts"):
        decode_video(video_4000, budget=budget)
    assert budget.decoded == 0  # refused before the first frame was decoded


def test_a_video_over_the_kept_budget_is_refused_from_its_header(video_4000):
    budget = PixelBudget(MediaLimits(max_request_pixels=3 * 1280 * 1280))
    with pytest.raises(TooManyPixels, match="pixels of frames to examine"):
        decode_video(video_4000, budget=budget, sample_fps=2.0)
    assert budget.decoded == 0


def test_a_stream_without_length_in_its_header_is_counted_frame_by_frame():
    raw = make_large_video(side=1000, frames=8, format="h264")  # no container: no duration
    budget = PixelBudget(MediaLimits(max_request_decoded_pixels=5 * 1000 * 1000))
    with pytest.raises(TooManyPixels):
        decode_video(raw, budget=budget)
    assert budget.decoded == 6 * 1000 * 1000  # the sixth frame broke the budget
