"""SCRFD's geometry: the detector's input and the faces read back from its outputs, in NumPy.

The image is letterboxed into the detector's input (aspect kept, top-left, black
elsewhere). Each stride's feature map predicts, per location and anchor, a face score and
the distances from the anchor centre to the box sides and to five keypoints (insightface's
anchor-free decoding); overlapping boxes are then thinned by non-maximum suppression. Done
here rather than with the ``insightface`` package or OpenCV so neither is needed and nothing
is downloaded; the ONNX sessions that produce the outputs are in ``insightface_backend.py``.
"""

from dataclasses import dataclass

import numpy as np

#: The letterboxed canvas is centred on 127.5 and scaled by 1/128, as SCRFD was trained.
DETECTOR_MEAN = 127.5
DETECTOR_STD = 128.0


@dataclass(frozen=True, slots=True)
class ScrfdLayout:
    """The feature-map strides an SCRFD export predicts at, and anchors per location."""

    strides: tuple[int, ...]
    num_anchors: int


def scrfd_layout(output_count: int) -> ScrfdLayout:
    """The layout an SCRFD model with keypoints has, told by its number of outputs."""
    if output_count == 9:
        return ScrfdLayout(strides=(8, 16, 32), num_anchors=2)
    if output_count == 15:
        return ScrfdLayout(strides=(8, 16, 32, 64, 128), num_anchors=1)
    raise RuntimeError(
        f"the detector has {output_count} outputs; expected an SCRFD model with keypoints "
        "(9 outputs, or 15 for five strides), such as det_10g.onnx"
    )


def letterbox(image: np.ndarray, *, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into the top-left of a black (width, height) canvas.

    Returns the canvas and the scale from original pixels to canvas pixels.
    """
    from PIL import Image

    width, height = size
    if image.shape[0] / image.shape[1] > height / width:
        new_height = height
        new_width = int(new_height / (image.shape[0] / image.shape[1]))
    else:
        new_width = width
        new_height = int(new_width * (image.shape[0] / image.shape[1]))
    scale = new_height / image.shape[0]
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    resized = Image.fromarray(image).resize((new_width, new_height), Image.Resampling.BILINEAR)
    canvas[:new_height, :new_width] = np.asarray(resized)
    return canvas, scale


def detector_blob(canvas: np.ndarray) -> np.ndarray:
    """The letterboxed RGB canvas as the detector's (1, 3, height, width) float32 input."""
    return ((canvas.astype(np.float32) - DETECTOR_MEAN) / DETECTOR_STD).transpose(2, 0, 1)[None]


def anchor_centres(*, height: int, width: int, stride: int, num_anchors: int) -> np.ndarray:
    """(x, y) of every anchor on a stride's feature map, row-major, anchors innermost."""
    ys, xs = np.mgrid[:height, :width]
    centres = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
    return np.repeat(centres, num_anchors, axis=0)


def decode_outputs(
    outputs: list[np.ndarray],
    *,
    layout: ScrfdLayout,
    input_size: tuple[int, int],
    detection_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, landmarks and scores above the detection threshold, in canvas pixels.

    ``outputs`` are the detector's, in its order: every stride's scores, then every stride's
    box distances, then every stride's keypoint distances.
    """
    width, height = input_size
    levels = len(layout.strides)
    all_boxes, all_landmarks, all_scores = [], [], []
    for level, stride in enumerate(layout.strides):
        # Batched exports add a leading batch axis of 1.
        scores = np.asarray(outputs[level]).reshape(-1)
        distances = np.asarray(outputs[level + levels]).reshape(-1, 4) * stride
        kps = np.asarray(outputs[level + 2 * levels]).reshape(-1, 10) * stride
        centres = anchor_centres(
            height=height // stride,
            width=width // stride,
            stride=stride,
            num_anchors=layout.num_anchors,
        )
        if centres.shape[0] != scores.shape[0]:
            raise RuntimeError(
                f"the detector's stride-{stride} output has {scores.shape[0]} rows, "
                f"expected {centres.shape[0]} for a {width}x{height} input; check "
                "detector_input_size against the model"
            )
        chosen = np.flatnonzero(scores >= detection_threshold)
        c = centres[chosen]
        d = distances[chosen]
        boxes = np.stack(
            [c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]],
            axis=1,
        )
        points = c[:, None, :] + kps[chosen].reshape(-1, 5, 2)
        all_boxes.append(boxes)
        all_landmarks.append(points)
        all_scores.append(scores[chosen])
    return (
        np.concatenate(all_boxes).astype(np.float64),
        np.concatenate(all_landmarks).astype(np.float64),
        np.concatenate(all_scores).astype(np.float64),
    )


def non_max_suppression(
    boxes: np.ndarray, scores: np.ndarray, *, iou_threshold: float
) -> list[int]:
    """Indices of the boxes kept, best score first (insightface's +1 pixel area convention)."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(best))
        if rest.size == 0:
            break
        inter_w = np.maximum(
            0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1
        )
        inter_h = np.maximum(
            0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1
        )
        inter = inter_w * inter_h
        iou = inter / (areas[best] + areas[rest] - inter)
        order = list(rest[iou <= iou_threshold])
    return keep


def detected_faces(
    outputs: list[np.ndarray],
    *,
    layout: ScrfdLayout,
    input_size: tuple[int, int],
    scale: float,
    detection_threshold: float,
    nms_iou_threshold: float,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(box x1 y1 x2 y2, 5x2 landmarks, score) per face, best first, in original pixels."""
    boxes, landmarks, scores = decode_outputs(
        outputs, layout=layout, input_size=input_size, detection_threshold=detection_threshold
    )
    if scores.size == 0:
        return []
    boxes, landmarks = boxes / scale, landmarks / scale
    keep = non_max_suppression(boxes, scores, iou_threshold=nms_iou_threshold)
    return [(boxes[k], landmarks[k], float(scores[k])) for k in keep]
