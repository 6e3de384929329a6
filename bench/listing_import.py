"""Rows/s of a seller's listing import: from upload to suggestions, and confirmation.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/listing_import.py \
    [--dataset open|flipkart] [--rows 5000] [--photos] [--epochs 2] [--json PATH]

In a child process on a fresh temporary SQLite database and media folder: imports the
data set's catalogue (``import_products``: the confirmed products and categories),
trains a model on it with the platform's training defaults (``--epochs`` at most,
photos only with ``--photos``) and activates it (setup, not timed). Then, as one
seller: builds a CSV of ``--rows`` of the data set's products (their photos zipped
with ``--photos``), uploads it (``listing_import_create``), which queues the
suggestions: a batch job of the active model. Celery runs eagerly in this process,
so the whole job runs on one worker, chunk after chunk, without broker latency. Then
accepts every flagged row and confirms (every row becomes a product with its
prediction). Prints the two timings; ``--json`` writes them too.
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DATASETS = {"open": "products-open", "flipkart": "products-flipkart"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="open")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--photos", action="store_true", help="zip the rows' photos")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--train-rows",
        type=int,
        default=2000,
        help="products the model is trained on (every k-th row of the data set)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.child:
        print(json.dumps(_measure(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "DJANGO_MEDIA_ROOT": f"{tmp}/media",
            "ML_ARTIFACTS_DIR": f"{tmp}/ml",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "CELERY_BROKER_URL": "memory://",
            "DJANGO_SETTINGS_MODULE": "rakuten.settings.local",
            "DJANGO_LOG_LEVEL": "WARNING",
            "LISTING_IMPORT_MAX_ROWS": str(max(args.rows, 5000)),
        }
        child = [sys.executable, __file__, "--child", *sys.argv[1:]]
        out = subprocess.run(child, env=env, cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"bench failed: {out.stderr.strip().splitlines()[-1:]}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
    photos = "with photos" if args.photos else "text only"
    print(
        f"{figures['dataset']} ({photos}): {figures['rows']:,} rows, "
        f"{figures['photos']} photos; model trained in {figures['train_s']:.0f} s"
    )
    print(
        f"  upload -> suggestions: {figures['suggest_s']:.1f} s = "
        f"{figures['suggest_rows_per_s']:,.0f} rows/s "
        f"(pre-accepted {figures['accepted']:,}, flagged {figures['flagged']:,}); "
        f"the model's forward passes {figures['predict_s']:.1f} s of it"
    )
    print(
        f"  confirmation: {figures['confirm_s']:.1f} s = "
        f"{figures['confirm_rows_per_s']:,.0f} rows/s "
        f"({figures['created']:,} products, {figures['predictions']:,} predictions)"
    )
    print(
        f"  upload -> confirmed: {figures['total_s']:.1f} s = "
        f"{figures['total_rows_per_s']:,.0f} rows/s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


def _catalogue(dataset: Path, rows: int, photos: bool) -> list[dict]:
    with open(dataset / "products.csv", encoding="utf-8", newline="") as handle:
        products = list(csv.DictReader(handle))
    if photos:
        products = [
            p
            for p in products
            if p["image"] and (dataset / "images" / p["image"]).is_file()
        ]
    return products[:rows]


def _files(dataset: Path, products: list[dict], photos: bool):
    from django.core.files.uploadedfile import SimpleUploadedFile

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "title", "description", "image"])
    for p in products:
        image = p["image"] if photos and p["image"] else ""
        writer.writerow(
            [p["product_id"][:100], p["title"][:500], p["description"], image]
        )
    csv_file = SimpleUploadedFile("catalogue.csv", out.getvalue().encode("utf-8"))
    if not photos:
        return csv_file, None
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted({p["image"] for p in products if p["image"]}):
            zf.write(dataset / "images" / name, name)
    return csv_file, SimpleUploadedFile("photos.zip", archive.getvalue())


def _phase(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _training_subset(source: Path, target: Path, rows: int) -> None:
    """Every k-th product of the data set (all categories keep some), for training."""
    with open(source, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        products = list(reader)
        fields = reader.fieldnames
    step = max(len(products) // max(rows, 1), 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(products[::step][:rows])


def _measure(args) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import User
    from catalog.models import ListingImport
    from catalog.services.listing_import_confirmation import listing_import_confirm
    from catalog.services.listing_imports import (
        listing_import_create,
        listing_import_rows_accept,
    )
    from ml.models import Prediction
    from ml.services.training_runs import training_run_create, training_run_execute

    dataset = SHARED / DATASETS[args.dataset]
    call_command("migrate", verbosity=0)
    _phase("migrated")
    training_csv = Path(os.environ["DJANGO_MEDIA_ROOT"]).parent / "training.csv"
    _training_subset(dataset / "products.csv", training_csv, args.train_rows)
    call_command(
        "import_products",
        csv=training_csv,
        images=dataset / "images",
        create_categories=True,
        no_progress=True,
        stdout=io.StringIO(),
    )
    started = time.perf_counter()
    run = training_run_create(
        parameters={
            "epochs": args.epochs,
            "text_only": not args.photos,
            "activate": True,
        },
        enqueue=False,
    )
    training_run_execute(run_id=run.pk)
    train_s = time.perf_counter() - started
    _phase(f"model trained in {train_s:.0f} s")

    seller = User.objects.create_user(username="pro-seller", role=User.Role.SELLER)
    products = _catalogue(dataset, args.rows, args.photos)
    csv_file, zip_file = _files(dataset, products, args.photos)

    started = time.perf_counter()
    listing_import = listing_import_create(
        seller=seller, csv_file=csv_file, zip_file=zip_file
    )
    listing_import.refresh_from_db()
    suggest_s = time.perf_counter() - started
    _phase(f"{listing_import.rows_total} rows suggested in {suggest_s:.1f} s")
    if listing_import.status != ListingImport.Status.READY:
        raise SystemExit(f"the import is {listing_import.status}, not ready")
    from django.db.models import Sum

    from ml.models import BatchChunk

    predict_s = (
        BatchChunk.objects.filter(job_id=listing_import.batch_job_id).aggregate(
            s=Sum("seconds")
        )["s"]
        or 0.0
    )
    decisions = {
        d: listing_import.rows.filter(decision=d).count()
        for d in ("accepted", "flagged")
    }

    started = time.perf_counter()
    listing_import_rows_accept(listing_import=listing_import)
    listing_import = listing_import_confirm(listing_import=listing_import, user=seller)
    confirm_s = time.perf_counter() - started
    rows = listing_import.rows_total
    return {
        "dataset": DATASETS[args.dataset],
        "photos_zipped": args.photos,
        "rows": rows,
        "rejected": listing_import.rows_rejected,
        "photos": listing_import.rows.exclude(image="").count(),
        "train_rows": args.train_rows,
        "train_s": round(train_s, 1),
        "suggest_s": round(suggest_s, 2),
        "suggest_rows_per_s": round(rows / suggest_s, 1),
        "predict_s": round(predict_s, 2),
        "accepted": decisions["accepted"],
        "flagged": decisions["flagged"],
        "confirm_s": round(confirm_s, 2),
        "confirm_rows_per_s": round(rows / confirm_s, 1),
        "total_s": round(suggest_s + confirm_s, 2),
        "total_rows_per_s": round(rows / (suggest_s + confirm_s), 1),
        "created": listing_import.products_created,
        "predictions": Prediction.objects.filter(chosen_source="import").count(),
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    main()
