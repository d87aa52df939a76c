"""Media work runs in worker processes: at a lower CPU priority, shared by the apps of one
process and stopped with the last, replaced when a worker dies, and gone when their API
process is killed."""

import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from enrolling import photo, picture, scan, video
from fastapi.testclient import TestClient

from clearhouse.app import create_app

pytestmark = pytest.mark.still_photos

ROOT = Path(__file__).resolve().parents[2]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_media_work_runs_in_other_processes_at_a_lower_priority(client):
    runtime = client.app.state.likeness
    assert runtime.run_media_work(os.getpid) != os.getpid()
    niceness = runtime.run_media_work(partial(os.getpriority, os.PRIO_PROCESS, 0))
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness == min(19, ours + runtime.settings.media_worker_niceness) > ours


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def test_media_work_runs_torch_on_one_thread(client):
    """There are as many workers as media work may use cores: torch in each (the CLIP
    model's) on one thread, where it would take every core."""
    assert client.app.state.likeness.run_media_work(_torch_threads) == 1


def test_apps_share_their_workers_and_the_last_to_close_stops_them(stills_settings):
    one = stills_settings.model_copy(update={"media_concurrency": 1})
    with TestClient(create_app(one)) as first:
        worker = first.app.state.likeness.run_media_work(os.getpid)
        with TestClient(create_app(one)) as second:
            assert second.app.state.likeness.run_media_work(os.getpid) == worker
        assert first.app.state.likeness.run_media_work(os.getpid) == worker  # spared
    assert not _running(worker)


def test_a_worker_killed_mid_scan_fails_that_scan_and_the_next_one_works(stills_settings, holder):
    one = stills_settings.model_copy(update={"media_concurrency": 1})
    long_video = video([picture("obama.jpg", size=(640, 800))] * 40, fps=2)  # 40 detections
    with TestClient(create_app(one)) as client:
        worker = client.app.state.likeness.run_media_work(os.getpid)
        idle_cpu = _cpu_seconds(worker)
        killed = threading.Event()

        def kill_once_scanning() -> None:
            deadline = time.monotonic() + 60
            while _cpu_seconds(worker) < idle_cpu + 0.3 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(worker, signal.SIGKILL)
            killed.set()

        killer = threading.Thread(target=kill_once_scanning)
        killer.start()
        lost = client.post(
            "/v1/likeness/scan",
            headers=holder.headers,
            files={"file": ("long.mp4", long_video, "video/mp4")},
        )
        killer.join()
        assert killed.is_set()
        assert lost.status_code == 503, lost.text
        assert lost.headers["content-type"] == "application/problem+json"
        assert lost.json()["type"].endswith("/media-worker-lost")
        assert lost.headers["retry-after"] == "1"
        assert "send it again" in lost.json()["detail"]

        assert len(scan(client, holder, photo("obama.jpg"))["faces"]) == 1
        assert client.app.state.likeness.run_media_work(os.getpid) != worker


API_PROCESS = """
import os, sys
from likeness.media_workers import MediaWorkers, WorkerConfig
pool = MediaWorkers(WorkerConfig(backend="dlib", model_dir=None, processes=1, niceness=0))
print(pool.run(os.getpid, queue_seconds=60), flush=True)
sys.stdin.read()  # until the test kills this process
"""


def test_workers_exit_when_their_api_process_is_killed():
    api = subprocess.Popen(
        [sys.executable, "-c", API_PROCESS],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        worker = int(api.stdout.readline())
        assert _running(worker)
    finally:
        api.kill()  # SIGKILL: no exit handler runs
        api.wait()
    deadline = time.monotonic() + 10
    while _running(worker):
        assert time.monotonic() < deadline, f"media worker {worker} outlived its API process"
        time.sleep(0.05)
