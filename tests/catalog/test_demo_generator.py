"""Tests for the demo catalogue generator (pure Python: no database)."""

import csv
import hashlib
import importlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from catalog.demo.generator import (
    _SLOT,
    CSV_FIELDS,
    VOCABULARY_PATH,
    _vocabulary,
    demo_codes,
    generate_demo_rows,
    write_demo_csv,
)

SEEDED = importlib.import_module(
    "catalog.migrations.0002_seed_rakuten_product_types"
).RAKUTEN_PRODUCT_TYPES
SEEDED_CODES = [code for code, _name in SEEDED]
HEADER = ["product_id", "title", "description", "category", "image"]
ROOT = Path(__file__).resolve().parents[2]

# sha256 of write_demo_csv(path) with the default arguments: the file that
# ``demo_catalogue_ensure`` imports.  A change to the vocabulary or to the generator
# changes it on purpose; update it then, knowing that the demo rows change.
DEFAULT_CSV_SHA256 = "cdfd701ac3e156bc664233f30fe955e471a415a5765ef09583ae23cf7f28795e"


def _code_of(row):
    return row["product_id"].split("-")[1]


def _slot_names(text):
    return {m.group(1) for m in _SLOT.finditer(text) if m.group(2) is None}


# --- Vocabulary ----------------------------------------------------------------------


def test_vocabulary_codes_equal_seeded_taxonomy_codes():
    assert len(SEEDED_CODES) == 27
    assert list(demo_codes()) == SEEDED_CODES


def test_vocabulary_has_no_duplicate_keys():
    def no_duplicates(pairs):
        keys = [key for key, _value in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    json.loads(
        VOCABULARY_PATH.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates
    )


def test_vocabulary_file_is_pretty_printed_utf8():
    text = VOCABULARY_PATH.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    assert "\\u" not in text
    assert list(data) == ["about", "shared", "categories"]


def test_every_category_has_templates_and_resolvable_slots():
    shared, categories = _vocabulary()
    for code, spec in categories.items():
        assert spec["titles"] and spec["descs"], code
        used = set()
        todo = [
            name
            for key in ("titles", "descs")
            for t in spec[key]
            for name in _slot_names(t)
        ]
        while todo:
            name = todo.pop()
            if name in used:
                continue
            used.add(name)
            values = spec.get(name) or shared.get(name)
            assert values, (code, name)
            todo.extend(n for value in values for n in _slot_names(value))
        # Every slot a category defines is drawn by one of its templates.
        assert set(spec) - {"titles", "descs"} <= used, code


def test_vocabulary_entries_are_clean():
    shared, categories = _vocabulary()
    for block in (shared, *categories.values()):
        for name, values in block.items():
            assert isinstance(values, tuple), name
            for value in values:
                assert value and value == " ".join(value.split()), (name, value)
                assert "|" not in value, (name, value)
                for low, high in (m.group(2, 3) for m in _SLOT.finditer(value)):
                    assert low is None or int(low) <= int(high), (name, value)


def test_import_is_lazy_and_django_free():
    code = (
        "import sys\n"
        "import catalog.demo.generator as g\n"
        "assert g._vocabulary.cache_info().currsize == 0\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django']\n"
        "assert g.demo_codes()[0] == '10'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --- Rows ----------------------------------------------------------------------------


def test_default_row_counts_per_category():
    rows = generate_demo_rows()
    assert len(rows) == 27 * (40 + 4)
    labelled = Counter(row["category"] for row in rows if row["category"])
    assert labelled == dict.fromkeys(SEEDED_CODES, 40)
    unlabelled = Counter(_code_of(row) for row in rows if not row["category"])
    assert unlabelled == dict.fromkeys(SEEDED_CODES, 4)


@pytest.mark.parametrize(("per", "unlabelled"), [(0, 0), (3, 0), (5, 2), (100, 1)])
def test_custom_row_counts(per, unlabelled):
    rows = generate_demo_rows(per_category=per, unlabelled_per_category=unlabelled)
    assert len(rows) == 27 * (per + unlabelled)
    assert sum(1 for row in rows if row["category"]) == 27 * per


@pytest.mark.parametrize(
    "kwargs", [{"per_category": -1}, {"unlabelled_per_category": -1}]
)
def test_negative_counts_rejected(kwargs):
    with pytest.raises(ValueError, match="non-negative"):
        generate_demo_rows(**kwargs)


def test_row_shape():
    assert list(CSV_FIELDS) == HEADER
    for row in generate_demo_rows(per_category=5, unlabelled_per_category=1):
        assert list(row) == HEADER
        assert all(isinstance(value, str) for value in row.values())
        assert row["title"].strip()
        assert row["image"] == ""
        assert row["product_id"].startswith(f"demo-{_code_of(row)}-")
        assert row["category"] in ("", _code_of(row))
        assert "{" not in row["title"] + row["description"]
        assert "}" not in row["title"] + row["description"]


def test_exact_rows_for_a_seed():
    rows = generate_demo_rows(per_category=1, unlabelled_per_category=1, seed=42)
    assert [row["product_id"] for row in rows[:4]] == [
        "demo-10-0",
        "demo-10-1",
        "demo-40-0",
        "demo-40-1",
    ]
    assert rows[0] == {
        "product_id": "demo-10-0",
        "title": "L'Île sans Nom de Fontaine Nathalie - Broché",
        "description": "Livre d'occasion en état correct.<br />Résumé : Un thriller "
        "haletant au cœur des Alpes.<br />Roman de 323 pages.",
        "category": "10",
        "image": "",
    }
    assert rows[1]["title"] == (
        "le dernier été sans nom - thomas girard - éditions de l'aube claire 1983"
    )
    assert rows[1]["category"] == ""
    assert rows[2]["title"] == "Star Quest (Xbox One)"
    assert rows[2]["description"] == (
        "Classification PEGI 3.\nN'hésitez pas à me contacter pour toute question."
    )
    assert rows[-1] == {
        "product_id": "demo-2905-1",
        "title": "Jeu PC Battle Drift Remastered",
        "description": "Jeu PC en version française.<br />Configuration minimale : "
        "Intel Core 2 Duo, 7 Go de RAM, carte graphique DirectX 11.<br />Envoi "
        "rapide et soigné.",
        "category": "",
        "image": "",
    }


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
def test_no_two_rows_share_a_title(seed):
    titles = [row["title"].casefold() for row in generate_demo_rows(seed=seed)]
    assert len(set(titles)) == len(titles) == 27 * 44


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


# --- CSV -----------------------------------------------------------------------------


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


def test_write_demo_csv_default_file_is_pinned(tmp_path):
    path = str(tmp_path / "demo_default.csv")
    assert write_demo_csv(path) == 27 * 44
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert digest == DEFAULT_CSV_SHA256
