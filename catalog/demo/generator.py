"""Demo catalogue generator: synthetic French marketplace listings.

On a fresh install ``make run`` imports these rows and trains a small text-only
starter model so that a new user gets category suggestions straight away.

Every word of ``vocabulary.json`` was written for this project: no row comes from
the Rakuten challenge data.  Listings are produced by filling its hand-written title
and description templates with per-category vocabulary, driven by
``random.Random(seed)``, so the same seed always yields the same rows.

The vocabulary is keyed by product-type code only; the ``category`` column of a row
holds that code, which the importer matches against the taxonomy in the database
(seeded by ``catalog/migrations/0002_seed_rakuten_product_types.py``), where the
category names live.

Pure Python, standard library only (no Django import); the JSON file is read on
first use.
"""

from __future__ import annotations

import csv
import functools
import json
import random
import re
from os import PathLike
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "CSV_FIELDS",
    "VOCABULARY_PATH",
    "demo_codes",
    "generate_demo_rows",
    "write_demo_csv",
]

CSV_FIELDS: tuple[str, ...] = (
    "product_id",
    "title",
    "description",
    "category",
    "image",
)

VOCABULARY_PATH = Path(__file__).with_name("vocabulary.json")

Slots = dict[str, tuple[str, ...]]


class _Vocabulary(NamedTuple):
    shared: Slots  # slots any category may use
    categories: dict[str, Slots]  # code -> "titles", "descs" and its own slots


@functools.cache
def _vocabulary() -> _Vocabulary:
    """Load ``vocabulary.json`` once (see its ``about`` entry for the slot syntax)."""
    with VOCABULARY_PATH.open(encoding="utf-8") as handle:
        data = json.load(handle)

    def slots(block: dict[str, list[str]]) -> Slots:
        return {name: tuple(values) for name, values in block.items()}

    return _Vocabulary(
        shared=slots(data["shared"]),
        categories={code: slots(spec) for code, spec in data["categories"].items()},
    )


def demo_codes() -> tuple[str, ...]:
    """Product-type codes that have demo vocabulary, in generation order."""
    return tuple(_vocabulary().categories)


_SLOT = re.compile(r"\{([a-z0-9_]+)(?::(\d+)-(\d+))?\}")
_MAX_DEPTH = 4

# Sentence separators (real feeds mix plain spaces, HTML line breaks and newlines).
_LONG_DESC_SEPARATORS = (" ",) * 7 + ("<br/>", "<br />", " <br>", "\n")
_ENTITIES = (("'", "&#39;"), (" & ", " &amp; "), ("\u00e9", "&eacute;"))


def _fill(
    template: str,
    vocab: Slots,
    rng: random.Random,
    chosen: dict[str, str],
) -> str:
    """Replace every ``{slot}`` of *template* with a random entry from *vocab*.

    *chosen* remembers the value drawn for each slot so that a listing stays
    coherent: its title and description name the same platform, size, colour...
    """

    def pick(match: re.Match[str]) -> str:
        name, low, high = match.groups()
        if name not in chosen:
            if low is not None:
                chosen[name] = str(rng.randint(int(low), int(high)))
            else:
                chosen[name] = rng.choice(vocab.get(name) or _vocabulary().shared[name])
        return chosen[name]

    text = template
    for _ in range(_MAX_DEPTH):
        if "{" not in text:
            break
        text = _SLOT.sub(pick, text)
    return re.sub(r"\s+", " ", text).strip(" -")


def _vary_case(title: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return title.upper()
    if roll < 0.13:
        return title.lower()
    if roll < 0.18:
        return title.title()
    return title[:1].upper() + title[1:]


def _htmlise(text: str, rng: random.Random) -> str:
    """Add the HTML fragments and entities that real marketplace feeds carry."""
    roll = rng.random()
    if roll < 0.06:
        text = f"<p>{text}</p>"
    elif roll < 0.09 and len(text) < 80:
        text = f"<b>{text}</b>"
    if rng.random() < 0.1:
        old, new = rng.choice(_ENTITIES)
        text = text.replace(old, new)
    return text


def _description(spec: Slots, rng: random.Random, chosen: dict[str, str]) -> str:
    shared = _vocabulary().shared
    roll = rng.random()
    if roll < 0.15:
        return ""
    if roll < 0.3:
        # A vague seller's note that could belong to any category.
        picks = rng.sample(shared["generic"], rng.choice((1, 1, 2)))
        return _htmlise(" ".join(picks), rng)
    count = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
    templates = rng.sample(spec["descs"], min(count, len(spec["descs"])))
    sentences = [_fill(template, spec, rng, chosen) for template in templates]
    if rng.random() < 0.4:
        sentences.append(rng.choice(shared["ship"]))
    separator = rng.choice(_LONG_DESC_SEPARATORS)
    return _htmlise(separator.join(sentences), rng)


def _listing(spec: Slots, rng: random.Random, seen: set[str]):
    """Draw one (title, description) pair, retrying a few times on a repeated title."""
    for _attempt in range(8):
        chosen: dict[str, str] = {}
        title = _vary_case(_fill(rng.choice(spec["titles"]), spec, rng, chosen), rng)
        if title.casefold() not in seen:
            break
    seen.add(title.casefold())
    return title, _description(spec, rng, chosen)


def generate_demo_rows(
    *, per_category: int = 40, unlabelled_per_category: int = 4, seed: int = 0
) -> list[dict[str, str]]:
    """Return synthetic listings: *per_category* labelled rows per product type, plus
    *unlabelled_per_category* rows with an empty ``category`` (the pool that feeds
    "propose a product").

    Each row is a dict with keys ``product_id`` (``demo-<code>-<n>``), ``title``,
    ``description``, ``category`` (the code as a string, or ``""``) and ``image``
    (always ``""``).  The same arguments always give the same rows.
    """
    if per_category < 0 or unlabelled_per_category < 0:
        raise ValueError("row counts must be non-negative")
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for code, spec in _vocabulary().categories.items():
        seen: set[str] = set()
        for n in range(per_category + unlabelled_per_category):
            title, description = _listing(spec, rng, seen)
            rows.append(
                {
                    "product_id": f"demo-{code}-{n}",
                    "title": title,
                    "description": description,
                    "category": code if n < per_category else "",
                    "image": "",
                }
            )
    return rows


def write_demo_csv(path: str | PathLike[str], **kwargs: int) -> int:
    """Write :func:`generate_demo_rows` (called with *kwargs*) to *path* as UTF-8 CSV
    with header ``product_id,title,description,category,image``; return the row count.
    """
    rows = generate_demo_rows(**kwargs)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
