"""Small ONNX models with the inputs and outputs of SCRFD and ArcFace, and known answers.

The detector stand-in has SCRFD's signature (one input, nine outputs: scores, box distances
and keypoint distances for strides 8, 16 and 32, two anchors per location). Its stride-32
score for a cell is the cell's mean red level mapped from [-1, 1] to [0, 1] (anchor 2 gets
0.9 of it), so a pure red 32x32 block in the detector's input is a face there; strides 8 and
16 find nothing. Box and keypoint distances are constants. The recogniser stand-in averages
8x8 pixel blocks and applies a fixed random projection to 512 numbers.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STRIDES = (8, 16, 32)
PROJECTION = np.random.default_rng(7).normal(size=(3 * 14 * 14, 512)).astype(np.float32)


def _const(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name=name)


def build_detector(
    path,
    *,
    box_distances=(1.0, 1.0, 1.0, 1.0),
    keypoint_offsets=(-0.3, -0.2, 0.3, -0.2, 0.0, 0.1, -0.25, 0.4, 0.25, 0.4),
    dynamic_input: bool = False,
    drop_keypoints: bool = False,
) -> None:
    size = ["height", "width"] if dynamic_input else [640, 640]
    nodes = [helper.make_node("Slice", ["input.1", "c0", "c1", "axis1"], ["red"])]
    inits = [
        _const("c0", np.array([0], np.int64)),
        _const("c1", np.array([1], np.int64)),
        _const("axis1", np.array([1], np.int64)),
        _const("column", np.array([-1, 1], np.int64)),
        _const("one", np.array(1.0, np.float32)),
        _const("zero", np.array(0.0, np.float32)),
        _const("anchor2", np.array(0.9, np.float32)),
        _const("boxes", np.array([box_distances], np.float32)),
        _const("kps", np.array([keypoint_offsets], np.float32)),
    ]
    scores, boxes, kps = [], [], []
    for stride in STRIDES:
        gain = 0.5 if stride == 32 else 0.0
        inits.append(_const(f"gain{stride}", np.array(gain, np.float32)))
        nodes += [
            helper.make_node(
                "AveragePool",
                ["red"],
                [f"pool{stride}"],
                kernel_shape=[stride, stride],
                strides=[stride, stride],
            ),
            helper.make_node("Reshape", [f"pool{stride}", "column"], [f"flat{stride}"]),
            helper.make_node("Add", [f"flat{stride}", "one"], [f"shift{stride}"]),
            helper.make_node("Mul", [f"shift{stride}", f"gain{stride}"], [f"a1_{stride}"]),
            helper.make_node("Mul", [f"a1_{stride}", "anchor2"], [f"a2_{stride}"]),
            helper.make_node("Concat", [f"a1_{stride}", f"a2_{stride}"], [f"pair{stride}"], axis=1),
            helper.make_node("Reshape", [f"pair{stride}", "column"], [f"score_{stride}"]),
            helper.make_node("Mul", [f"score_{stride}", "zero"], [f"nil{stride}"]),
            helper.make_node("Add", [f"nil{stride}", "boxes"], [f"bbox_{stride}"]),
            helper.make_node("Add", [f"nil{stride}", "kps"], [f"kps_{stride}"]),
        ]
        rows = f"rows{stride}" if dynamic_input else (640 // stride) ** 2 * 2
        scores.append(
            helper.make_tensor_value_info(f"score_{stride}", TensorProto.FLOAT, [rows, 1])
        )
        boxes.append(helper.make_tensor_value_info(f"bbox_{stride}", TensorProto.FLOAT, [rows, 4]))
        kps.append(helper.make_tensor_value_info(f"kps_{stride}", TensorProto.FLOAT, [rows, 10]))
    outputs = scores + boxes + ([] if drop_keypoints else kps)
    graph = helper.make_graph(
        nodes,
        "scrfd_stand_in",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, *size])],
        outputs,
        initializer=inits,
    )
    _save(graph, path)


def build_recogniser(path, *, batch: int | str = "N") -> None:
    nodes = [
        helper.make_node("AveragePool", ["input.1"], ["pool"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "projection"], ["683"]),
    ]
    graph = helper.make_graph(
        nodes,
        "arcface_stand_in",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, 512])],
        initializer=[_const("projection", PROJECTION)],
    )
    _save(graph, path)


def _save(graph, path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
