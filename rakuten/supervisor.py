"""Run the platform's processes together (web, worker, beat) until Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]


def run_processes(specs: Sequence[ProcessSpec], *, env: dict | None = None) -> int:
    """Start every process, wait until one exits or a signal arrives, then stop all of
    them (SIGTERM, then SIGKILL after a grace period). Returns an exit status."""
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    previous = {
        s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        for spec in specs:
            # Own process group: Ctrl-C reaches us once, and we stop children in order.
            procs[spec.name] = subprocess.Popen(
                list(spec.argv), env=env or os.environ.copy(), start_new_session=True
            )
            print(f"[run] started {spec.name} (pid {procs[spec.name].pid})", flush=True)
        status = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(
                        f"[run] {name} exited with {proc.returncode}", file=sys.stderr
                    )
                    status = proc.returncode or 1
                    stopping = True
                    break
            time.sleep(0.5)
        return status
    finally:
        _stop_all(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_all(procs: dict[str, subprocess.Popen], grace: float = 10.0) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()  # the process stops its own children (worker pool)
    deadline = time.monotonic() + grace
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        print(f"[run] stopped {name}", flush=True)
