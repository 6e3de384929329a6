"""What ``/metrics`` exposes and who may read it.

The exposition is, in Prometheus' text format:

- every metric counted in this process (django-prometheus' request counts and latency
  histograms, ml.metrics' prediction and training counters), or, with
  ``PROMETHEUS_MULTIPROC_DIR`` set (prometheus-client's multiprocess mode), those of
  every process writing to that folder: the gunicorn workers, and Celery workers on
  the same host;
- figures read at scrape time: ml.metrics.PlatformCollector (database) and the depth
  of each Celery queue (broker).

A Celery worker serves the first part on a port of its own (rakuten.metrics_process)."""

import hmac
import ipaddress
import logging

from django.conf import settings
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from rakuten.clientip import client_ip
from rakuten.metrics_process import process_registry

logger = logging.getLogger(__name__)


def metrics_access_allowed(request) -> bool:
    """The client's address is in ``METRICS_ALLOWED_NETWORKS``, or the request carries
    ``Authorization: Bearer <METRICS_TOKEN>``."""
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    for network in settings.METRICS_ALLOWED_NETWORKS:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            logger.warning("METRICS_ALLOWED_NETWORKS: %r is not a network", network)
    return False


def metrics_exposition() -> bytes:
    """The web's ``/metrics`` page."""
    from ml.metrics import PlatformCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    registry.register(PlatformCollector())
    registry.register(CeleryQueueCollector())
    return generate_latest(registry)


class _ProcessMetrics:
    def collect(self):
        yield from process_registry().collect()


class CeleryQueueCollector:
    """Messages waiting in each queue of ``METRICS_CELERY_QUEUES``: kombu's passive
    queue declaration, which counts the Redis list (all priority levels) or the rows
    of kombu's SQLAlchemy message table still visible. Messages a worker has taken but
    not yet acknowledged are not counted. An unreachable broker gives
    ``rakuten_celery_broker_up 0`` and no depth."""

    def __init__(self, broker_url: str | None = None) -> None:
        self.broker_url = broker_url  # (default: the platform's broker)

    def collect(self):
        from kombu.exceptions import ChannelError, OperationalError

        from rakuten.celery import app

        depth = GaugeMetricFamily(
            "rakuten_celery_queue_length",
            "Messages waiting in a Celery queue.",
            labels=["queue"],
        )
        up = 1
        try:
            with app.connection_for_read(self.broker_url) as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
                channel = connection.default_channel
                for queue in settings.METRICS_CELERY_QUEUES:
                    try:
                        declared = channel.queue_declare(queue=queue, passive=True)
                        count = declared.message_count
                    except ChannelError:  # never declared: nothing waits in it
                        count = 0
                    depth.add_metric([queue], count)
        except (OperationalError, OSError, ConnectionError) as exc:
            logger.warning("queue depth not read: %s", exc)
            up = 0
        yield GaugeMetricFamily(
            "rakuten_celery_broker_up",
            "1 when /metrics could read the queues' depth from the broker.",
            value=up,
        )
        if up:
            yield depth
