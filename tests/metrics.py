"""Reading ``/metrics`` in tests: the page, and one sample's value."""

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "scrape-token-for-tests"


def scrape(client) -> str:
    """The ``/metrics`` page, as Prometheus reads it with its bearer token."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, its labels): value} of an exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, /, **labels) -> float:
    """The value of the sample ``name`` with exactly ``labels`` (0.0 if absent: a
    counter whose label set was never used)."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def families(text: str) -> dict[str, str]:
    """{family name: type} of an exposition."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def sample_names(text: str) -> set[str]:
    """Every sample name a PromQL expression may use on this exposition, whether a
    sample was written yet or not (a counter's ``_total``, a histogram's
    ``_bucket``, ``_count``, ``_sum``, an info metric's ``_info``)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
        "gauge": ("",),
        "unknown": ("",),
    }
    names = {
        f"{name}{suffix}"
        for name, kind in families(text).items()
        for suffix in suffixes[kind]
    }
    return names | {name for name, _ in samples(text)}
