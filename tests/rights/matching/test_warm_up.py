"""The warm-up: the app serves while the text checks load in the background, says when they
are loaded (GET /readyz), and the first clearance after that loads nothing."""

import threading

import pytest
from clearing import clearance_body
from factories import sign_up
from fastapi.testclient import TestClient

from clearhouse.app import create_app
from rights.matching import content_check as content_check_module
from rights.matching import encoder as encoder_module


@pytest.fixture
def warming(settings):
    """The suite's settings with the warm-up on, in a process whose sentence model is not open
    yet (as a fresh server's is not)."""
    return settings.model_copy(update={"warm_up": True})


@pytest.fixture(autouse=True)
def no_model_open_yet(monkeypatch):
    monkeypatch.setattr(encoder_module, "_runtimes", {})


def test_the_app_serves_while_the_model_loads(warming, monkeypatch):
    gate = threading.Event()
    real_open = encoder_module._open

    def slow_open(cache_dir, threads):
        gate.wait(timeout=60)  # a model that takes a minute to load, unless let through
        return real_open(cache_dir, threads)

    monkeypatch.setattr(encoder_module, "_open", slow_open)
    with TestClient(create_app(warming)) as client:
        assert not gate.is_set()
        assert client.get("/healthz").status_code == 200
        waiting = client.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.json()["type"].endswith("/not-ready")
        assert waiting.headers["Retry-After"] == "2"

        gate.set()
        assert client.app.state.warm_up.wait(timeout=300)
        assert client.get("/readyz").json() == {"status": "ready"}


def test_the_first_clearance_after_the_warm_up_loads_nothing(warming, monkeypatch):
    with TestClient(create_app(warming)) as client:
        assert client.app.state.warm_up.wait(timeout=300)
        assert client.get("/readyz").status_code == 200
        requester = sign_up(client, role="creator")

        def loads(*args):
            raise AssertionError("a clearance loaded what the warm-up should have")

        for module, name in (
            (encoder_module, "_open"),
            (encoder_module, "_build_graph"),
            (content_check_module, "_vocabulary"),
            (content_check_module, "_descriptions"),
        ):
            monkeypatch.setattr(module, name, loads)
        answer = client.post(
            "/v1/clearances",
            headers=requester.headers,
            json=clearance_body("a rain-slick city street at night"),
        )
        assert answer.status_code == 201, answer.text


def test_a_failed_warm_up_says_what_failed(warming, monkeypatch):
    def broken(cache_dir, threads):
        raise RuntimeError("the model's package is damaged")

    monkeypatch.setattr(encoder_module, "_open", broken)
    with TestClient(create_app(warming)) as client:
        assert client.app.state.warm_up.wait(timeout=300)
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert "the model's package is damaged" in answer.json()["detail"]


def test_without_a_warm_up_nothing_loads_at_start(settings, monkeypatch):
    def loads(*args):
        raise AssertionError("loaded the model at start")

    monkeypatch.setattr(encoder_module, "_open", loads)
    with TestClient(create_app(settings.model_copy(update={"warm_up": False}))) as client:
        assert client.app.state.warm_up is None
        assert client.get("/readyz").json() == {"status": "ready"}
