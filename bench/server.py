"""A live ``clearhouse serve`` for the HTTP benchmarks, and the calls that seed it.

The server runs in its own process (uvicorn, as an operator starts it) on SQLite in a
temporary data directory or on PostgreSQL in a schema of its own made anew, so the
benchmark's client never shares an interpreter, a GIL or a core schedule with the app.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from rights.matching.encoder import built_graph, default_cache_dir

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "CLEARHOUSE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PASSWORD = "a long bench passphrase"
# The shared face photos, where the tests find them too.
FACES_DIR = Path(
    os.environ.get("CLEARHOUSE_TEST_FACES_DIR", ROOT.parent / "shared" / "data" / "faces")
)


def fresh_postgres_url(schema: str) -> str | None:
    """``POSTGRES_URL`` in a new, empty ``schema``; None when PostgreSQL is unreachable."""
    from sqlalchemy import text

    from clearhouse.db import build_engine

    try:
        engine = build_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
    except Exception:  # unreachable: the caller reports it as null
        return None
    separator = "&" if "?" in POSTGRES_URL else "?"
    # The application name marks the server's backends, whose CPU the benchmark counts too.
    options = f"options=-csearch_path%3D{schema}&application_name={schema}"
    return f"{POSTGRES_URL}{separator}{options}"


def postgres_backend_pids(application_name: str) -> list[int]:
    """The PostgreSQL backends serving connections that gave this application name."""
    from sqlalchemy import text

    from clearhouse.db import build_engine

    engine = build_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            )
            return [row.pid for row in rows]
    finally:
        engine.dispose()


def process_tree(pid: int) -> set[int]:
    """``pid`` and every process under it (an API process's media workers, uvicorn's workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, its_parent in parents.items() if its_parent == parent]
        tree.update(children)
        frontier.extend(children)
    return tree


def process_tree_cpu_s(pid: int, *, also: Iterable[int] = ()) -> float:
    """CPU seconds (user and system) used so far by ``pid`` and every process under it, and
    by the processes ``also`` (a database's backends).

    On a shared machine requests per second depend on what else runs; the CPU a request
    costs the server does not, so the benchmarks report both.
    """
    return processes_cpu_s(process_tree(pid) | set(also))


def processes_cpu_s(pids: Iterable[int]) -> float:
    """CPU seconds (user and system) used so far by the processes ``pids``."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in pids:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    pid: int
    environment: dict[str, str]

    def cli(self, *args: str) -> str:
        """Run the ``clearhouse`` command against this server's database; its output."""
        return subprocess.run(
            [sys.executable, "-m", "clearhouse", *args],
            cwd=ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout


@contextmanager
def live_server(
    *,
    data_dir: Path,
    database_url: str | None,
    workers: int = 1,
    access_log: bool = True,
    settings: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[LiveServer]:
    """``clearhouse serve`` on a free port, ready (``/readyz``: every process has loaded its
    text checks, so nothing measured shares the cores with a warm-up); stopped on exit.

    ``settings`` are more ``CLEARHOUSE_*`` variables; the log goes to ``log_path`` (by
    default ``server.log`` in the data directory)."""
    seed_sentence_model(data_dir)
    port = free_port()
    environment = {
        **os.environ,
        "CLEARHOUSE_DATA_DIR": str(data_dir),
        # One sign-in per account: a cheap hash keeps seeding quick and changes no read.
        "CLEARHOUSE_PASSWORD_HASH_TIME_COST": "1",
        "CLEARHOUSE_PASSWORD_HASH_MEMORY_KIB": "8192",
        # Every holder a bench seeds signs up from this one address.
        "CLEARHOUSE_MAIL_LIMIT_PER_ADDRESS": "10000",
        **(settings or {}),
    }
    if database_url:
        environment["CLEARHOUSE_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "clearhouse", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    if not access_log:
        command.append("--no-access-log")
    log_path = log_path or data_dir / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, process, log_path, workers=workers)
        yield LiveServer(base_url=base_url, pid=process.pid, environment=environment)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def seed_sentence_model(data_dir: Path) -> None:
    """The sentence model's fused graph where the server looks for it, from this machine's
    cache (built there once): a new data directory would build it again, 8-15 s of torch."""
    graph = built_graph(default_cache_dir())
    models = data_dir / "models"
    if not (models / graph.name).exists():
        models.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(graph, models / graph.name)


def _wait_until_ready(base_url: str, process: subprocess.Popen, log: Path, *, workers: int) -> None:
    """Until ``/readyz`` answers 200 on ``4 * workers`` new connections in a row: each process
    warms up on its own, and the kernel hands each new connection to one of them."""
    deadline = time.monotonic() + 300  # a new data directory builds the text model first
    ready_in_a_row = 0
    # One client (each new one loads the system's certificates, 20 ms), a new connection a poll.
    with httpx.Client(base_url=base_url, timeout=2, headers={"Connection": "close"}) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"clearhouse serve exited:\n{log.read_text()[-3000:]}")
            try:
                ready = client.get("/readyz").status_code == 200
            except httpx.TransportError:
                ready = False
            ready_in_a_row = ready_in_a_row + 1 if ready else 0
            if ready_in_a_row >= 4 * workers:
                return
            time.sleep(0.05 if ready else 0.1)
    raise RuntimeError(f"clearhouse serve was not ready:\n{log.read_text()[-3000:]}")


def sign_in(client: httpx.Client, email: str, password: str) -> str:
    """An access token for ``email``."""
    response = client.post("/v1/auth/token", data={"username": email, "password": password})
    response.raise_for_status()
    return response.json()["access_token"]


def holder_token(
    server: LiveServer, client: httpx.Client, email: str, *, role: str = "holder"
) -> str:
    """Sign up a holder (or a ``creator``), verify the address from the outbox as an operator
    would, sign in."""
    return holder_tokens(server, client, [email], role=role)[0]


def holder_tokens(
    server: LiveServer, client: httpx.Client, emails: Sequence[str], *, role: str = "holder"
) -> list[str]:
    """``holder_token`` for each address, reading the outbox once for them all (each read is
    a CLI process that imports the app)."""
    for email in emails:
        client.post(
            "/v1/accounts",
            json={
                "email": email,
                "password": PASSWORD,
                "display_name": "Bench",
                "date_of_birth": "1980-01-01",
                "role": role,
            },
        ).raise_for_status()
    messages = server.cli("mail", "outbox").splitlines()
    for email in emails:
        follow_verification_link(
            client, "\n".join(line for line in messages if json.loads(line)["to"] == email)
        )
    return [sign_in(client, email, PASSWORD) for email in emails]


def follow_verification_link(client: httpx.Client, outbox: str) -> None:
    """Follow the link in what `clearhouse mail outbox` printed (one JSON message a line)."""
    for line in outbox.splitlines():
        link = re.search(r"/v1/accounts/verify-email\?token=[\w-]+", json.loads(line)["body"])
        if link:
            client.get(link.group()).raise_for_status()
            return
    raise RuntimeError(f"no verification link in the outbox: {outbox}")


def moderator_token(
    server: LiveServer, client: httpx.Client, email: str, *, role: str = "moderator"
) -> str:
    """Create a moderator (or another staff ``role``) with the operator's CLI and sign in."""
    output = server.cli("account", "create", "--email", email, "--role", role)
    password = re.search(r"password: (\S+)", output)
    if password is None:
        raise RuntimeError(f"no password in: {output}")
    return sign_in(client, email, password.group(1))


def granted_asset(client: httpx.Client, token: str, handle: str) -> tuple[str, str]:
    """A character with a policy and an active grant: (asset id, grant id)."""
    headers = {"Authorization": f"Bearer {token}"}
    asset = client.post(
        "/v1/assets",
        headers=headers,
        json={"kind": "character", "handle": handle, "name": handle.title()},
    )
    asset.raise_for_status()
    asset_id = asset.json()["id"]
    client.post(
        f"/v1/assets/{asset_id}/policies",
        headers=headers,
        json={"audience": "anyone", "allowed_uses": ["personal"]},
    ).raise_for_status()
    grant = client.post(f"/v1/assets/{asset_id}/grants", headers=headers, json={})
    grant.raise_for_status()
    return asset_id, grant.json()["grant"]["id"]


def api_key(
    client: httpx.Client, token: str, name: str, *, scopes: tuple[str, ...] = ("assets:read",)
) -> str:
    """A new API key's secret, for reading assets (or ``scopes``), for the account signed in
    with ``token``."""
    response = client.post(
        "/v1/api-keys",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": name, "scopes": list(scopes)},
    )
    response.raise_for_status()
    return response.json()["secret"]
