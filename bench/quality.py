"""Model quality on real open product sets, against a classical reference.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/quality.py [--datasets open flipkart]
           [--backbone efficientnet_lite0] [--epochs 8] [--curve] [--json PATH]

For each folder of ../shared (generic CSV layout + images), in its own process (so
that peak memory is the set's own): an 80/20 stratified split (seed 0); the model is
trained on the 80 % with ``manage.py train_model``'s defaults (text branches +
efficientnet_lite0 photos, 8 epochs; its own validation rows inside the 80 % stop the
networks early and, apart from those, fit the temperatures and fusion weights), then
the 20 % is scored: every branch (on the products it can see), the fusion, and the
fusion without calibration (for the ECE before and after). The reference, trained on
the same 80 % in the same run, is TF-IDF (word 1-2-grams + character 2-5-grams) with
a linear SVM on the same cleaned text. ``--curve`` adds a learning curve: weighted F1
of the reference and of the model trained on 10 / 25 / 50 % of the training rows
(stratified), scored on the same 20 %. No Django; nothing is downloaded.
"""

import argparse
import csv
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml.core.bundles import save_bundle  # noqa: E402
from ml.core.calibration import expected_calibration_error  # noqa: E402
from ml.core.config import TrainingConfig  # noqa: E402
from ml.core.data import Sample, stratified_split  # noqa: E402
from ml.core.features import FeatureCache  # noqa: E402
from ml.core.inference import Predictor  # noqa: E402
from ml.core.metrics import classification_metrics  # noqa: E402
from ml.core.pipeline import train_model  # noqa: E402
from ml.core.transforms import product_text  # noqa: E402

SHARED = ROOT.parent / "shared"
DATASETS = {"open": SHARED / "products-open", "flipkart": SHARED / "products-flipkart"}
CURVE = (0.10, 0.25, 0.50)


def load(folder: Path) -> list[Sample]:
    with open(folder / "products.csv", encoding="utf-8", newline="") as handle:
        return [
            Sample(
                title=row["title"],
                description=row["description"],
                image=(folder / "images" / row["image"]) if row["image"] else None,
                label=row["category"],
            )
            for row in csv.DictReader(handle)
        ]


def figures(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict:
    from sklearn.metrics import f1_score

    metrics = classification_metrics(y_true, y_pred, labels=labels)
    macro = f1_score(y_true, y_pred, average="macro", zero_division=0) if y_true else 0
    return {
        "n": metrics["n"],
        "weighted_f1": metrics["weighted_f1"],
        "accuracy": metrics["accuracy"],
        "macro_f1": float(macro),
    }


def tfidf_reference(train: list[Sample], test: list[Sample], labels: list[str]) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    def texts(samples):
        return [product_text(s.title, s.description) for s in samples]

    model = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
            ),
        ),
        LinearSVC(C=0.5, class_weight="balanced"),
    )
    started = time.perf_counter()
    model.fit(texts(train), [s.label for s in train])
    predicted = list(model.predict(texts(test)))
    result = figures([s.label for s in test], predicted, labels)
    result["seconds"] = time.perf_counter() - started
    return result


def score(bundle, test: list[Sample], labels: list[str]) -> dict:
    """Every branch, the fusion and its ECE (calibrated and not) on ``test``."""
    items = [
        {"title": s.title, "description": s.description, "image": s.image} for s in test
    ]
    y = [s.label for s in test]
    rows: dict[str, dict] = {}
    # served (calibrated, int8 BiGRU: PREDICT_QUANTIZE), float32, uncalibrated
    for calibrated, quantize in ((True, True), (True, False), (False, False)):
        predictor = Predictor(
            bundle.path, bundle.sha256, calibrated=calibrated, quantize=quantize
        )
        index = {label: i for i, label in enumerate(predictor.labels)}
        results = predictor.predict_batch(
            items, top_k=len(predictor.labels), all_branches=True
        )
        import torch

        probs = torch.zeros(len(items), len(predictor.labels))
        for row, result in enumerate(results):
            for label, p in result.top:
                probs[row, index[label]] = p
        targets = torch.tensor([index.get(label, -1) for label in y])
        known = targets >= 0
        ece = expected_calibration_error(probs[known], targets[known])
        if not calibrated:
            rows["fusion"]["ece_before"] = ece
            continue
        if quantize:
            served = figures(y, [r.top[0][0] for r in results], labels)
            rows["served_int8"] = {**served, "ece_after": ece}
            continue
        rows["fusion"] = figures(y, [r.top[0][0] for r in results], labels)
        rows["fusion"]["ece_after"] = ece
        for name in results[0].branch_top:
            seen = [
                (t, r.branch_top[name][0])
                for t, r in zip(y, results, strict=True)
                if r.branch_top[name]
            ]
            rows[name] = figures([t for t, _ in seen], [p for _, p in seen], labels)
    return rows


def train_and_score(
    train: list[Sample], test: list[Sample], labels: list[str], args, work: Path
) -> tuple[dict, object, float]:
    config = TrainingConfig(
        backbone=args.backbone, epochs=args.epochs, seed=0, num_threads=args.threads
    )
    started = time.perf_counter()
    result = train_model(
        train,
        config,
        work_dir=work / "run",
        feature_cache=FeatureCache(work.parent / "features"),
        log_dir=None,
    )
    seconds = time.perf_counter() - started
    bundle = save_bundle(result, root=work / "bundles")
    return score(bundle, test, labels), result, seconds


def run_one(name: str, args) -> dict:
    folder = DATASETS[name]
    samples = load(folder)
    labels_of = [s.label for s in samples]
    labels = sorted(set(labels_of))
    train_idx, test_idx = stratified_split(labels_of, val_fraction=0.2, seed=0)
    train = [samples[i] for i in train_idx]
    test = [samples[i] for i in test_idx]
    print(
        f"\n## {name}: {len(train)} train / {len(test)} test, {len(labels)} "
        f"categories, {sum(s.image is not None for s in samples)} photos",
        flush=True,
    )
    reference = tfidf_reference(train, test, labels)
    work = Path(args.work) / name
    # features cached by a first run (the "after the first run" timing)
    rows, result, seconds = train_and_score(train, test, labels, args, work / "full")
    rows = {"tfidf_svm": reference, **rows}
    for method, r in rows.items():
        extra = ""
        if "ece_before" in r:
            extra = f"  ECE {r['ece_before']:.3f} -> {r['ece_after']:.3f}"
        elif "ece_after" in r:
            extra = f"  ECE {r['ece_after']:.3f}"
        print(
            f"{method:10} weighted F1 {r['weighted_f1']:.4f}  accuracy "
            f"{r['accuracy']:.4f}  macro F1 {r['macro_f1']:.4f}  (n={r['n']}){extra}",
            flush=True,
        )
    fusion = result.metrics["fusion"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timings = {k: round(v) for k, v in result.timings.items()}
    print(
        f"fusion weights {fusion['weights']}; temperatures {fusion['temperatures']} "
        f"(fused {fusion['fused_temperature']}); validation (cross-fitted) weighted "
        f"F1: grid {fusion['weighted_f1']:.4f}, stacking "
        f"{fusion['stacking_weighted_f1']:.4f}\n"
        f"training {seconds:.0f} s ({timings}); "
        f"peak memory {peak_mb:.0f} MB; warnings: {result.warnings or 'none'}",
        flush=True,
    )
    out = {
        "dataset": name,
        "n_train": len(train),
        "n_test": len(test),
        "train_seconds": seconds,
        "timings": result.timings,
        "peak_rss_mb": peak_mb,
        "fusion": fusion,
        "warnings": result.warnings,
        "results": rows,
    }
    if args.curve:
        out["curve"] = []
        for fraction in CURVE:
            _, part = stratified_split(
                [s.label for s in train], val_fraction=fraction, seed=0
            )
            subset = [train[i] for i in part]
            ref = tfidf_reference(subset, test, labels)
            sub_rows, _, sub_seconds = train_and_score(
                subset, test, labels, args, work / f"curve-{fraction}"
            )
            point = {
                "fraction": fraction,
                "n_train": len(subset),
                "tfidf_svm": ref["weighted_f1"],
                "model": sub_rows["fusion"]["weighted_f1"],
                "train_seconds": sub_seconds,
            }
            print(f"curve {point}", flush=True)
            out["curve"].append(point)
        out["curve"].append(
            {
                "fraction": 1.0,
                "n_train": len(train),
                "tfidf_svm": reference["weighted_f1"],
                "model": rows["fusion"]["weighted_f1"],
                "train_seconds": seconds,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=DATASETS, default=list(DATASETS)
    )
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--curve", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: one set
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args)), file=sys.stderr)
        return
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            command = [sys.executable, __file__, "--one", name, "--work", tmp]
            command += ["--backbone", args.backbone, "--epochs", str(args.epochs)]
            command += ["--threads", str(args.threads)] if args.threads else []
            command += ["--curve"] if args.curve else []
            child = subprocess.run(command, stderr=subprocess.PIPE, text=True)
            if child.returncode:
                sys.exit(f"{name}: failed\n{child.stderr[-3000:]}")
            results.append(json.loads(child.stderr.strip().splitlines()[-1]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
