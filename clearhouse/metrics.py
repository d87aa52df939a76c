"""Prometheus metrics: where they are kept, and who may read them.

``clearhouse serve`` keeps every process's metrics in ``PROMETHEUS_MULTIPROC_DIR`` (the data
dir's ``metrics/<serve's pid>/``, new at each start), so one scrape of any process reports
them all (prometheus-client's multiprocess mode). Without it (an app built in a test), a process
reports its own. Gauges that describe shared state (jobs by state) are read from the
database at each scrape instead.

``GET /metrics`` answers admins only (401 to anyone else without credentials, 403 to other
accounts); an operator may also set ``CLEARHOUSE_METRICS_PORT`` for a plain exposition on
127.0.0.1 at that port, served by the ``serve`` process itself, for a local scraper.
"""

import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine

from clearhouse.deps import AdminAccount
from generator.metrics import JobStates

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

router = APIRouter(tags=["operations"])


def scrape_registry(engine: Engine) -> CollectorRegistry:
    """What one scrape reports: every process's metrics (or this process's), and the
    generation jobs by state."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ThisProcess())
    registry.register(JobStates(engine))
    return registry


class _ThisProcess:
    """The default registry's metrics (this process's), inside a scrape's registry."""

    def collect(self):
        return REGISTRY.collect()


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition."}},
)
def metrics(request: Request, _admin: AdminAccount) -> Response:
    """Every API process's metrics in the Prometheus text format, for admins (the README's
    Metrics and logs section lists them)."""
    exposition = generate_latest(scrape_registry(request.app.state.engine))
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)


def serve_metrics_port(*, port: int, engine: Engine) -> None:
    """The exposition on 127.0.0.1:``port`` with no authentication, from a daemon thread of
    the calling process (only what runs on this machine can reach it)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr="127.0.0.1", registry=scrape_registry(engine))
