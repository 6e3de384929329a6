"""Tests for the demo catalogue generator (pure Python: no database)."""

import csv
import importlib
from collections import Counter

import pytest

from catalog.demo.generator import (
    demo_codes,
    generate_demo_rows,
    write_demo_csv,
)

SEEDED = importlib.import_module(
    "catalog.migrations.0002_seed_rakuten_product_types"
).RAKUTEN_PRODUCT_TYPES
EXPECTED_CODES = [code for code, _name in SEEDED]
HEADER = ["product_id", "title", "description", "category", "image"]


def _code_of(row):
    return row["product_id"].split("-")[1]


def test_vocabulary_codes_equal_seeded_taxonomy_codes():
    assert len(EXPECTED_CODES) == 27
    assert list(demo_codes()) == EXPECTED_CODES


def test_default_row_counts_per_category():
    rows = generate_demo_rows()
    assert len(rows) == 27 * (40 + 4)
    labelled = Counter(row["category"] for row in rows if row["category"])
    assert labelled == dict.fromkeys(EXPECTED_CODES, 40)
    unlabelled = Counter(_code_of(row) for row in rows if not row["category"])
    assert unlabelled == dict.fromkeys(EXPECTED_CODES, 4)


@pytest.mark.parametrize(("per", "unlabelled"), [(0, 0), (3, 0), (5, 2), (100, 1)])
def test_custom_row_counts(per, unlabelled):
    rows = generate_demo_rows(per_category=per, unlabelled_per_category=unlabelled)
    assert len(rows) == 27 * (per + unlabelled)
    assert sum(1 for row in rows if row["category"]) == 27 * per


def test_negative_counts_rejected():
    with pytest.raises(ValueError):
        generate_demo_rows(per_category=-1)


def test_row_shape():
    for row in generate_demo_rows(per_category=5, unlabelled_per_category=1):
        assert list(row) == HEADER
        assert all(isinstance(value, str) for value in row.values())
        assert row["title"].strip()
        assert row["image"] == ""
        assert row["product_id"].startswith(f"demo-{_code_of(row)}-")
        assert row["category"] in ("", _code_of(row))


def test_deterministic_for_same_seed():
    assert generate_demo_rows(seed=7) == generate_demo_rows(seed=7)
    assert generate_demo_rows(seed=0) == generate_demo_rows()


def test_different_seeds_differ():
    titles_a = [row["title"] for row in generate_demo_rows(seed=1)]
    titles_b = [row["title"] for row in generate_demo_rows(seed=2)]
    assert titles_a != titles_b


def test_unlabelled_rows_have_empty_category():
    rows = generate_demo_rows(per_category=10, unlabelled_per_category=3)
    unlabelled = [row for row in rows if not row["category"]]
    assert len(unlabelled) == 27 * 3
    for row in unlabelled:
        assert row["category"] == ""
        # Numbered after the labelled rows of the same product type.
        assert int(row["product_id"].rsplit("-", 1)[1]) >= 10


def test_product_ids_unique():
    rows = generate_demo_rows(per_category=60, unlabelled_per_category=6)
    ids = [row["product_id"] for row in rows]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_titles_mostly_distinct_within_category(seed):
    titles = {}
    for row in generate_demo_rows(seed=seed):
        titles.setdefault(_code_of(row), []).append(row["title"])
    for code, values in titles.items():
        assert len(set(values)) >= 0.9 * len(values), code


def test_marketplace_noise_present():
    rows = generate_demo_rows()
    empty = sum(1 for row in rows if not row["description"])
    assert 0.05 * len(rows) < empty < 0.3 * len(rows)
    descriptions = " ".join(row["description"] for row in rows)
    assert "<br" in descriptions
    assert "&" in descriptions and ";" in descriptions
    assert any(row["title"].isupper() for row in rows)


def test_second_hand_cues():
    rows = generate_demo_rows()
    for code, cue in (("2462", "occasion"), ("40", "neuf"), ("2905", "pc")):
        texts = [
            (row["title"] + " " + row["description"]).lower()
            for row in rows
            if row["category"] == code
        ]
        assert sum(cue in text for text in texts) >= len(texts) // 3, code


def test_write_demo_csv_round_trip(tmp_path):
    path = tmp_path / "demo.csv"
    count = write_demo_csv(path, per_category=6, unlabelled_per_category=2, seed=3)
    assert count == 27 * 8
    with open(path, encoding="utf-8", newline="") as handle:
        first_line = handle.readline()
    assert first_line.rstrip("\r\n") == ",".join(HEADER)
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == HEADER
        read_back = list(reader)
    assert read_back == generate_demo_rows(
        per_category=6, unlabelled_per_category=2, seed=3
    )


def test_write_demo_csv_accepts_str_path_and_defaults(tmp_path):
    path = str(tmp_path / "demo_default.csv")
    assert write_demo_csv(path) == 27 * 44
