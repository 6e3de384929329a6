"""The metrics this process counts, and a Celery worker's metrics port.

With ``PROMETHEUS_MULTIPROC_DIR`` set (prometheus-client's multiprocess mode) every
process of a host (gunicorn's workers, a Celery worker's pool processes) counts into
files of that folder, and reading them gives the figures of all of them; the folder
must be emptied before the processes start. Unset, each process counts for itself.

A Celery worker with ``METRICS_WORKER_PORT`` set serves them on that port
(prometheus-client's HTTP server, started from the worker's main process when it is
ready: rakuten.celery). Its pool processes count into the shared folder, so that mode
needs ``PROMETHEUS_MULTIPROC_DIR`` unless the pool is solo or threads."""

import logging
import os

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry

logger = logging.getLogger(__name__)


def process_registry():
    """The metrics counted by this process, or by every process sharing the
    multiprocess folder."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def worker_metrics_serve():
    """Serve this worker's metrics on ``METRICS_WORKER_PORT`` (all interfaces: keep
    the port on a private network). Returns the HTTP server, or None when off."""
    port = settings.METRICS_WORKER_PORT
    if not port:
        return None
    from prometheus_client import start_http_server

    server, _ = start_http_server(port, registry=process_registry())
    logger.info("worker metrics on port %s", port)
    return server
