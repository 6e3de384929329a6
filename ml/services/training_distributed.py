"""A full training run's training step under torchrun, when ``ML_TRAIN_PROCESSES``
is above 1: :func:`ml.services.training_runs.training_run_execute` hands it here
instead of calling the core's ``train_model`` in its own process.

The run's samples go to ``<run work dir>/train.csv`` (the generic layout of
:mod:`ml.core.distributed_train`, photos by absolute path), and this machine runs::

    python -m torch.distributed.run --standalone --nproc_per_node N \\
        -m ml.core.distributed_train --csv <work>/train.csv --out <bundles> ...

with the run's own ``TrainingConfig``. Rank 0 writes the bundle and prints its
summary (and, before it, the progress events the run's log and progress bar show);
the bundle is then checked against its sha256 and registered like an in-process
run's. A worker killed meanwhile resumes from rank 0's checkpoints in the run's work
folder, as an in-process run does.

On a multi-GPU worker, N is the number of GPUs: each rank takes one (NCCL). On CPU
the ranks use gloo and share the machine's cores (torchrun gives each one thread).
"""

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from ml.core.errors import DistributedTrainingError  # no torch: errors only

# How often the launcher reads the ranks' progress while they train (seconds).
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class BundleTrainingResult:
    """What registering a model version reads of a training result, as the bundle
    rank 0 wrote keeps it (``bundle.json``)."""

    labels: list[str]
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    warnings: list[str]
    fusion_weight: float
    backbone_provenance: dict[str, Any] | None

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> "BundleTrainingResult":
        return cls(
            labels=list(metadata["labels"]),
            metrics=metadata["metrics"],
            lineage=metadata["lineage"],
            warnings=list(metadata["training"]["warnings"]),
            fusion_weight=float(metadata["fusion_weight"]),
            backbone_provenance=metadata["backbone"],
        )


def training_distributed_train(
    *,
    samples: Sequence,
    config,
    processes: int,
    work_dir: Path,
    bundles_dir: Path,
    features_dir: Path,
    log_dir: Path | None = None,
    extra_metadata: dict[str, Any] | None = None,
    progress: Callable[[dict], None] | None = None,
):
    """Train on ``samples`` with ``config`` (a ``TrainingConfig``) in ``processes``
    torchrun ranks; return the result as the bundle records it and the loaded,
    verified bundle. A launch that fails raises ``DistributedTrainingError`` with one
    line: the first failing rank's error."""
    from ml.core.bundles import load_bundle

    data = Path(work_dir) / "train.csv"
    _samples_csv_write(data, samples)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", str(processes), "-m", "ml.core.distributed_train"]
    command += ["--csv", str(data), "--out", str(bundles_dir), "--work", str(work_dir)]
    command += ["--features", str(features_dir), "--progress"]
    command += ["--config", json.dumps(asdict(config))]
    command += ["--metadata", json.dumps(extra_metadata or {})]
    if log_dir is not None:
        command += ["--log-dir", str(log_dir)]
    summary = _launch(command, Path(work_dir), processes, progress)
    # checked against the sha256 rank 0 printed (BundleIntegrityError otherwise)
    bundle = load_bundle(Path(summary["bundle"]), expected_sha256=summary["sha256"])
    return BundleTrainingResult.from_metadata(bundle.metadata), bundle


def _samples_csv_write(path: Path, samples: Sequence) -> None:
    """``samples`` in the generic CSV layout; a photo by its absolute path (the
    reader joins it to its images folder, and an absolute path wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "description", "category", "image"])
        for i, sample in enumerate(samples):
            image = str(Path(sample.image).absolute()) if sample.image else ""
            writer.writerow(
                [i, sample.title or "", sample.description or "", sample.label, image]
            )


def _launch(
    command: list[str],
    work_dir: Path,
    processes: int,
    progress: Callable[[dict], None] | None,
) -> dict[str, Any]:
    """Run torchrun to its end, relaying rank 0's progress lines; return its
    summary. Output goes to files in the run's work folder (kept for whoever looks
    into a failure): a hung rank would keep a pipe open. If this process is stopped
    (a time limit, a shutdown), torchrun is stopped with SIGTERM and stops its ranks."""
    out, err = work_dir / "torchrun.out", work_dir / "torchrun.err"
    # This process's environment (HF_HUB_OFFLINE, CUDA_VISIBLE_DEVICES, ...) less the
    # rank variables of a launcher that may have started it, with the project first
    # on the ranks' import path.
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    }
    root = str(settings.BASE_DIR)
    inherited = environ.get("PYTHONPATH")
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, inherited]))
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=environ,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=_stop_with_parent(),
        )
    summary, pending = None, ""
    try:
        with open(out, encoding="utf-8") as reader:
            while True:
                try:
                    returncode = process.wait(timeout=POLL_SECONDS)
                except subprocess.TimeoutExpired:
                    returncode = None
                *lines, pending = (pending + reader.read()).split("\n")
                for line in lines:
                    summary = _line_handle(line, progress) or summary
                if returncode is not None:
                    break
    except BaseException:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    if returncode != 0:
        error = _error_line(err.read_text(encoding="utf-8", errors="replace"))
        raise DistributedTrainingError(
            f"Training under torchrun ({processes} processes) failed: "
            f"{error or f'exit status {returncode}'}"
        )
    if summary is None:
        raise DistributedTrainingError(
            "Training under torchrun wrote no bundle summary."
        )
    return summary


def _line_handle(line: str, progress: Callable[[dict], None] | None) -> dict | None:
    """Relay a progress line; return the summary line's content."""
    if not line.startswith("{"):
        return None
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if "progress" in message:
        if progress is not None:
            progress(message["progress"])
        return None
    return message if "bundle" in message else None


_RANK_LINE = re.compile(r"^\[rank(\d+)\]: (.*)$")
_DOTTED_ERROR = re.compile(r"^(?:\w+\.)+(\w+: .*)$")


def _error_line(stderr: str) -> str:
    """The first failing rank's error, from torchrun's stderr: each rank's last
    unindented line (the end of its traceback), the one that came first, without
    its exception's module path. torchrun's own last lines are a report banner; when
    no rank wrote anything (torchrun refused its arguments), its last line that is
    not part of that banner."""
    last: dict[str, tuple[int, str]] = {}
    lines = stderr.splitlines()
    for number, line in enumerate(lines):
        match = _RANK_LINE.match(line)
        text = match[2] if match else ""
        if text.strip() and not text[0].isspace() and text[:11] != "Traceback (":
            last[match[1]] = (number, text.strip())
    if last:
        error = min(last.values())[1]
        return _DOTTED_ERROR.sub(r"\1", error)
    for line in reversed(lines):
        if line.strip() and line.strip("=- ") and not _RANK_LINE.match(line):
            return line.strip()
    return ""


def _stop_with_parent() -> Callable[[], Any] | None:
    """What the torchrun child runs before it starts (Linux): have the kernel send it
    SIGTERM when the worker that launched it dies, even by SIGKILL, so that no
    training is left running without its run (torchrun then stops its ranks). libc
    is resolved here, in the parent: between fork and exec the child only makes the
    one C call (a ``dlopen`` there could wait on a lock another thread held at the
    fork). None where there is no ``prctl`` (not Linux): the watchdog's requeue only."""
    import ctypes
    import functools
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, 1, signal.SIGTERM)  # PR_SET_PDEATHSIG
