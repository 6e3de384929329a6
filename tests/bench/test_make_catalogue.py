"""The synthetic catalogue generator: valid rows, distinct photos, same seed -> same
bytes (with any number of workers)."""

import csv
import hashlib
import importlib.util
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "make_catalogue.py"
spec = importlib.util.spec_from_file_location("make_catalogue", SCRIPT)
make_catalogue = importlib.util.module_from_spec(spec)
sys.modules["make_catalogue"] = make_catalogue  # the pool pickles its functions
spec.loader.exec_module(make_catalogue)

pytestmark = pytest.mark.skipif(
    not all((folder / "products.csv").is_file() for folder in make_catalogue.SOURCES),
    reason="needs the open product sets in ../shared",
)


def files(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def known_categories() -> set[str]:
    return {
        row["category"]
        for folder in make_catalogue.SOURCES
        for row in make_catalogue.read_products(folder)
    }


def test_catalogue_rows_and_photos(tmp_path):
    path = make_catalogue.make_catalogue(tmp_path / "a", 20, seed=3, workers=2)
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == make_catalogue.HEADER
        rows = list(reader)
    assert len(rows) == 20
    assert len({row["product_id"] for row in rows}) == 20
    assert {row["category"] for row in rows} <= known_categories()
    assert all(row["title"].strip() for row in rows)
    photos = [tmp_path / "a" / "images" / row["image"] for row in rows]
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    assert len(hashes) == 20  # no two photos share bytes
    for photo in photos:
        with Image.open(photo) as img:
            assert img.format == "JPEG" and 224 <= max(img.size) <= 384
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "images",
        "products.csv",
    ]


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    make_catalogue.make_catalogue(tmp_path / "a", 12, seed=5, workers=2)
    make_catalogue.make_catalogue(tmp_path / "b", 12, seed=5, workers=1)
    make_catalogue.make_catalogue(tmp_path / "c", 12, seed=6, workers=1)
    first, again, other = (files(tmp_path / x) for x in "abc")
    assert first == again and len(first) == 13
    photo_hashes = {h for name, h in first.items() if name.startswith("images/")}
    assert photo_hashes.isdisjoint(other.values())
