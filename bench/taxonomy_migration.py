"""A taxonomy split, end to end on the platform's services, measured on products-open.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/taxonomy_migration.py [--epochs 6]
           [--per-category 5] [--json PATH]

Pretend the old taxonomy merged five pairs of related categories of products-open:

- chocolats + confiseries (sweets: chocolate bars versus sweets);
- jus + boissons_sans_alcool (soft drinks: fruit juices versus waters and sodas);
- fromages + lait_beurre_creme (dairy: cheese versus milk, butter and cream);
- biscuits_gateaux + boulangerie (baked goods: biscuits and cakes versus bread);
- miel + pates_a_tartiner (sweet spreads: honey versus jams and chocolate spreads).

Each pair is a pair a real taxonomy could well have held as one category, and the
pairs share vocabulary, so the split is not trivial. The other 14 categories existed
under other codes (``v1-<code>``) and map one to one.

The catalogue (every product, shuffled, seed 0, text only: 162 of 7,364 have a photo)
is built on a fresh SQLite database with the old codes, then migrated with
``taxonomy_migration_start`` (the 14 one-to-one categories move at once; the five
merged ones are split). With no model yet, the staff sample is taken in id order, a
random sample here (``--per-category`` per new category). Staff labelling is
simulated with the true labels through the review queue's decision service. A full
training run (text only) then learns the new label set (mapped products plus staff
labels) and is activated; the ``apply`` batch job (Celery eager, in this process)
predicts every split product over its two candidates, applies the results at or above
the threshold of ``ML_REVIEW_TARGET_PRECISION`` and queues the rest.

Reported against the true categories: accuracy of the migrated catalogue (all
products; a product still in the queue counts as wrong, and also with the queue
labelled by staff), the share of split products applied automatically, the measured
precision of that automatic part, and the staff labels spent (sample, then queue).
"""

import argparse
import csv
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DATA = SHARED / "products-open"

PAIRS = (
    ("chocolats", "confiseries"),
    ("jus", "boissons_sans_alcool"),
    ("fromages", "lait_beurre_creme"),
    ("biscuits_gateaux", "boulangerie"),
    ("miel", "pates_a_tartiner"),
)


def old_code(code: str) -> str:
    for a, b in PAIRS:
        if code in (a, b):
            return f"v1-{a}+{b}"
    return f"v1-{code}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--per-category", type=int, default=5)
    parser.add_argument("--target-precision", type=float, default=0.95)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-taxonomy-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "rakuten.settings.local",
            "DATABASE_URL": f"sqlite:///{work}/bench.sqlite3",
            "DJANGO_MEDIA_ROOT": str(work / "media"),
            "ML_ARTIFACTS_DIR": str(work / "ml"),
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "ML_REVIEW_TARGET_PRECISION": str(args.target_precision),
            "ML_MIGRATION_SAMPLE_PER_CATEGORY": str(args.per_category),
            "HF_HUB_OFFLINE": "1",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    report = run(args, work)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def run(args, work: Path) -> dict:
    from django.core.management import call_command
    from django.utils import timezone

    from catalog.models import Category, CategoryMove, Product
    from catalog.text import product_search_text
    from ml.models import BatchJob, ModelVersion, ReviewItem, TrainingRun
    from ml.services.model_versions import model_version_activate
    from ml.services.review_queue import review_item_decide
    from ml.services.taxonomy_migrations import (
        taxonomy_migration_predict,
        taxonomy_migration_start,
    )
    from ml.services.training_runs import training_run_create, training_run_execute

    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, {os.cpu_count()} cores; "
        f"epochs {args.epochs}, sample {args.per_category} per new category",
        flush=True,
    )
    call_command("migrate", verbosity=0)
    with open(DATA / "categories.csv", encoding="utf-8", newline="") as handle:
        names = {row["category"]: row["name"] for row in csv.DictReader(handle)}
    with open(DATA / "products.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(0).shuffle(rows)

    # The old taxonomy: the 24 categories with the five pairs merged, nothing else.
    Category.objects.update(active=False)
    old = {}
    for code, name in sorted(names.items()):
        key = old_code(code)
        if key not in old:
            merged = next((p for p in PAIRS if code in p), None)
            label = " / ".join(names[c] for c in merged) if merged else name
            old[key] = Category.objects.create(code=key, name=label)
    now = timezone.now()
    products = Product.objects.bulk_create(
        Product(
            title=row["title"][:500],
            description=row["description"],
            search_text=product_search_text(row["title"][:500], row["description"]),
            category=old[old_code(row["category"])],
            source=Product.Source.IMPORT,
            external_id=row["product_id"],
            confirmed_at=now,
        )
        for row in rows
    )
    by_external = {r["product_id"]: r["category"] for r in rows}
    truth = {
        pk: by_external[ext]
        for ext, pk in Product.objects.values_list("external_id", "pk")
    }
    split_pks = {pk for pk, code in truth.items() if any(code in p for p in PAIRS)}
    print(
        f"catalogue: {len(products)} products in {len(old)} old categories; "
        f"{len(split_pks)} in the 5 merged ones",
        flush=True,
    )

    new_csv, map_csv = work / "NEW.csv", work / "MAP.csv"
    with open(new_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name"])
        writer.writerows(sorted(names.items()))
    with open(map_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["old_code", "new_code"])
        writer.writerows(sorted((old_code(c), c) for c in names))

    started = time.perf_counter()
    plan, migration = taxonomy_migration_start(
        categories_path=new_csv, mapping_path=map_csv
    )
    migrate_s = time.perf_counter() - started
    print(
        f"migrated in {migrate_s:.1f} s: {plan.products['mapped']} mapped, "
        f"{plan.products['split']} split",
        flush=True,
    )

    # Staff label the sample with the true categories.
    from accounts.models import User

    staff = User.objects.create(username="bench-staff", role=User.Role.STAFF)
    sample = list(ReviewItem.objects.filter(reason="split_sample"))
    for item in sample:
        review_item_decide(item=item, user=staff, category_code=truth[item.product_id])
    print(f"staff labelled the sample: {len(sample)} products", flush=True)

    started = time.perf_counter()
    run = training_run_create(
        parameters={"text_only": True, "epochs": args.epochs},
        kind=TrainingRun.Kind.FULL,
        enqueue=False,
    )
    run = training_run_execute(run_id=run.pk, log=lambda line: None)
    train_s = time.perf_counter() - started
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise SystemExit(f"training run {run.pk} {run.status}: {run.error}")
    version = ModelVersion.objects.order_by("-pk").first()
    model_version_activate(version=version, reason="bench")
    print(f"trained in {train_s:.0f} s: model version {version.pk}", flush=True)

    started = time.perf_counter()
    job = taxonomy_migration_predict(migration=migration)
    job = BatchJob.objects.get(pk=job.pk)
    predict_s = time.perf_counter() - started
    moves = {m.product_id: m for m in CategoryMove.objects.filter(migration=migration)}
    auto = [m for m in moves.values() if m.how == CategoryMove.How.MODEL]
    auto_correct = sum(m.new_category.code == truth[m.product_id] for m in auto)
    waiting = list(
        ReviewItem.objects.filter(status="waiting", move__migration=migration)
    )
    final = dict(Product.objects.values_list("pk", "category__code"))
    correct_now = sum(final[pk] == truth[pk] for pk in truth)
    # The queue labelled by staff: those products become right too.
    correct_after_queue = correct_now + len(waiting)
    report = {
        "dataset": "products-open",
        "products": len(truth),
        "pairs": [list(p) for p in PAIRS],
        "split_products": len(split_pks),
        "mapped_products": plan.products["mapped"],
        "epochs": args.epochs,
        "sample_per_category": args.per_category,
        "target_precision": args.target_precision,
        "apply_threshold": job.apply_threshold,
        "job_status": job.status,
        "staff_labels_sample": len(sample),
        "applied_automatically": len(auto),
        "share_applied_automatically": round(
            len(auto) / max(1, len(split_pks) - len(sample)), 4
        ),
        "precision_automatic": round(auto_correct / max(1, len(auto)), 4),
        "queued_for_review": len(waiting),
        "accuracy_before_queue": round(correct_now / len(truth), 4),
        "accuracy_after_queue": round(correct_after_queue / len(truth), 4),
        "staff_labels_total": len(sample) + len(waiting),
        "seconds": {
            "migrate": round(migrate_s, 1),
            "train": round(train_s, 1),
            "predict": round(predict_s, 1),
        },
        "validation": version.metrics.get("fused", {}),
    }
    report["validation"] = {
        k: report["validation"].get(k) for k in ("accuracy", "weighted_f1")
    }
    return report


if __name__ == "__main__":
    main()
