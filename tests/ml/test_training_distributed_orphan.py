"""A torchrun launched by a training worker does not outlive that worker, even when the
worker is killed with SIGKILL: the kernel's parent-death signal, which the callable
returned by ``_stop_with_parent()`` sets up in the child."""

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"
)

PARENT = """
import subprocess, sys, time
from ml.services.training_distributed import _stop_with_parent
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(120)"],
    preexec_fn=_stop_with_parent(),
)
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie has exited
        return handle.read().split(") ")[1][0] != "Z"


def test_the_launched_process_stops_when_its_worker_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    assert _alive(child)

    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)

    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
