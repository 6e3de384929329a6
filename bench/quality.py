"""Model quality on real open product sets, against a classical reference.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/quality.py [--datasets open flipkart]
           [--backbone efficientnet_lite0] [--epochs 10] [--json PATH]

For each folder of ../shared (generic CSV layout + images): an 80/20 stratified split
(seed 0); the specification's model is trained on the 80 % (its own validation split
inside it picks the epochs and the fusion weight), then the 20 % is scored for the text
branch, the image branch (rows with a photo) and the fusion. The reference, trained on
the same 80 % in the same run, is TF-IDF (word 1-2-grams + character 2-5-grams) with a
linear SVM on the same cleaned text. No Django; nothing is downloaded.
"""

import argparse
import csv
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml.core.bundles import save_bundle  # noqa: E402
from ml.core.config import TrainingConfig  # noqa: E402
from ml.core.data import Sample, stratified_split  # noqa: E402
from ml.core.evaluation import evaluate_items  # noqa: E402
from ml.core.features import FeatureCache  # noqa: E402
from ml.core.inference import Predictor  # noqa: E402
from ml.core.metrics import classification_metrics  # noqa: E402
from ml.core.pipeline import train_model  # noqa: E402
from ml.core.transforms import clean_text, product_text  # noqa: E402

SHARED = ROOT.parent / "shared"
DATASETS = {"open": SHARED / "products-open", "flipkart": SHARED / "products-flipkart"}


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


def evaluation_items(samples: list[Sample]) -> list[dict]:
    """Samples as ``ml.core.evaluation.evaluate_items`` reads them."""
    return [
        {
            "title": s.title,
            "description": s.description,
            "image": s.image,
            "label": s.label,
        }
        for s in samples
    ]


def tfidf_reference(train: list[Sample], test: list[Sample]) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    def texts(samples):
        return [clean_text(product_text(s.title, s.description)) for s in samples]

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
    labels = sorted({s.label for s in train + test})
    metrics = classification_metrics([s.label for s in test], predicted, labels=labels)
    metrics["seconds"] = time.perf_counter() - started
    return metrics


def run(name: str, folder: Path, args, work: Path) -> dict:
    samples = load(folder)
    labels = [s.label for s in samples]
    train_idx, test_idx = stratified_split(labels, val_fraction=0.2, seed=0)
    train = [samples[i] for i in train_idx]
    test = [samples[i] for i in test_idx]
    print(
        f"\n## {name}: {len(train)} train / {len(test)} test, "
        f"{len(set(labels))} categories, "
        f"{sum(s.image is not None for s in samples)} photos",
        flush=True,
    )
    reference = tfidf_reference(train, test)
    print(
        f"tfidf+svm  weighted F1 {reference['weighted_f1']:.4f}  "
        f"accuracy {reference['accuracy']:.4f}  ({reference['seconds']:.1f} s)",
        flush=True,
    )
    config = TrainingConfig(
        backbone=args.backbone, epochs=args.epochs, patience=args.patience, seed=0
    )
    started = time.perf_counter()
    result = train_model(
        train,
        config,
        work_dir=work / name,
        feature_cache=FeatureCache(work / "features"),
        log_dir=None,
    )
    train_seconds = time.perf_counter() - started
    bundle = save_bundle(result, root=work / "bundles")
    predictor = Predictor(bundle.path, bundle.sha256)
    report = evaluate_items(predictor, evaluation_items(test))
    rows = {
        "tfidf_svm": reference,
        "text": report["branches"]["text"],
        "image": report["branches"]["image"],
        "fusion": {k: report[k] for k in ("n", "accuracy", "weighted_f1")},
    }
    for method in ("text", "image", "fusion"):
        r = rows[method]
        print(
            f"{method:10} weighted F1 {r['weighted_f1']:.4f}  "
            f"accuracy {r['accuracy']:.4f}  (n={r['n']})",
            flush=True,
        )
    print(
        f"fusion weight (text) {result.fusion_weight:.2f}; "
        f"training {train_seconds:.0f} s; warnings: {result.warnings or 'none'}"
    )
    return {
        "dataset": name,
        "n_train": len(train),
        "n_test": len(test),
        "fusion_weight": result.fusion_weight,
        "train_seconds": train_seconds,
        "timings": result.timings,
        "warnings": result.warnings,
        "results": {
            k: {m: v[m] for m in ("n", "accuracy", "weighted_f1")}
            for k, v in rows.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=DATASETS, default=list(DATASETS)
    )
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(n, DATASETS[n], args, Path(tmp)) for n in args.datasets]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
