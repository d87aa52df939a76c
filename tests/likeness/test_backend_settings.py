"""The operator's backend choice reaches the scan: insightface from a model directory, loaded
in the media workers (at start, to fail fast) and never in the API process."""

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from insightface_stand_ins import build_detector, build_recogniser
from PIL import Image

from clearhouse.app import create_app
from likeness.backends import InsightFaceBackend


def test_the_scan_uses_the_insightface_models_the_operator_configured(
    settings, holder, tmp_path, monkeypatch
):
    def loaded_here(*args, **kwargs):
        raise AssertionError("the API process loaded the face models: only media workers do")

    # The start check and the scan load the models in media workers, which this does not reach.
    monkeypatch.setattr(InsightFaceBackend, "__init__", loaded_here)
    build_detector(tmp_path / "det_10g.onnx")
    build_recogniser(tmp_path / "w600k_r50.onnx")
    configured = settings.model_copy(
        update={"face_backend": "insightface", "insightface_model_dir": tmp_path}
    )
    frame = np.zeros((640, 640, 3), np.uint8)
    frame[320:352, 320:352, 0] = 255  # one stride-32 cell: a "face" to the stand-in detector
    png = io.BytesIO()
    Image.fromarray(frame).save(png, format="PNG")
    with TestClient(create_app(configured)) as client:
        response = client.post(
            "/v1/likeness/scan",
            headers=holder.headers,
            files={"file": ("frame.png", png.getvalue(), "image/png")},
        )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["model_key"].startswith("insightface/w600k_r50-")
    assert result["threshold"] == 0.40
    assert [face["box"] for face in result["faces"]] == [[288, 288, 352, 352]]
    assert result["faces"][0]["matches"] == []


@pytest.mark.parametrize("model_dir", [None, "empty"])
def test_an_insightface_backend_that_cannot_load_stops_the_start(settings, tmp_path, model_dir):
    configured = settings.model_copy(
        update={
            "face_backend": "insightface",
            "insightface_model_dir": tmp_path if model_dir else None,
        }
    )
    app = create_app(configured)
    with pytest.raises((ValueError, RuntimeError), match=r"(?i)insightface"), TestClient(app):
        pass
