"""Reading /metrics as Prometheus would: the exposition parsed by prometheus_client."""

import httpx
from prometheus_client.parser import text_string_to_metric_families


def scraped(client: httpx.Client, headers: dict[str, str]) -> dict[tuple[str, frozenset], float]:
    """Every sample of one scrape, by its name and its labels."""
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    return samples(answer.text)


def samples(exposition: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float:
    """A sample's value; 0 when the scrape has none such (nothing counted yet)."""
    return scrape.get((name, frozenset(labels.items())), 0.0)


def requests_counted(scrape: dict, *, method: str, route: str, status: int) -> float:
    return value(
        scrape,
        "clearhouse_http_request_duration_seconds_count",
        method=method,
        route=route,
        status=str(status),
    )
