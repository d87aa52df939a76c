"""The image check's quality set, drawn here (nothing downloaded): invented characters, the
edits people make to a registered picture before passing it off, and pictures that must not
match.

A character is a seeded drawing with Pillow: a backdrop (flat, gradient, stripes or dots), a
body, a head with eyes and a mouth, limbs and an accessory, each shape, colour and texture
drawn from the seed, so fifty seeds make fifty different characters of one cartoon style
(which makes them harder to tell apart than unrelated photos are). ``EDITS`` are the
positives: each turns a registered picture into what a requester might upload.
``unrelated_pictures`` are the negatives besides other characters: noise, gradients, shapes
and the shared face photos.
"""

import colorsys
import io
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

SIZE = 256

Edit = Callable[[Image.Image, np.random.Generator], Image.Image]


def _colour(rng: np.random.Generator, *, light: bool | None = None) -> tuple[int, int, int]:
    hue = rng.random()
    saturation = 0.45 + 0.55 * rng.random()
    if light is None:
        value = 0.35 + 0.65 * rng.random()
    else:
        value = 0.85 + 0.15 * rng.random() if light else 0.25 + 0.35 * rng.random()
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _backdrop(rng: np.random.Generator) -> Image.Image:
    first, second = _colour(rng), _colour(rng)
    style = rng.integers(4)
    image = Image.new("RGB", (SIZE, SIZE), first)
    draw = ImageDraw.Draw(image)
    if style == 1:  # a gradient, at a random angle
        angle = rng.random() * 2 * np.pi
        ys, xs = np.mgrid[0:SIZE, 0:SIZE] / SIZE
        t = np.clip((xs - 0.5) * np.cos(angle) + (ys - 0.5) * np.sin(angle) + 0.5, 0, 1)
        pixels = (1 - t)[..., None] * np.array(first) + t[..., None] * np.array(second)
        image = Image.fromarray(pixels.astype(np.uint8))
    elif style == 2:  # stripes
        width = int(rng.integers(10, 40))
        for offset in range(-SIZE, 2 * SIZE, 2 * width):
            draw.polygon(
                [
                    (offset, 0),
                    (offset + width, 0),
                    (offset + width - SIZE // 2, SIZE),
                    (offset - SIZE // 2, SIZE),
                ],
                fill=second,
            )
    elif style == 3:  # dots
        step = int(rng.integers(20, 48))
        radius = int(rng.integers(3, step // 3))
        for y in range(step // 2, SIZE, step):
            for x in range(step // 2, SIZE, step):
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=second)
    return image


def _texture(image: Image.Image, mask: Image.Image, rng: np.random.Generator) -> None:
    """Stripes, checks or spots of another colour inside ``mask``."""
    style = rng.integers(4)
    if style == 0:
        return
    pattern = Image.new("RGB", image.size, _colour(rng))
    draw = ImageDraw.Draw(pattern)
    base = _colour(rng)
    step = int(rng.integers(8, 24))
    for i in range(0, SIZE, step):
        if style == 1:
            draw.rectangle([0, i, SIZE, i + step // 2], fill=base)
        elif style == 2:
            for j in range(0, SIZE, step):
                if (i // step + j // step) % 2:
                    draw.rectangle([j, i, j + step, i + step], fill=base)
        else:
            for j in range(0, SIZE, step):
                draw.ellipse([j, i, j + step // 2, i + step // 2], fill=base)
    textured = Image.composite(pattern, image, mask)
    image.paste(textured)


def draw_character(seed: int) -> Image.Image:
    """One invented character, the same for the same seed."""
    rng = np.random.default_rng(seed)
    image = _backdrop(rng)
    draw = ImageDraw.Draw(image)
    cx = SIZE // 2 + int(rng.integers(-40, 41))
    body_w, body_h = int(rng.integers(50, 110)), int(rng.integers(60, 120))
    body_top = int(rng.integers(100, 140))
    body_box = [cx - body_w // 2, body_top, cx + body_w // 2, body_top + body_h]
    outline = _colour(rng, light=False)
    limb_colour = _colour(rng)
    for _ in range(int(rng.integers(2, 5))):  # limbs first, the body covers their roots
        start = (cx + int(rng.integers(-body_w // 2, body_w // 2)), body_top + body_h // 2)
        end = (int(rng.integers(10, SIZE - 10)), int(rng.integers(body_top, SIZE - 5)))
        draw.line([start, end], fill=limb_colour, width=int(rng.integers(6, 16)))
    mask = Image.new("L", image.size, 0)
    mask_draw = ImageDraw.Draw(mask)
    shape = rng.integers(3)
    if shape == 0:
        mask_draw.ellipse(body_box, fill=255)
    elif shape == 1:
        mask_draw.rounded_rectangle(body_box, radius=int(rng.integers(5, 30)), fill=255)
    else:
        mask_draw.polygon(
            [(cx, body_box[1]), (body_box[2], body_box[3]), (body_box[0], body_box[3])], fill=255
        )
    image.paste(_colour(rng), mask=mask)
    _texture(image, mask, rng)
    draw = ImageDraw.Draw(image)
    head_r = int(rng.integers(25, 48))
    head_c = (cx + int(rng.integers(-15, 16)), body_top - head_r + int(rng.integers(0, 15)))
    head_box = [head_c[0] - head_r, head_c[1] - head_r, head_c[0] + head_r, head_c[1] + head_r]
    head_colour = _colour(rng)
    if rng.integers(2):
        draw.ellipse(head_box, fill=head_colour, outline=outline, width=3)
    else:
        draw.rectangle(head_box, fill=head_colour, outline=outline, width=3)
    eye_r = int(rng.integers(4, 11))
    for side in (-1, 1):
        ex, ey = head_c[0] + side * head_r // 2, head_c[1] - head_r // 5
        draw.ellipse([ex - eye_r, ey - eye_r, ex + eye_r, ey + eye_r], fill=(250, 250, 250))
        pupil = max(2, eye_r // 2)
        draw.ellipse([ex - pupil, ey - pupil, ex + pupil, ey + pupil], fill=(15, 15, 15))
    mouth_y = head_c[1] + head_r // 2
    draw.arc(
        [head_c[0] - head_r // 2, mouth_y - 8, head_c[0] + head_r // 2, mouth_y + 8],
        0 if rng.integers(2) else 180,
        180 if rng.integers(2) else 360,
        fill=outline,
        width=3,
    )
    accessory = rng.integers(3)
    top = head_c[1] - head_r
    if accessory == 0:  # a pointed hat
        draw.polygon(
            [
                (head_c[0] - head_r, top + 5),
                (head_c[0] + head_r, top + 5),
                (head_c[0] + int(rng.integers(-20, 21)), top - int(rng.integers(25, 60))),
            ],
            fill=_colour(rng),
        )
    elif accessory == 1:  # a star beside it
        sx, sy = int(rng.integers(30, SIZE - 30)), int(rng.integers(20, 80))
        radius = int(rng.integers(12, 28))
        points = [
            (
                sx + (radius if k % 2 == 0 else radius // 2) * np.cos(np.pi * k / 5 - np.pi / 2),
                sy + (radius if k % 2 == 0 else radius // 2) * np.sin(np.pi * k / 5 - np.pi / 2),
            )
            for k in range(10)
        ]
        draw.polygon(points, fill=_colour(rng, light=True))
    return image


# -- edits: what a requester does to a registered picture ------------------------------------


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    return Image.open(io.BytesIO(jpeg_bytes(image, quality))).convert("RGB")


def crop(fraction: float) -> Edit:
    """Keep ``fraction`` of each side, at a random place in the picture."""

    def edit(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        width, height = round(image.width * fraction), round(image.height * fraction)
        left = int(rng.integers(0, image.width - width + 1))
        top = int(rng.integers(0, image.height - height + 1))
        return image.crop((left, top, left + width, top + height))

    return edit


def hue_shift(degrees: float) -> Edit:
    """Turn every colour's hue by ``degrees`` (saturation and brightness kept)."""

    def edit(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        hue, saturation, value = image.convert("HSV").split()
        turned = hue.point(lambda h: (h + round(degrees * 256 / 360)) % 256)
        return Image.merge("HSV", (turned, saturation, value)).convert("RGB")

    return edit


def rotate(degrees: float) -> Edit:
    def edit(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))

    return edit


def resize(factor: float) -> Edit:
    def edit(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        size = (round(image.width * factor), round(image.height * factor))
        return image.resize(size, Image.Resampling.LANCZOS)

    return edit


def watermark(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A line of text across the picture, as stock sites and reposters stamp them."""
    stamped = image.copy()
    draw = ImageDraw.Draw(stamped)
    y = int(rng.integers(image.height // 4, 3 * image.height // 4))
    draw.text((10, y), "(c) reposted by someone", fill=(255, 255, 255), font_size=22)
    draw.text((12, y + 2), "(c) reposted by someone", fill=(0, 0, 0), font_size=22)
    return stamped


#: The positives, by name: each must still be found as the character it was made from.
EDITS: dict[str, Edit] = {
    "near_duplicate": lambda image, rng: _jpeg(image, 90),
    "crop_90": crop(0.9),
    "crop_80": crop(0.8),
    "crop_70": crop(0.7),
    "grayscale": lambda image, rng: ImageOps.grayscale(image).convert("RGB"),
    "hue_shift_90": hue_shift(90),
    "hue_shift_180": hue_shift(180),
    "resize_50": resize(0.5),
    "resize_150": resize(1.5),
    "jpeg_q40": lambda image, rng: _jpeg(image, 40),
    "rotate_5": rotate(5),
    "rotate_10": rotate(-10),
    "flip": lambda image, rng: ImageOps.mirror(image),
    "watermark": watermark,
}


# -- negatives --------------------------------------------------------------------------------


def unrelated_pictures(
    count: int, *, seed: int, faces_dir: Path | None = None
) -> list[Image.Image]:
    """``count`` pictures that are no character: noise (fine and blurred), gradients, random
    rectangles and ellipses, and the face photos in ``faces_dir`` (each also cropped)."""
    rng = np.random.default_rng(seed)
    pictures: list[Image.Image] = []
    if faces_dir is not None:
        for path in sorted(faces_dir.glob("*.jpg")):
            photo = Image.open(path).convert("RGB")
            pictures += [photo, crop(0.8)(photo, rng)]
    kinds = ("noise", "blurred_noise", "gradient", "shapes")
    index = 0
    while len(pictures) < count:
        kind = kinds[index % len(kinds)]
        index += 1
        if kind in ("noise", "blurred_noise"):
            noise = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
            picture = Image.fromarray(noise)
            if kind == "blurred_noise":
                picture = picture.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 12))))
        elif kind == "gradient":
            first, second = np.array(_colour(rng)), np.array(_colour(rng))
            angle = rng.random() * 2 * np.pi
            ys, xs = np.mgrid[0:SIZE, 0:SIZE] / SIZE
            t = np.clip((xs - 0.5) * np.cos(angle) + (ys - 0.5) * np.sin(angle) + 0.5, 0, 1)
            pixels = (1 - t)[..., None] * first + t[..., None] * second
            picture = Image.fromarray(pixels.astype(np.uint8))
        else:
            picture = Image.new("RGB", (SIZE, SIZE), _colour(rng))
            draw = ImageDraw.Draw(picture)
            for _ in range(int(rng.integers(3, 12))):
                box = sorted(rng.integers(0, SIZE, 2)), sorted(rng.integers(0, SIZE, 2))
                corners = [box[0][0], box[1][0], box[0][1] + 1, box[1][1] + 1]
                if rng.integers(2):
                    draw.rectangle(corners, fill=_colour(rng))
                else:
                    draw.ellipse(corners, fill=_colour(rng))
        pictures.append(picture)
    return pictures[:count]


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# -- measuring the image check on this set ---------------------------------------------------


def measure_image_check(
    *, characters: int = 50, negatives: int = 300, seed: int = 0, faces_dir: Path | None = None
) -> dict:
    """Register ``characters`` drawn characters (one reference each), look up every edit of
    each, and ``negatives`` pictures that are none of them (half other characters, half
    unrelated pictures). Returns the share of each edit found as its own character, the share
    of negatives that matched anything, and the share of edits that also matched another
    character. Seeds are offset by ``seed``, so a threshold chosen on one seed is tested on
    characters it never saw."""
    from rights.matching.image_fingerprints import input_fingerprint, reference_fingerprint
    from rights.matching.images import IndexedReference, ReferenceImageIndex

    index = ReferenceImageIndex()
    registered = []
    for number in range(characters):
        picture = draw_character(seed * 100_000 + number)
        asset_id = uuid.UUID(int=number + 1)
        index.add(
            IndexedReference(
                reference_id=uuid.uuid4(),
                asset_id=asset_id,
                fingerprint=reference_fingerprint(np.asarray(picture)),
            )
        )
        registered.append((asset_id, picture))

    def matched(picture: Image.Image) -> set[uuid.UUID]:
        query = input_fingerprint(np.asarray(picture.convert("RGB")))[np.newaxis]
        return {match.asset_id for match in index.search(query)}

    rng = np.random.default_rng(seed)
    found: dict[str, float] = {}
    confused = 0
    for name, edit in EDITS.items():
        hits = 0
        for asset_id, picture in registered:
            assets = matched(edit(picture, rng))
            hits += asset_id in assets
            confused += bool(assets - {asset_id})
        found[name] = hits / characters
    others = [draw_character(seed * 100_000 + 50_000 + n) for n in range(negatives // 2)]
    unrelated = unrelated_pictures(negatives - len(others), seed=seed, faces_dir=faces_dir)
    flagged = sum(bool(matched(picture)) for picture in others + unrelated)
    return {
        "characters": characters,
        "negatives": negatives,
        "found": found,
        "false_positive_rate": flagged / negatives,
        "wrong_character_rate": confused / (characters * len(EDITS)),
    }
