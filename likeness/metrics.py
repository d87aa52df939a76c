"""The media workers' restarts: a pool replaced after one of its processes died, or a Ray scan
actor restarted (likeness/ray_scan.py)."""

from prometheus_client import Counter

MEDIA_WORKER_RESTARTS = Counter(
    "clearhouse_media_worker_restarts_total",
    "Media worker pools replaced after a worker process died (out of memory, a crash while "
    "decoding); the next upload starts a new pool. With Ray: scan actors restarted.",
)
