"""Clips for the generator's tests: frames, the record a manifest states, and MP4 surgery."""

import datetime as dt
import uuid
from pathlib import Path

import numpy as np
import numpy.typing as npt

from generator.provenance import GenerationRecord, Licence, generation_status_url


def moving_square(*, count: int, width: int, height: int) -> npt.NDArray[np.uint8]:
    """A gradient with a white square moving across it: smooth enough for H.264 to keep."""
    rows, columns = np.mgrid[0:height, 0:width]
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    for index in range(count):
        frames[index, ..., 0] = columns * 255 // max(width - 1, 1)
        frames[index, ..., 1] = rows * 255 // max(height - 1, 1)
        frames[index, ..., 2] = 96
        left = index * 4 % (width - 16)
        frames[index, 8:24, left : left + 16] = 255
    return frames


def generation_record(
    *, public_url: str = "https://clearhouse.example", licences: int = 2
) -> GenerationRecord:
    generation_id = uuid.uuid4()
    return GenerationRecord(
        generation_id=generation_id,
        clearance_id=uuid.uuid4(),
        generated_at=dt.datetime(2026, 6, 1, 12, 30, tzinfo=dt.UTC),
        model="tiny-untrained-sd-v1",
        licences=tuple(
            Licence(
                asset_id=uuid.uuid4(),
                grant_id=uuid.uuid4(),
                policy_version=index + 1,
                price_minor=150 + index * 100,
                currency="USD",
            )
            for index in range(licences)
        ),
        status_url=generation_status_url(public_url=public_url, generation_id=generation_id),
    )


def mp4_boxes(data: bytes) -> dict[str, tuple[int, int]]:
    """The top-level boxes of an MP4: type -> (offset of its payload, end), the first of each."""
    boxes: dict[str, tuple[int, int]] = {}
    offset = 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        header = 8
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
            header = 16
        boxes.setdefault(kind, (offset + header, offset + size))
        offset += size
    return boxes


def with_byte_flipped(source: Path, destination: Path, *, at: int) -> Path:
    """A copy of ``source`` with the byte at offset ``at`` inverted."""
    data = bytearray(source.read_bytes())
    data[at] ^= 0xFF
    destination.write_bytes(bytes(data))
    return destination
