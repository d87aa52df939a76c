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


def _meet(folder: Path, part: list[int], *, expected: int) -> list[int]:
    """A part's work: say which worker runs it, and wait (at most 20 s) until ``expected``
    parts run at once; the worker's pid for each item."""
    (folder / f"part-{part[0]}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 20
    while len(list(folder.glob("part-*"))) < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return [os.getpid()] * len(part)


def _hold(folder: Path) -> int:
    """Keep a worker busy until ``folder/release`` appears."""
    (folder / "held").touch()
    while not (folder / "release").exists():
        time.sleep(0.01)
    return os.getpid()


def test_work_in_parts_spreads_over_the_workers_free_and_only_those(client, tmp_path):
    runtime = client.app.state.likeness
    assert runtime.settings.media_concurrency == 2

    def spread(folder: Path, *, expected: int) -> list[list[int]]:
        folder.mkdir()
        return runtime.run_media_split(
            list(range(5)),
            lambda part, first: partial(_meet, folder, list(part), expected=expected),
        )

    # Both workers free: the five items in two parts, which run at the same time.
    parts = spread(tmp_path / "free", expected=2)
    assert [len(part) for part in parts] == [2, 3]
    assert len({part[0] for part in parts}) == 2

    # One worker busy: one part, on the other worker.
    busy = tmp_path / "busy"
    busy.mkdir()
    held = []
    holder = threading.Thread(
        target=lambda: held.append(runtime.run_media_work(partial(_hold, busy)))
    )
    holder.start()
    try:
        while not (busy / "held").exists():
            time.sleep(0.01)
        parts = spread(tmp_path / "one-free", expected=1)
    finally:
        (busy / "release").touch()
        holder.join()
    assert len(parts) == 1 and len(parts[0]) == 5
    assert parts[0][0] != held[0]


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
