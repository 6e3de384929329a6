"""Train the platform's model from a generic CSV, in one process or under torchrun.

Usage::

    python -m ml.core.distributed_train --csv products.csv --out bundles/
    torchrun --nproc_per_node 2 -m ml.core.distributed_train --csv ... --out ...

The CSV has the generic layout ``product_id,title,description,category,image``
(``image``: a file name under ``--images``, default the CSV's ``images/`` folder).
Every rank runs :func:`ml.core.pipeline.train_model` (the engine shares each batch
among the ranks, see :mod:`ml.core.engine`); rank 0 fills the feature cache first,
checkpoints under ``--work`` and alone writes the bundle under ``--out``; the other
ranks keep their scratch files under ``--work/rank-<n>``. ``--metadata`` (JSON) goes
into the bundle's ``extra`` with ``world_size``; ``--progress`` makes rank 0 print each
progress event as a JSON line ``{"progress": {...}}`` on stdout, before the summary
line; ``--log-dir`` is rank 0's TensorBoard folder. ``--store`` keeps the
features in a :class:`~ml.core.feature_store.FeatureStore` (memmap shards) rather than
one file per photo; ``--feature-workers`` decodes the photos in DataLoader workers.
No Django: registering the bundle as a model version is the platform's job
(``manage.py import_model``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ml.core import distributed
from ml.core.backbones import build_backbone
from ml.core.bundles import save_bundle
from ml.core.config import TrainingConfig
from ml.core.data import Sample
from ml.core.feature_store import FeatureStore
from ml.core.features import FeatureCache, extract_features, feature_store, fill_store
from ml.core.pipeline import train_model


def load_csv(path: Path, images: Path | None = None) -> list[Sample]:
    """The labelled samples of a generic-layout CSV."""
    folder = images if images is not None else path.parent / "images"
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            Sample(
                title=row["title"],
                description=row["description"] or None,
                image=(folder / row["image"]) if row.get("image") else None,
                label=row["category"],
            )
            for row in csv.DictReader(handle)
        ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True, help="bundle root")
    parser.add_argument("--work", type=Path, default=None, help="default: OUT/work")
    parser.add_argument("--features", type=Path, default=None, help="feature cache")
    parser.add_argument(
        "--store",
        action="store_true",
        help="keep features in memmap shards under --features (a FeatureStore)",
    )
    parser.add_argument(
        "--feature-workers",
        type=int,
        default=0,
        help="DataLoader workers that read and decode the photos (rank 0)",
    )
    parser.add_argument(
        "--config",
        default="{}",
        help='TrainingConfig fields as JSON, e.g. \'{"epochs": 4, "backbone": null}\'',
    )
    parser.add_argument(
        "--metadata",
        default="{}",
        help="JSON object kept in the bundle's extra metadata (with world_size)",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help='rank 0 prints its progress events as JSON lines {"progress": ...}',
    )
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="TensorBoard logs (rank 0)"
    )
    return parser.parse_args(argv)


def open_features(
    args: argparse.Namespace, samples: Sequence[Sample], config: TrainingConfig
) -> FeatureCache | FeatureStore | None:
    """The feature cache (or store, ``--store``), filled by rank 0 before the
    others open it: they then read every photo's features instead of computing
    them again."""
    if args.features is None:
        return None
    if config.backbone is None:
        return FeatureCache(args.features)
    images = [sample.image for sample in samples]
    batch, workers = config.feature_batch_size, args.feature_workers
    spec = build_backbone(
        config.backbone,
        pretrained=True,
        weights_path=config.backbone_weights_path,
        allow_random=config.allow_random_backbone,
    )
    if distributed.is_main():
        if args.store:
            store = feature_store(args.features, spec)
            fill_store(spec, images, store, batch_size=batch, num_workers=workers)
        else:
            cache = FeatureCache(args.features)
            extract_features(spec, images, cache, batch, num_workers=workers)
    distributed.barrier()
    return (
        feature_store(args.features, spec)
        if args.store
        else FeatureCache(args.features)
    )


def print_progress(event: dict[str, object]) -> None:
    """One progress event as a JSON line on stdout (``--progress``)."""
    print(json.dumps({"progress": event}, default=str), flush=True)


def run(args: argparse.Namespace) -> dict[str, object] | None:
    """Train on every rank; rank 0 writes the bundle and returns its summary."""
    config = TrainingConfig(**json.loads(args.config))
    samples = load_csv(args.csv, args.images)
    work = args.work or args.out / "work"
    if not distributed.is_main():
        work = work / f"rank-{distributed.rank()}"
    cache = open_features(args, samples, config)
    # with a store, the image branch reads its features batch by batch
    main = distributed.is_main()  # progress and TensorBoard: rank 0's, as one run
    result = train_model(
        samples,
        config,
        work_dir=work,
        feature_cache=cache,
        progress=print_progress if args.progress and main else None,
        log_dir=args.log_dir if main else None,
    )
    summary = None
    if main:
        ref = save_bundle(
            result,
            root=args.out,
            extra_metadata={
                **json.loads(args.metadata),
                "world_size": distributed.world_size(),
            },
        )
        summary = {
            "bundle": str(ref.path),
            "sha256": ref.sha256,
            "world_size": distributed.world_size(),
            "weighted_f1": result.metrics["fused"]["weighted_f1"],
        }
    distributed.barrier()
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    distributed.init()
    try:
        summary = run(args)
    finally:
        distributed.teardown()
    if summary is not None:
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
