"""Enrolling faces and scanning media through the API, with the shared photos and videos
made in the tests."""

import io
import uuid
from functools import partial

import numpy as np
from faces import FACES_DIR
from PIL import Image

from likeness.scan_detection import detect_faces

OBAMA = ["obama.jpg", "obama2.jpg", "obama_partial_face.jpg"]


def photo(name: str) -> bytes:
    return (FACES_DIR / name).read_bytes()


def picture(name: str, *, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    return np.asarray(Image.open(FACES_DIR / name).convert("RGB").resize(size))


def video(pictures: list[np.ndarray], *, fps: int = 4) -> bytes:
    """An MP4 (H.264) showing ``pictures`` one frame each."""
    import av

    height, width = pictures[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def open_enrolment(client, user, asset_id, *, keep_media: bool = False) -> dict:
    opened = client.post(
        f"/v1/assets/{asset_id}/enrolments", headers=user.headers, json={"keep_media": keep_media}
    )
    assert opened.status_code == 201, opened.text
    return opened.json()


def send_frames(client, user, enrolment_id, names):
    files = [("files", (name, photo(name), "image/jpeg")) for name in names]
    return client.post(f"/v1/enrolments/{enrolment_id}/frames", headers=user.headers, files=files)


def enrol(client, user, asset_id, names, *, keep_media: bool = False):
    opened = open_enrolment(client, user, asset_id, keep_media=keep_media)
    return send_frames(client, user, opened["id"], names)


def scan(client, user, name_or_bytes) -> dict:
    data = photo(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
    response = client.post(
        "/v1/likeness/scan",
        headers=user.headers,
        files={"file": ("media", data, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    return response.json()


def matched(result: dict) -> set[str]:
    return {m["asset_id"] for face in result["faces"] for m in face["matches"]}


def indexed_likenesses(runtime, photo: str) -> set[uuid.UUID]:
    """The likenesses the running index matches to the face in ``photo``."""
    found = runtime.run_media_work(
        partial(
            detect_faces,
            (FACES_DIR / photo).read_bytes(),
            limits=runtime.media_limits,
            sample_fps=1.0,
            threshold=None,
        )
    )
    [face] = found.faces
    [matches] = runtime.index.search(
        model_key=found.model.model_key,
        queries=np.stack([face.embedding]),
        k=5,
        min_similarity=found.model.match_threshold,
    )
    return {match.likeness_id for match in matches}
