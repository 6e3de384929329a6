"""Import rate of ``manage.py import_products`` on a fresh database.

Usage: .venv/bin/python bench/import_rate.py [--csv FILE --images DIR] [--mysql URL]

Migrates a fresh database (a temporary SQLite file, and MariaDB when --mysql is given),
then times the first import (creates every row) and the second (idempotent: skips every
row). Prints one line per database and run: rows, seconds, rows/s.
"""

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=str(SHARED / "products-open/products.csv"))
    parser.add_argument("--images", default=str(SHARED / "products-open/images"))
    parser.add_argument(
        "--mysql", help="e.g. mysql://root:@127.0.0.1:3306/rakuten_bench"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _measure(args.csv, args.images)
        return
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{tmp}/bench.sqlite3")]
        if args.mysql:
            _mysql_recreate(args.mysql)
            targets.append(("mariadb", args.mysql))
        for name, url in targets:
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "DJANGO_MEDIA_ROOT": f"{tmp}/media-{name}",
                "DJANGO_SETTINGS_MODULE": "rakuten.settings.local",
            }
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--csv",
                    args.csv,
                    "--images",
                    args.images,
                ],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for line in out.strip().splitlines():
                print(f"{name:8} {line}")


def _mysql_recreate(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    subprocess.run(
        [
            "mariadb",
            "-uroot",
            "-h127.0.0.1",
            "--protocol=tcp",
            "-e",
            f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        ],
        check=True,
    )


def _measure(csv_path: str, images: str) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for run in ("first", "second"):
        started = time.perf_counter()
        call_command(
            "import_products",
            csv=Path(csv_path),
            images=Path(images),
            create_categories=True,
            no_progress=True,
            stdout=io.StringIO(),
        )
        seconds = time.perf_counter() - started
        from catalog.models import Product

        rows = Product.objects.count()
        rate = rows / seconds
        print(f"{run:6} import: {rows} rows in {seconds:.2f} s = {rate:,.0f} rows/s")


if __name__ == "__main__":
    main()
