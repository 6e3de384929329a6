"""Batch re-categorisation throughput: the batch engine in one process, and whole jobs
on real Celery worker processes (one, then two) on the ``batch`` queue.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/batch.py [--dataset open|flipkart]
           [--backbone none|efficientnet_lite0] [--epochs 8] [--workers 1 2]
           [--chunk-size 500] [--quantize] [--json PATH]

A model is trained on the dataset's 80 % (stratified split, seed 0; ``train_model``'s
defaults, text only unless --backbone) and kept under var/bench-batch/ for the next
runs. A throwaway SQLite database (and broker) in a temporary folder gets every
product of the dataset (photos read in place from ../shared) and the model as the
active version. Then:

1. in-process: ``batch_items_predict`` (what a chunk runs) over every product, in
   forward passes of ``BATCH_PREDICT_BATCH_SIZE``: products/s, after a warm-up;
2. per --workers N: N ``celery worker -Q batch --pool solo`` processes (each with
   cores / N torch threads), then ``manage.py recategorise --scope all --wait``
   (the command, in this process) until the job finishes: its end-to-end time
   (creation to finish, workers already started, each loading the model on its
   first chunk) and products/s; every product predicted
   exactly once is checked;
3. the weighted F1 of the model on the 20 % test split, with --quantize also with
   int8 dynamic quantisation of the BiGRU and linear layers (its cost in accuracy).
"""

import argparse
import csv
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality import DATASETS, load  # noqa: E402
from ml.core.bundles import load_bundle, save_bundle  # noqa: E402
from ml.core.config import TrainingConfig  # noqa: E402
from ml.core.data import stratified_split  # noqa: E402
from ml.core.features import FeatureCache  # noqa: E402
from ml.core.pipeline import train_model  # noqa: E402

WORK = ROOT / "var" / "bench-batch"


def model_bundle(dataset: str, backbone: str | None, epochs: int):
    """The bundle trained on the dataset's 80 % (cached under var/bench-batch/)."""
    root = WORK / f"{dataset}-{backbone or 'text'}-{epochs}" / "bundles"
    existing = sorted(p for p in root.glob("*") if (p / "bundle.json").exists())
    if existing:
        return load_bundle(existing[0]).path, load_bundle(existing[0]).sha256
    samples = load(DATASETS[dataset])
    labels = [s.label for s in samples]
    train_idx, _ = stratified_split(labels, val_fraction=0.2, seed=0)
    started = time.perf_counter()
    result = train_model(
        [samples[i] for i in train_idx],
        TrainingConfig(backbone=backbone, epochs=epochs, seed=0),
        work_dir=root.parent / "run",
        feature_cache=FeatureCache(WORK / "features"),
        log_dir=None,
    )
    ref = save_bundle(result, root=root)
    print(f"trained in {time.perf_counter() - started:.0f} s: {ref.path}", flush=True)
    return ref.path, ref.sha256


def django_setup(tmp: Path, dataset: str) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "rakuten.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp / 'broker.sqlite3'}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_MEDIA_ROOT": str(DATASETS[dataset]),
        "ML_ARTIFACTS_DIR": str(tmp / "ml"),
        "HF_HUB_OFFLINE": "1",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def catalogue_import(dataset: str) -> int:
    from catalog.models import Category, Product

    folder = DATASETS[dataset]
    with open(folder / "products.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    codes = sorted({row["category"] for row in rows})
    known = set(Category.objects.values_list("code", flat=True))
    Category.objects.bulk_create(
        Category(code=code, name=code) for code in codes if code not in known
    )
    categories = dict(Category.objects.values_list("code", "pk"))
    Product.objects.bulk_create(
        (
            Product(
                title=row["title"][:500],
                description=row["description"],
                image=f"images/{row['image']}" if row["image"] else "",
                category_id=categories[row["category"]],
                source=Product.Source.IMPORT,
            )
            for row in rows
        ),
        batch_size=1000,
    )
    return len(rows)


def version_register(path: Path, sha256: str):
    from ml.models import ModelVersion
    from ml.services.model_versions import model_version_activate

    bundle = load_bundle(path)
    version = ModelVersion.objects.create(
        name="bench",
        status=ModelVersion.Status.READY,
        bundle_path=str(path),
        bundle_sha256=sha256,
        label_codes=bundle.labels,
        backbone=bundle.metadata.get("backbone") or "",
    )
    return model_version_activate(version=version, reason="bench")


def in_process(version, batch_size: int) -> dict:
    from catalog.models import Product
    from ml.services.batch_predict import batch_items_predict
    from ml.services.batch_scopes import AllProductsScope

    ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    items = AllProductsScope().items(None, ids)
    read = time.perf_counter() - started
    # warm-up: the model loads
    batch_items_predict(version=version, items=items[:64], batch_size=batch_size)
    started = time.perf_counter()
    predictions = batch_items_predict(
        version=version, items=items, batch_size=batch_size
    )
    seconds = time.perf_counter() - started
    used = sorted({p.used for p in predictions})
    return {
        "products": len(items),
        "read_seconds": round(read, 2),
        "predict_seconds": round(seconds, 2),
        "products_per_second": round(len(items) / seconds, 1),
        "batch_size": batch_size,
        "used": used,
    }


def worker_start(env: dict, name: str, threads: int, log: Path) -> subprocess.Popen:
    threads_env = {k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "rakuten",
                "worker",
                "-Q",
                "batch",
                "--pool",
                "solo",
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env, **threads_env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def job_run(env: dict, workers: int, chunk_size: int, tmp: Path) -> dict:
    from django.core.management import call_command
    from django.db.models import Count

    from ml.models import BatchJob, BatchResult

    cores = os.cpu_count() or 1
    threads = max(1, cores // workers)
    procs = [
        worker_start(env, f"bench{i}", threads, tmp / f"worker{i}.log")
        for i in range(workers)
    ]
    try:
        time.sleep(8)  # the workers start (Django, torch) before the clock starts
        started = time.perf_counter()
        # what an operator runs: the command creates the job and waits for its end
        out = io.StringIO()
        call_command(
            "recategorise",
            scope="all",
            chunk_size=chunk_size,
            wait=True,
            poll_seconds=0.2,
            stdout=out,
        )
        end_to_end = time.perf_counter() - started
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a worker exited: see {tmp}/worker*.log")
        job = BatchJob.objects.order_by("-pk").first()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    results = BatchResult.objects.filter(job=job)
    duplicates = results.values("item_id").annotate(n=Count("pk")).filter(n__gt=1)
    running = (job.finished_at - job.started_at).total_seconds()
    chunk_seconds = sorted(job.chunks.values_list("seconds", flat=True))
    return {
        "workers": workers,
        "threads_per_worker": threads,
        "status": job.status,
        "products": job.total,
        "chunks": job.chunks_total,
        "results": results.count(),
        "duplicates": duplicates.count(),
        "end_to_end_seconds": round(end_to_end, 2),
        "running_seconds": round(running, 2),
        "products_per_second": round(job.total / running, 1),
        "median_chunk_seconds": round(chunk_seconds[len(chunk_seconds) // 2], 2),
        "job": BatchJob.objects.filter(pk=job.pk).values_list("pk", flat=True)[0],
    }


def accuracy(dataset: str, path: Path, sha256: str, quantize: bool) -> dict:
    from ml.core.evaluation import evaluate_items
    from ml.core.inference import Predictor

    samples = load(DATASETS[dataset])
    labels = [s.label for s in samples]
    _, test_idx = stratified_split(labels, val_fraction=0.2, seed=0)
    items = [
        {
            "title": samples[i].title,
            "description": samples[i].description,
            "image": samples[i].image,
            "label": samples[i].label,
        }
        for i in test_idx
    ]
    out = {}
    for name, quantized in [("fp32", False)] + ([("int8", True)] if quantize else []):
        predictor = Predictor(path, sha256, quantize=quantized)
        report = evaluate_items(predictor, items)
        out[name] = {"weighted_f1": round(report["weighted_f1"], 4), "n": len(items)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="open")
    parser.add_argument("--backbone", default="none")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--quantize", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    backbone = None if args.backbone == "none" else args.backbone
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, python {platform.python_version()}; "
        f"dataset {args.dataset}, backbone {args.backbone}",
        flush=True,
    )
    path, sha256 = model_bundle(args.dataset, backbone, args.epochs)
    report: dict = {"dataset": args.dataset, "backbone": args.backbone}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as name:
        tmp = Path(name)
        env = django_setup(tmp, args.dataset)
        if args.quantize:
            env["BATCH_QUANTIZE"] = "true"
            os.environ["BATCH_QUANTIZE"] = "true"
            from django.conf import settings

            settings.BATCH_QUANTIZE = True
        report["products"] = catalogue_import(args.dataset)
        version = version_register(path, sha256)
        os.environ["BATCH_PREDICT_BATCH_SIZE"] = str(args.batch_size)
        report["in_process"] = in_process(version, args.batch_size)
        print(f"in process: {report['in_process']}", flush=True)
        report["jobs"] = []
        for workers in args.workers:
            outcome = job_run(env, workers, args.chunk_size, tmp)
            report["jobs"].append(outcome)
            print(f"job: {outcome}", flush=True)
    report["accuracy"] = accuracy(args.dataset, path, sha256, args.quantize)
    print(f"test weighted F1: {report['accuracy']}", flush=True)
    if len(report["jobs"]) >= 2:
        one, two = report["jobs"][0], report["jobs"][1]
        speedup = two["products_per_second"] / one["products_per_second"]
        report["speedup"] = round(speedup, 2)
        print(f"{two['workers']} workers / {one['workers']}: {speedup:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
