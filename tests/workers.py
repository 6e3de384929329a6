"""Starting and stopping a real Celery worker process against the test database and
the configured broker (shared by the worker tests)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[1]


def start_worker(
    log_path: Path,
    database_url: str,
    *,
    queues: str = "default",
    env: dict | None = None,
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rakuten.settings.test",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "rakuten",
                "worker",
                "--pool",
                "solo",
                "-Q",
                queues,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for(result, worker: subprocess.Popen, *, timeout: float):
    """``result.get(timeout=...)``, failing fast if the worker process dies."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return result.get(timeout=2, interval=0.2)
        except CeleryTimeoutError:
            if worker.poll() is not None:
                pytest.fail(
                    f"the worker exited ({worker.returncode}) before the task ran"
                )
            if time.monotonic() > deadline:
                raise


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()  # warm shutdown
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
