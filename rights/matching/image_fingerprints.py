"""Perceptual fingerprints of pictures: what stays the same when someone re-encodes, resizes,
crops, recolours or mirrors a registered character's picture before passing it off.

A picture is read as two grey channels: *luma* (what a grayscale copy keeps) and *value*,
the largest of red, green and blue (what a hue shift keeps: turning every hue, in HSV or
HSL, leaves each pixel's largest and smallest component where they were). Each channel gets
three 64-bit hashes from ImageHash: pHash (the signs of the lowest DCT frequencies), dHash
(which neighbour is brighter, column by column) and aHash (above or below the mean). Their
summed Hamming distance tells one picture from another better than any one of them
(``bench/image_matching.py`` and ``tests/rights/matching/`` measure this).

These hashes see the whole frame, so a crop moves every bit. A reference is therefore
hashed in several *views*: itself, its mirror image, and crops of 90%, 80% and 70% of each
side at positions on a grid (``CROP_GRIDS``), so an input cut from anywhere in the picture is
close to one view (the grids' steps are 2.5% to 5% of a side). A stored reference is an
array of (view, channel, hash) words, 61 x 2 x 3 x 8 = 2,928 bytes; an input image is one
view.
"""

import numpy as np
import numpy.typing as npt

#: Bump when the hashing changes: fingerprints of another version are not comparable.
FINGERPRINT_VERSION = "luma-value/phash-dhash-ahash/v1"

#: Pictures are shrunk to this longer side before hashing, so an upload's size does not
#: change its hashes (the hashes read 32x32 at most, from crops of 90 pixels or more).
HASHED_SIDE = 128

#: (share of each side kept, positions per axis) of the crops a reference is hashed in.
CROP_GRIDS = ((0.9, 3), (0.8, 5), (0.7, 5))

CHANNELS = ("luma", "value")
HASHES = ("phash", "dhash", "ahash")
BITS_PER_VIEW = 64 * len(HASHES)

#: Where the cheap first pass looks: the pHash of one channel (see images.py).
PHASH = HASHES.index("phash")

Box = tuple[float, float, float, float]  # left, top, right, bottom, as shares of the sides


def _views() -> tuple[tuple[str, Box], ...]:
    views: list[tuple[str, Box]] = [("whole", (0.0, 0.0, 1.0, 1.0)), ("mirror", (0, 0, 1, 1))]
    for share, positions in CROP_GRIDS:
        steps = np.linspace(0.0, 1.0 - share, positions)
        views += [
            (f"crop {share:.0%}", (left, top, left + share, top + share))
            for top in steps
            for left in steps
        ]
    return tuple(views)


#: The views a reference is hashed in, in the order its fingerprint stores them.
VIEWS = _views()


class UnusablePicture(ValueError):
    """A picture that holds too little to recognise it by (a flat colour, a sliver)."""


#: A reference smaller than this on its shorter side, or longer than ``MAX_ASPECT`` times
#: it, is refused: its crops would be a few pixels across.
MIN_REFERENCE_SIDE = 32
MAX_ASPECT = 4.0

#: Luma or value must vary at least this much (standard deviation, 0-255): a flat picture
#: hashes like every other flat picture.
MIN_CONTRAST = 4.0


def reference_fingerprint(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """The hashes of a registered picture in every view: shape (len(VIEWS), 2, 3).

    Raises :class:`UnusablePicture` for a picture too small or too flat to tell apart.
    """
    height, width = rgb.shape[:2]
    if max(height, width) > MAX_ASPECT * min(height, width):
        raise UnusablePicture(
            f"the picture is {max(height, width) / min(height, width):.0f} times as long as "
            f"it is wide; crop it to at most {MAX_ASPECT:.0f}:1 around the character or style"
        )
    if min(height, width) < MIN_REFERENCE_SIDE:
        raise UnusablePicture(
            f"the picture is {width}x{height} pixels; a reference needs at least "
            f"{MIN_REFERENCE_SIDE} pixels on its shorter side"
        )
    channels = _channels(rgb)
    if max(float(np.std(np.asarray(channel))) for channel in channels) < MIN_CONTRAST:
        raise UnusablePicture(
            "the picture is nearly one flat colour; upload a picture that shows the character "
            "or the style"
        )
    return np.stack(
        [
            np.stack([_hashes(_view(channel, name, box)) for channel in channels])
            for name, box in VIEWS
        ]
    )


def input_fingerprint(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """The hashes of a picture to look up, as it is: shape (2, 3)."""
    return np.stack([_hashes(channel) for channel in _channels(rgb)])


def fingerprint_bytes(fingerprint: npt.NDArray[np.uint64]) -> bytes:
    """The stored form: little-endian words, view by view."""
    return fingerprint.astype("<u8").tobytes()


def fingerprint_from_bytes(data: bytes) -> npt.NDArray[np.uint64]:
    """A stored reference fingerprint back as an array; a wrong size is a corrupt row."""
    words = np.frombuffer(data, dtype="<u8")
    expected = len(VIEWS) * len(CHANNELS) * len(HASHES)
    if words.size != expected:
        raise ValueError(f"a reference fingerprint has {expected} words, this one {words.size}")
    return words.astype(np.uint64).reshape(len(VIEWS), len(CHANNELS), len(HASHES))


def _channels(rgb: npt.NDArray[np.uint8]):  # -> tuple[PIL.Image.Image, PIL.Image.Image]
    from PIL import Image

    if rgb.dtype != np.uint8 or rgb.ndim not in (2, 3) or 0 in rgb.shape[:2]:
        raise ValueError(
            f"expected a uint8 picture of shape (H, W, 3) or (H, W), not {rgb.dtype} "
            f"{rgb.shape}; decode uploads with clearhouse.media first"
        )
    picture = Image.fromarray(rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2))
    picture = picture.convert("RGB")
    if max(picture.size) > HASHED_SIDE:
        scale = HASHED_SIDE / max(picture.size)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    value = Image.fromarray(np.asarray(picture).max(axis=2))
    return picture.convert("L"), value


def _view(channel, name: str, box: Box):
    from PIL import ImageOps

    if name == "mirror":
        return ImageOps.mirror(channel)
    width, height = channel.size
    left, top, right, bottom = box
    return channel.crop(
        (round(left * width), round(top * height), round(right * width), round(bottom * height))
    )


def _hashes(channel) -> npt.NDArray[np.uint64]:
    import imagehash

    bits = (
        imagehash.phash(channel).hash,
        imagehash.dhash(channel).hash,
        imagehash.average_hash(channel).hash,
    )
    return np.array(
        [int.from_bytes(np.packbits(b.ravel()).tobytes(), "big") for b in bits], dtype=np.uint64
    )
