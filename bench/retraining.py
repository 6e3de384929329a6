"""Small and often against full and rarely: fine-tuning the heads versus training again.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/retraining.py [--dataset open|flipkart]
           [--backbone none|efficientnet_lite0] [--epochs 8] [--json PATH]

The dataset (../shared, generic CSV) gets an 80/20 stratified split (seed 0); the 20 %
is the test set. The 80 % arrives in two parts: the first 40 % of it (shuffled, seed 0)
without its smallest category, on which a base model is trained, then the rest (the new
products, the held-out category among them). The new products are then learnt two
ways, as the platform's incremental and full runs do: ``finetune_model`` on the new
products plus a replay of 3x as many older ones (at least 5 per label), validated on
the new ones; ``train_model`` from scratch on the whole 80 %. Each model is scored on
the test set (weighted F1, accuracy, and F1 of the held-out category), with its wall
time. No Django; nothing is downloaded.
"""

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality import DATASETS, evaluation_items, load  # noqa: E402
from ml.core.bundles import load_bundle, save_bundle  # noqa: E402
from ml.core.config import TrainingConfig  # noqa: E402
from ml.core.data import replay_sample, stratified_split  # noqa: E402
from ml.core.evaluation import evaluate_items  # noqa: E402
from ml.core.features import FeatureCache  # noqa: E402
from ml.core.finetune import finetune_model  # noqa: E402
from ml.core.inference import Predictor  # noqa: E402
from ml.core.pipeline import train_model  # noqa: E402

INITIAL_FRACTION = 0.4
REPLAY_FACTOR = 3
REPLAY_MIN_PER_LABEL = 5


def score(result, test, work: Path, held_out: str) -> dict:
    bundle = save_bundle(result, root=work / "bundles")
    predictor = Predictor(bundle.path, bundle.sha256)
    report = evaluate_items(predictor, evaluation_items(test))
    return {
        "weighted_f1": report["weighted_f1"],
        "accuracy": report["accuracy"],
        "held_out_f1": report["per_class"].get(held_out, {}).get("f1", 0.0),
        "bundle": bundle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="open")
    parser.add_argument("--backbone", default="none")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    backbone = None if args.backbone == "none" else args.backbone
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}; dataset {args.dataset}, "
        f"backbone {args.backbone}, {args.epochs} epochs"
    )
    samples = load(DATASETS[args.dataset])
    train_idx, test_idx = stratified_split(
        [s.label for s in samples], val_fraction=0.2, seed=0
    )
    pool = [samples[i] for i in train_idx]
    test = [samples[i] for i in test_idx]
    random.Random(0).shuffle(pool)
    held_out = Counter(s.label for s in pool).most_common()[-1][0]
    cut = int(len(pool) * INITIAL_FRACTION)
    old = [s for s in pool[:cut] if s.label != held_out]
    new = [s for s in pool[:cut] if s.label == held_out] + pool[cut:]
    config = TrainingConfig(backbone=backbone, epochs=args.epochs, seed=0)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = FeatureCache(work / "features")

        def timed(name, train):
            started = time.perf_counter()
            result = train()
            seconds = time.perf_counter() - started
            rows[name] = {**score(result, test, work, held_out), "seconds": seconds}
            r = rows[name]
            print(
                f"{name:10} weighted F1 {r['weighted_f1']:.4f}  accuracy "
                f"{r['accuracy']:.4f}  {held_out} F1 {r['held_out_f1']:.4f}  "
                f"({seconds:.1f} s)",
                flush=True,
            )

        print(
            f"base: {len(old)} products without {held_out}; new: {len(new)}; "
            f"test: {len(test)}",
            flush=True,
        )
        timed(
            "base",
            lambda: train_model(
                old, config, work_dir=work / "base", feature_cache=cache
            ),
        )
        base = load_bundle(rows["base"]["bundle"].path)
        replay = replay_sample(
            [s.label for s in old],
            REPLAY_FACTOR * len(new),
            min_per_label=REPLAY_MIN_PER_LABEL,
            seed=0,
        )
        replayed = [old[i] for i in replay]
        timed(
            "fine-tune",
            lambda: finetune_model(
                new + replayed,
                base,
                config,
                new=[True] * len(new) + [False] * len(replayed),
                work_dir=work / "finetune",
                feature_cache=cache,
            ),
        )
        timed(
            "full",
            lambda: train_model(
                old + new, config, work_dir=work / "full", feature_cache=cache
            ),
        )
    if args.json:
        for row in rows.values():
            row.pop("bundle")
        args.json.write_text(json.dumps({"held_out": held_out, **rows}, indent=2))


if __name__ == "__main__":
    main()
