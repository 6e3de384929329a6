"""How the platform's ML steps scale with the catalogue: a load benchmark, not quality.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/scale.py [--sizes 10000 40000 85000]
           [--steps generate import features vgg16 train finetune evaluate predict]
           [--distributed] [--epochs 8] [--vgg-sample 200] [--work var/scale]
           [--json PATH]

For each N, on a synthetic catalogue (``bench/make_catalogue.py``: recombined texts,
derived photos; its categories are easier or harder than real ones, so the weighted F1
printed beside the evaluation is a sanity check, not a quality figure), every step runs
in a fresh child process of its own, so that its peak memory (``VmHWM`` of
/proc/self/status) is the step's alone; the child's seconds are the step's work, after
its imports. Like bench/quality.py this script imports no Django: it reads the CSV
itself and calls ``ml.core`` directly.

1. ``generate``: ``make_catalogue(N, seed)`` into ``WORK/N/catalogue`` (reused when a
   previous run wrote the same N and seed: its figures are shown again);
2. ``import``: the CSV read into samples and every photo opened and checked against
   the pixel and shape limits and by PIL's ``verify()`` (what the platform's import
   does to photos, without the database);
3. ``features``: efficientnet_lite0 features of every photo through ``fill_store``
   into a FeatureStore under ``WORK/N/features`` (photos/s, store size on disk);
   ``vgg16``: the same for the first ``--vgg-sample`` photos only, projected to N
   (seconds per photo and bytes per feature row measured, times N; random VGG16
   weights when the pretrained ones are not installed: the cost is the same);
4. ``train``: ``train_model`` with the platform's defaults
   (``TrainingConfig(backbone="efficientnet_lite0", seed=0, epochs=--epochs)``) on the
   training rows, features read from the store (``extract_features`` takes the store
   as its cache), bundle saved;
5. ``finetune``: 5 % of the rows are held back from step 4's training set; the step-4
   bundle is fine-tuned on them (``finetune_model``, with the replay of older rows the
   platform adds: 3 per new row, at least 5 per category), features from the store;
6. ``evaluate``: the step-4 bundle scored on a held-out 10 % (``evaluate_items``);
7. ``predict``: ``Predictor.predict_batch`` over the whole catalogue, 256 products a
   pass, with photos: the Predictor runs the backbone on each photo (it has no use for
   the feature store), as the batch jobs do;
8. ``--distributed``: step 4 again under ``torchrun --nproc_per_node 2`` (gloo), each
   rank running ``ml.core.distributed_train.main`` (the ``-m`` entry point, wrapped
   only to record every rank's peak memory), features from the same store.

A step whose input is missing is skipped with a one-line reason. Prints one markdown
table per N (step | seconds | peak memory MB | notes) and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scale_steps  # noqa: E402
from bench.scale_steps import STEPS, Skip, peak_mb  # noqa: E402


def rank_main(argv: list[str]) -> int:
    """One torchrun rank: ``ml.core.distributed_train``'s entry point, then this
    rank's peak memory written to ``FOLDER/rank-<r>.json``."""
    from ml.core import distributed_train

    folder, rest = Path(argv[0]), argv[1:]
    code = distributed_train.main(rest)
    rank = os.environ.get("RANK", "0")
    (folder / f"rank-{rank}.json").write_text(json.dumps({"peak_mb": peak_mb()}))
    return code


# ------------------------------------------------------------------ driver
def run_step(step: str, n: int, work: Path, args) -> dict:
    """Run ``step`` in a fresh child process; its figures (or why it was skipped)."""
    command = [sys.executable, __file__, "--one", step, "--n", str(n)]
    command += ["--work", str(work), "--epochs", str(args.epochs)]
    command += ["--vgg-sample", str(args.vgg_sample), "--workers", str(args.workers)]
    started = time.perf_counter()
    child = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = child.stdout.strip().splitlines()
    if child.returncode or not lines:
        tail = (child.stderr or child.stdout).strip().splitlines()[-1:] or ["?"]
        return {"step": step, "failed": True, "wall_s": wall, "notes": tail[0]}
    return {"step": step, "wall_s": wall, **json.loads(lines[-1])}


def one(args) -> int:
    """Child process: run one step and print its figures as JSON (last line)."""
    step = getattr(scale_steps, f"step_{args.one}")
    try:
        figures = step(Path(args.work), args.n, args)
    except Skip as why:
        figures = {"skipped": True, "notes": f"skipped: {why}"}
    print(json.dumps(figures, default=str), flush=True)
    return 0


def table(n: int, rows: list[dict]) -> str:
    lines = [
        f"\n### N = {n:,}\n",
        "| step | seconds | peak memory MB | notes |",
        "|---|---|---|---|",
    ]
    for row in rows:
        seconds = f"{row['seconds']:.2f}" if "seconds" in row else "-"
        peak = f"{row['peak_mb']:.0f}" if "peak_mb" in row else "-"
        notes = row.get("notes", "")
        if row.get("workers_peak_mb"):
            notes += f"; largest worker {row['workers_peak_mb']:.0f} MB"
        if row.get("failed"):
            notes = f"FAILED: {notes}"
        lines.append(f"| {row['step']} | {seconds} | {peak} | {notes} |")
    return "\n".join(lines)


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch

    return (
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {memory:.1f} GiB RAM, python "
        f"{platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--rank-of"]:
        return rank_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 40_000, 85_000]
    )
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS[:-1]))
    parser.add_argument("--distributed", action="store_true", help="add step 8")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--vgg-sample", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--work", type=Path, default=None, help="default: var/scale/N for each N"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        return one(args)
    steps = [
        s for s in STEPS if s in args.steps or (s == "distributed" and args.distributed)
    ]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded
    results = []
    for n in args.sizes:
        work = (args.work / str(n)) if args.work else ROOT / "var" / "scale" / str(n)
        work.mkdir(parents=True, exist_ok=True)
        rows = []
        for step in steps:
            row = run_step(step, n, work, args)
            rows.append(row)
            print(f"  {n} {step}: {row.get('notes', '')}", file=sys.stderr, flush=True)
        print(table(n, rows), flush=True)
        results.append({"n": n, "work": str(work), "steps": rows})
    info = machine()
    print(f"\n{info}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "sizes": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
