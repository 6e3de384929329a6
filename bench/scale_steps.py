"""The steps of ``bench/scale.py`` (one function per step, run in a child process of
their own by that script) and what they share: paths, splits, the platform's training
configuration. A load benchmark, not quality; no Django."""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "scale.py"  # torchrun runs it as each rank
sys.path.insert(0, str(ROOT))

STEPS = (
    "generate",
    "import",
    "features",
    "vgg16",
    "train",
    "finetune",
    "evaluate",
    "predict",
    "distributed",
)
SEED = 0
TEST_SHARE = 0.10  # held out from training, scored by ``evaluate``
NEW_SHARE = 0.05  # held back from ``train``, the new products of ``finetune``
REPLAY_FACTOR = 3  # as ml/services/training_data.py (not imported: Django)
REPLAY_MIN_PER_LABEL = 5
PREDICT_PASS = 256
BACKBONE = "efficientnet_lite0"


class Skip(Exception):
    """A step's prerequisite is missing (the message says which)."""


# ------------------------------------------------------------------ helpers
def peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_mb() -> float:
    """The largest peak of the finished child processes (photo workers)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def disk_bytes(folder: Path) -> int:
    """Bytes actually allocated under ``folder`` (shards are sparse files)."""
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def catalogue(work: Path) -> Path:
    return work / "catalogue"


def csv_path(work: Path) -> Path:
    return catalogue(work) / "products.csv"


def need_csv(work: Path) -> Path:
    path = csv_path(work)
    if not path.is_file():
        raise Skip(f"no catalogue at {path}: run the generate step")
    return path


def samples_of(work: Path):
    from ml.core.distributed_train import load_csv

    return load_csv(need_csv(work))


def splits(labels: list[str]) -> tuple[list[int], list[int], list[int]]:
    """(training rows, new rows held back for ``finetune``, test rows)."""
    from ml.core.data import stratified_split

    rest, test = stratified_split(labels, val_fraction=TEST_SHARE, seed=SEED)
    kept, new = stratified_split(
        [labels[i] for i in rest], val_fraction=NEW_SHARE, seed=SEED
    )
    return [rest[i] for i in kept], [rest[i] for i in new], test


def spec_of(name: str = BACKBONE):
    from ml.core.backbones import build_backbone

    return build_backbone(name, pretrained=True, allow_random=True)


def filled_store(work: Path):
    """The efficientnet_lite0 store the ``features`` step filled."""
    from ml.core.features import feature_store

    if not (work / "features").is_dir():
        raise Skip("no feature store: run the features step")
    store = feature_store(work / "features", spec_of())
    if len(store) == 0:
        raise Skip("the feature store is empty: run the features step")
    return store


def bundle_path(work: Path, kind: str = "full") -> Path:
    found = sorted((work / "bundles" / kind).glob("*/bundle.json"))
    if not found:
        raise Skip(f"no {kind} bundle: run the train step")
    return found[0].parent


def config(epochs: int):
    from ml.core.config import TrainingConfig

    return TrainingConfig(
        backbone=BACKBONE, seed=SEED, epochs=epochs, allow_random_backbone=True
    )


def fresh(folder: Path) -> Path:
    """An empty ``folder`` (a previous run's checkpoints would be resumed)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


# ------------------------------------------------------------------ the steps
def step_generate(work: Path, n: int, args) -> dict:
    meta = catalogue(work) / "scale.json"
    if csv_path(work).is_file() and meta.is_file():
        recorded = json.loads(meta.read_text("utf-8"))
        if recorded.get("n") == n and recorded.get("seed") == SEED:
            return {**recorded["figures"], "notes": "reused (figures of that run)"}
    spec_path = ROOT / "bench" / "make_catalogue.py"
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_catalogue", spec_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_catalogue"] = module  # its pool pickles its functions
    spec.loader.exec_module(module)
    if not all((f / "products.csv").is_file() for f in module.SOURCES):
        raise Skip("the open product sets are not in ../shared")
    shutil.rmtree(catalogue(work), ignore_errors=True)
    started = time.perf_counter()
    module.make_catalogue(catalogue(work), n, seed=SEED, workers=args.workers)
    seconds = time.perf_counter() - started
    figures = {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "workers_peak_mb": children_peak_mb(),
        "disk_mb": disk_bytes(catalogue(work)) / 2**20,
    }
    figures["notes"] = (
        f"{n / seconds:.0f} products/s, {args.workers} workers, "
        f"{figures['disk_mb']:.0f} MB on disk"
    )
    meta.write_text(json.dumps({"n": n, "seed": SEED, "figures": figures}), "utf-8")
    return figures


def accepted(photo, verify: bool = False) -> bool:
    """Whether the platform's import accepts ``photo`` (pixel and shape limits;
    ``verify``: PIL's check of the whole file too)."""
    from PIL import Image

    from ml.core.transforms import check_image_size

    try:
        with Image.open(photo) as img:
            check_image_size(*img.size)
            if verify:
                img.verify()
    except Exception:  # any unreadable or refused photo
        return False
    return True


def step_import(work: Path, n: int, args) -> dict:
    from ml.core.data import Sample

    path = need_csv(work)
    folder = catalogue(work) / "images"
    before = peak_mb()  # the imports' share (ml.core.data imports torch)
    started = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as handle:
        samples = [
            Sample(
                title=row["title"],
                description=row["description"] or None,
                image=(folder / row["image"]) if row["image"] else None,
                label=row["category"],
            )
            for row in csv.DictReader(handle)
        ]
    bad = sum(not accepted(sample.image, verify=True) for sample in samples)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "rows": len(samples),
        "bad_photos": bad,
        "imports_mb": before,
        "notes": f"{len(samples) / seconds:.0f} rows/s, {bad} bad photos "
        f"({path.stat().st_size / 2**20:.1f} MB CSV); {before:.0f} MB of the peak "
        "were there before reading (imports)",
    }


def step_features(work: Path, n: int, args) -> dict:
    from ml.core.features import feature_store, fill_store

    samples = samples_of(work)
    spec = spec_of()
    root = work / "features"
    shutil.rmtree(root, ignore_errors=True)  # compute every photo, not a leftover
    store = feature_store(root, spec)
    started = time.perf_counter()
    rows = fill_store(
        spec,
        [s.image for s in samples],
        store,
        batch_size=config(1).feature_batch_size,
        num_workers=args.workers,
    )
    seconds = time.perf_counter() - started
    stored = disk_bytes(root)
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "workers_peak_mb": children_peak_mb(),
        "photos": int((rows >= 0).sum()),
        "store_mb": stored / 2**20,
        "notes": f"{BACKBONE}: {len(samples) / seconds:.1f} photos/s, store "
        f"{stored / 2**20:.1f} MB on disk ({store.dim} float32 a row), "
        f"{args.workers} decoding workers",
    }


def step_vgg16(work: Path, n: int, args) -> dict:
    from ml.core.features import feature_store, fill_store

    samples = samples_of(work)[: args.vgg_sample]
    spec = spec_of("vgg16")
    root = fresh(work / "vgg16-sample")
    store = feature_store(root, spec)
    try:
        started = time.perf_counter()
        fill_store(
            spec,
            [s.image for s in samples],
            store,
            batch_size=config(1).feature_batch_size,
            num_workers=args.workers,
        )
        seconds = time.perf_counter() - started
        row_bytes = store.dim * store.dtype.itemsize
    finally:
        shutil.rmtree(root, ignore_errors=True)
    per_photo = seconds / len(samples)
    weights = "random weights" if spec.provenance.get("warning") else "pretrained"
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "workers_peak_mb": children_peak_mb(),
        "sample": len(samples),
        "seconds_per_photo": per_photo,
        "bytes_per_row": row_bytes,
        "projected_seconds": per_photo * n,
        "projected_store_gb": row_bytes * n / 2**30,
        "notes": f"{len(samples)} photos measured ({weights}): "
        f"{per_photo:.3f} s/photo, "
        f"{row_bytes / 1024:.0f} KB a row; for N: ~{per_photo * n / 60:.0f} min, "
        f"store ~{row_bytes * n / 2**20:,.0f} MB",
    }


def step_train(work: Path, n: int, args) -> dict:
    from ml.core.bundles import save_bundle
    from ml.core.pipeline import train_model

    samples = samples_of(work)
    store = filled_store(work)
    train_idx, _, _ = splits([s.label for s in samples])
    train = [samples[i] for i in train_idx]
    marks: dict[str, float] = {}  # the peak so far when each stage began

    def progress(event: dict) -> None:
        marks.setdefault(str(event.get("stage")), peak_mb())

    started = time.perf_counter()
    result = train_model(
        train,
        config(args.epochs),
        work_dir=fresh(work / "train-work"),
        feature_cache=store,  # the image head reads batches from the shards
        progress=progress,
    )
    out = fresh(work / "bundles" / "full")
    bundle = save_bundle(result, root=out)
    seconds = time.perf_counter() - started
    f1 = result.metrics["fused"]["weighted_f1"]
    stages = ", ".join(f"{stage} {mb:.0f}" for stage, mb in marks.items())
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "rows": len(train),
        "bundle": str(bundle.path),
        "timings": result.timings,
        "peak_when_stage_began": marks,
        "notes": f"{len(train)} rows, {args.epochs} epochs, bundle saved "
        f"(validation weighted F1 {f1:.3f}); peak MB when each stage began: {stages}",
    }


def step_finetune(work: Path, n: int, args) -> dict:
    from ml.core.bundles import load_bundle, save_bundle
    from ml.core.data import replay_sample
    from ml.core.finetune import finetune_model

    base_path = bundle_path(work)
    samples = samples_of(work)
    store = filled_store(work)
    train_idx, new_idx, _ = splits([s.label for s in samples])
    if not new_idx:
        raise Skip("too few rows to hold 5 % back")
    replay = replay_sample(
        [samples[i].label for i in train_idx],
        REPLAY_FACTOR * len(new_idx),
        min_per_label=REPLAY_MIN_PER_LABEL,
        seed=SEED,
    )
    rows = [*new_idx, *(train_idx[i] for i in replay)]
    started = time.perf_counter()
    base = load_bundle(base_path)
    result = finetune_model(
        [samples[i] for i in rows],
        base,
        config(args.epochs),
        new=[True] * len(new_idx) + [False] * len(replay),
        work_dir=fresh(work / "finetune-work"),
        feature_cache=store,
    )
    bundle = save_bundle(result, root=fresh(work / "bundles" / "finetuned"))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "new": len(new_idx),
        "replayed": len(replay),
        "bundle": str(bundle.path),
        "notes": f"{len(new_idx)} new + {len(replay)} replayed rows, features "
        "from the store",
    }


def step_evaluate(work: Path, n: int, args) -> dict:
    from ml.core.evaluation import evaluate_items
    from ml.core.inference import Predictor

    path = bundle_path(work)
    samples = samples_of(work)
    _, _, test_idx = splits([s.label for s in samples])
    items = [
        {
            "title": samples[i].title,
            "description": samples[i].description,
            # the import refuses a photo out of its limits: such a product has none
            "image": samples[i].image if accepted(samples[i].image) else None,
            "label": samples[i].label,
        }
        for i in test_idx
    ]
    predictor = Predictor(path)
    predictor.load()  # as in ``predict``: loading is not the throughput
    started = time.perf_counter()
    report = evaluate_items(predictor, items, batch_size=PREDICT_PASS)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "rows": len(items),
        "weighted_f1": report["weighted_f1"],
        "notes": f"{len(items)} held-out rows, {len(items) / seconds:.1f} "
        f"products/s; weighted F1 {report['weighted_f1']:.3f} (synthetic: a "
        "sanity check)",
    }


def step_predict(work: Path, n: int, args) -> dict:
    from ml.core.errors import MLError
    from ml.core.inference import Predictor

    path = bundle_path(work)
    samples = samples_of(work)
    items = [
        {"title": s.title, "description": s.description, "image": s.image}
        for s in samples
    ]
    predictor = Predictor(path)
    predictor.load()  # loading (and tracing the backbone) is not the throughput
    started = time.perf_counter()
    done, text_only = 0, 0
    for start in range(0, len(items), PREDICT_PASS):
        part = items[start : start + PREDICT_PASS]
        try:
            done += len(predictor.predict_batch(part))
        except MLError:  # as the batch engine does: one by one, text if need be
            for item in part:
                try:
                    predictor.predict_batch([item])
                except MLError:
                    predictor.predict_batch([{**item, "image": None}])
                    text_only += 1
                done += 1
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "rows": done,
        "notes": f"{done / seconds:.1f} products/s, passes of {PREDICT_PASS}; the "
        "backbone runs on every photo (the Predictor does not read the store); "
        f"{text_only} photo(s) refused by the platform's checks, predicted from text",
    }


def step_distributed(work: Path, n: int, args) -> dict:
    samples = samples_of(work)
    filled_store(work)
    train_idx, _, _ = splits([s.label for s in samples])
    folder = fresh(work / "distributed")
    train_csv = folder / "train.csv"
    with open(csv_path(work), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(train_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[i] for i in train_idx)
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.is_file():
        raise Skip(f"no torchrun beside {sys.executable}")
    train_config = {
        "backbone": BACKBONE,
        "seed": SEED,
        "epochs": args.epochs,
        "allow_random_backbone": True,
    }
    command = [
        str(torchrun),
        "--nproc_per_node",
        "2",
        "--master_port",
        str(29500 + os.getpid() % 1000),
        str(SCRIPT),
        "--rank-of",
        str(folder),
        "--csv",
        str(train_csv),
        "--images",
        str(catalogue(work) / "images"),
        "--out",
        str(folder / "bundles"),
        "--features",
        str(work / "features"),
        "--store",
        "--config",
        json.dumps(train_config),
    ]
    # each rank gets half the cores, as one process would use them all
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // 2))}
    started = time.perf_counter()
    child = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"torchrun failed:\n{child.stderr[-3000:]}")
    ranks = {
        int(p.stem.split("-")[1]): json.loads(p.read_text("utf-8"))["peak_mb"]
        for p in folder.glob("rank-*.json")
    }
    per_rank = ", ".join(f"rank {r} {mb:.0f} MB" for r, mb in sorted(ranks.items()))
    return {
        "seconds": seconds,
        "peak_mb": max(ranks.values()),
        "rank_peak_mb": ranks,
        "notes": f"torchrun, 2 gloo ranks, {len(train_idx)} rows, {args.epochs} "
        f"epochs ({per_rank}; seconds include torchrun's start)",
    }
