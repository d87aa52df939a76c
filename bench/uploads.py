"""The API server's peak memory for the largest uploads it allows, and for the attacks of
issue 6: a JPEG header claiming 6000x6600 (twelve at once), a 45 MB anonymous JSON body.

Each case gets a fresh server (uvicorn in a subprocess, SQLite in a temporary directory, the
default limits), warmed up with two small scans at once so that both media workers have
loaded dlib. The peak RSS of the API process and of every process under it (its media
workers, which decode and detect) is then reset (``/proc/PID/clear_refs``), the case is
sent, and each one's ``VmHWM`` is read (a worker started meanwhile counts from its start):
``growth_mib`` is the sum of those peaks over the sum of their resident memory just before.
A sum of peaks is at least the peak of the sum: an upper bound. Prints one JSON line.

    .venv/bin/python bench/uploads.py
"""

import argparse
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import av
import httpx
import numpy as np
from PIL import Image

from bench.server import follow_verification_link, process_tree

ROOT = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("CLEARHOUSE_TEST_FACES_DIR", ROOT.parent / "shared/data/faces"))
PASSWORD = "a long bench passphrase"
LARGEST_IMAGE = (5600, 7000)  # 39.2 MP, under the 40 MP a frame may have


def _status_mib(pid: int, field: str) -> float:
    """A ``/proc/PID/status`` figure, in MiB (0 for a process that ended meanwhile)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


@dataclass
class Server:
    pid: int
    http: httpx.Client
    headers: dict[str, str]

    def memory(self, field: str) -> dict[str, float]:
        """``field`` (VmRSS, VmHWM) of the API process and, summed, of the processes under
        it (its media workers), in MiB."""
        workers = process_tree(self.pid) - {self.pid}
        return {
            "api": _status_mib(self.pid, field),
            "workers": sum(_status_mib(pid, field) for pid in workers),
        }

    def reset_peaks(self) -> None:
        for pid in process_tree(self.pid):
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                Path(f"/proc/{pid}/clear_refs").write_text("5")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(app_dir: Path) -> Iterator[Server]:
    with tempfile.TemporaryDirectory() as data_dir:
        port = _free_port()
        env = {
            **os.environ,
            "CLEARHOUSE_DATA_DIR": data_dir,
            "CLEARHOUSE_LIVENESS_REQUIRED": "false",
            "CLEARHOUSE_PASSWORD_HASH_MEMORY_KIB": "1024",
        }
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "--factory", "clearhouse.app:create_app"),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            cwd=app_dir,
            env=env,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the server did not start")
                    time.sleep(0.1)
                headers = _sign_up(http, env=env, cwd=app_dir)
                yield Server(pid=process.pid, http=http, headers=headers)
        finally:
            process.terminate()
            process.wait(30)


def _sign_up(http: httpx.Client, *, env: dict[str, str], cwd: Path) -> dict[str, str]:
    email = f"{uuid.uuid4().hex[:10]}@example.org"
    account = {
        "email": email,
        "password": PASSWORD,
        "display_name": "Bench",
        "date_of_birth": "1990-01-01",
    }
    http.post("/v1/accounts", json=account).raise_for_status()
    outbox = subprocess.run(
        [sys.executable, "-m", "clearhouse", "mail", "outbox", "--to", email],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    follow_verification_link(http, outbox)
    token = http.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}


def _picture(name: str, size: tuple[int, int]) -> Image.Image:
    return Image.open(FACES / name).convert("RGB").resize(size, Image.Resampling.BICUBIC)


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=75)
    return buffer.getvalue()


def jpeg_bomb(width: int = 6000, height: int = 6600) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 90, 60)).save(buffer, format="JPEG", quality=50)
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def largest_video(*, side: int, fps: int, seconds: int) -> bytes:
    """A still face at ``side`` x ``side``: the most frames the default budgets let through
    (every frame decoded counts against 2 G pixels; sampled frames, shrunk, against 64 M)."""
    picture = np.asarray(_picture("obama.jpg", (side, side)))
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = side, side, "yuv420p"
        for _ in range(fps * seconds):
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
    return buffer.getvalue()


def six_faces() -> bytes:
    """1200x920 (1.1 MP): six portraits side by side."""
    sheet = Image.new("RGB", (1200, 920), "white")
    names = ["obama.jpg", "biden.jpg", "obama2.jpg"] * 2
    for i, name in enumerate(names):
        sheet.paste(_picture(name, (400, 460)), ((i % 3) * 400, (i // 3) * 460))
    return _encoded(sheet, "JPEG")


def _scan(srv: Server, data: bytes) -> httpx.Response:
    return srv.http.post(
        "/v1/likeness/scan", headers=srv.headers, files={"file": ("upload", data, "image/jpeg")}
    )


def _enrol(srv: Server, uploads: list[bytes]) -> httpx.Response:
    asset = srv.http.post(
        "/v1/assets",
        headers=srv.headers,
        json={"kind": "likeness", "handle": f"b{uuid.uuid4().hex[:8]}", "name": "Bench"},
    ).json()
    opened = srv.http.post(
        f"/v1/assets/{asset['id']}/enrolments", headers=srv.headers, json={}
    ).json()
    files = [("files", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(uploads)]
    return srv.http.post(f"/v1/enrolments/{opened['id']}/frames", headers=srv.headers, files=files)


def measure(app_dir: Path, send: Callable[[Server], list[httpx.Response]]) -> dict:
    with server(app_dir) as srv:
        warm_up = _encoded(_picture("obama.jpg", (320, 400)), "JPEG")
        with ThreadPoolExecutor(2) as pool:  # two at once: both media workers load dlib
            for response in pool.map(lambda _: _scan(srv, warm_up), range(2)):
                response.raise_for_status()
        srv.reset_peaks()
        before = srv.memory("VmRSS")
        started = time.perf_counter()
        responses = send(srv)
        elapsed = time.perf_counter() - started
        peak = srv.memory("VmHWM")
        return {
            "status": sorted({r.status_code for r in responses}),
            "s": round(elapsed, 2),
            "rss_before_mib": {name: round(mib) for name, mib in before.items()},
            "peak_mib": {name: round(mib) for name, mib in peak.items()},
            "growth_mib": round(sum(peak.values()) - sum(before.values())),
        }


def scan_ms(app_dir: Path, photos: dict[str, bytes], repeats: int) -> dict:
    """Median scan time of each photo on one warm server, and the faces it found."""
    results = {}
    with server(app_dir) as srv:
        _scan(srv, photos[next(iter(photos))]).raise_for_status()
        for name, data in photos.items():
            times, faces = [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                response = _scan(srv, data)
                times.append(time.perf_counter() - started)
                faces = len(response.raise_for_status().json()["faces"])
            results[name] = {"ms": round(1000 * float(np.median(times))), "faces": faces}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--app-dir", type=Path, default=ROOT, help="checkout whose app is served (to compare)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="scans per photo for timings")
    args = parser.parse_args()

    face = _picture("obama.jpg", LARGEST_IMAGE)
    jpeg, png = _encoded(face, "JPEG"), _encoded(face, "PNG")
    video = largest_video(side=4000, fps=6, seconds=19)
    bomb = jpeg_bomb()
    json_body = b'{"name": "' + b"a" * 45_000_000 + b'"}'

    def twelve_bombs(srv: Server) -> list[httpx.Response]:
        with ThreadPoolExecutor(12) as pool:
            return list(pool.map(lambda _: _scan(srv, bomb), range(12)))

    cases = {
        "anonymous_json_45mb": lambda srv: [
            srv.http.post(
                "/v1/assets", content=json_body, headers={"Content-Type": "application/json"}
            )
        ],
        "jpeg_bomb_6000x6600_x12_at_once": twelve_bombs,
        "image_jpeg_5600x7000": lambda srv: [_scan(srv, jpeg)],
        "image_png_5600x7000": lambda srv: [_scan(srv, png)],
        "video_4000x4000_6fps_19s": lambda srv: [_scan(srv, video)],
        "enrolment_12_jpeg_5600x7000": lambda srv: [_enrol(srv, [jpeg] * 12)],
    }
    sizes = {"image_jpeg": len(jpeg), "image_png": len(png), "video": len(video)}
    sizes |= {"jpeg_bomb": len(bomb)}
    report = {
        "bench": "uploads",
        "app_dir": str(args.app_dir),
        "upload_bytes": sizes,
        "cases": {name: measure(args.app_dir, send) for name, send in cases.items()},
        "scan": scan_ms(
            args.app_dir,
            {
                "one_face_3.3mp": _encoded(_picture("biden.jpg", (1210, 2750)), "JPEG"),
                "six_faces_1.1mp": six_faces(),
            },
            args.repeats,
        ),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
