"""A synthetic catalogue of N products: a load generator, not a quality benchmark.

Usage: .venv/bin/python bench/make_catalogue.py [--n 85000] [--seed 0]
           [--out var/catalogue] [--workers CPUS]

Writes ``OUT/products.csv`` in the generic layout
(``product_id,title,description,category,image``) and one JPEG per product under
``OUT/images/``. Texts are recombined from the open product sets in ../shared (a
title and a description of two products of the same category, so each row keeps
a real category); photos are derived from products-flipkart's images (of the same
category when it is one of flipkart's, else any) by a random crop, flip, colour
jitter, resize and JPEG re-encoding at a random quality, with the product id in the
JPEG comment, so no two photos share bytes. Everything follows ``--seed``: the same
seed writes the same bytes, whatever ``--workers``. Rows are streamed to disk; the
photos are written by a process pool.

It measures how training scales with N (memory, feature extraction, epochs), not
how good the model is: recombined texts and photos of other products make the
categories easier or harder than real ones.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
from collections import defaultdict
from collections.abc import Iterator
from multiprocessing import Pool
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SOURCES = (SHARED / "products-open", SHARED / "products-flipkart")
PHOTOS = SHARED / "products-flipkart"
HEADER = ["product_id", "title", "description", "category", "image"]
CHUNK = 1024  # rows planned, photographed and written at a time


def read_products(folder: Path) -> list[dict[str, str]]:
    with open(folder / "products.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_sources() -> tuple[
    dict[str, list[tuple[str, str]]], dict[str, list[str]], list[str]
]:
    """Texts by category, flipkart photo files by category, and every photo file."""
    texts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for folder in SOURCES:
        for row in read_products(folder):
            if row["title"].strip():
                texts[row["category"]].append((row["title"], row["description"]))
    photos: dict[str, list[str]] = defaultdict(list)
    for row in read_products(PHOTOS):
        if row["image"] and (PHOTOS / "images" / row["image"]).is_file():
            photos[row["category"]].append(row["image"])
    every = sorted(name for names in photos.values() for name in names)
    return dict(texts), dict(photos), every


def derive_photo(source: Path, target: Path, rng: random.Random, tag: str) -> None:
    """Write a randomly cropped, flipped, jittered and re-encoded copy of ``source``."""
    with Image.open(source) as original:
        img = original.convert("RGB")
    width, height = img.size
    cw = max(8, int(width * rng.uniform(0.6, 1.0)))
    ch = max(8, int(height * rng.uniform(0.6, 1.0)))
    left, top = rng.randint(0, width - cw), rng.randint(0, height - ch)
    img = img.crop((left, top, left + cw, top + ch))
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast):
        img = enhancer(img).enhance(rng.uniform(0.75, 1.25))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.6, 1.4))
    side = rng.randint(224, 384)
    scale = side / max(img.size)
    img = img.resize((max(1, round(cw * scale)), max(1, round(ch * scale))))
    buffer = io.BytesIO()
    quality = rng.randint(60, 95)
    img.save(buffer, format="JPEG", quality=quality, comment=tag.encode("ascii"))
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, target)


def _photo_task(task: tuple[str, str, str, int]) -> None:
    source, target, product_id, seed = task
    rng = random.Random(f"photo:{seed}:{product_id}")
    derive_photo(PHOTOS / "images" / source, Path(target), rng, product_id)


def plan(
    n: int, seed: int, out: Path
) -> Iterator[tuple[list[str], tuple[str, str, str, int]]]:
    """Row ``i``'s CSV row and photo task; row ``i`` depends on (seed, i) only."""
    texts, photos, every = load_sources()
    categories = sorted(texts)
    weights = [len(texts[c]) for c in categories]
    for i in range(n):
        rng = random.Random(f"row:{seed}:{i}")
        category = rng.choices(categories, weights)[0]
        title = rng.choice(texts[category])[0]
        description = rng.choice(texts[category])[1]
        source = rng.choice(photos.get(category) or every)
        product_id = f"syn-{seed}-{i:06d}"
        name = f"{product_id}.jpg"
        row = [product_id, title, description, category, name]
        yield row, (source, str(out / "images" / name), product_id, seed)


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def make_catalogue(out: Path, n: int, seed: int = 0, workers: int = 1) -> Path:
    """Write the catalogue, a chunk of rows at a time; return its CSV (moved into
    place once complete)."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    target = out / "products.csv"
    tmp = out / ".products.csv.tmp"
    pool = Pool(workers) if workers > 1 else None
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for chunk in _chunks(plan(n, seed, out), CHUNK):
                tasks = [task for _, task in chunk]
                if pool is not None:
                    pool.map(_photo_task, tasks, chunksize=16)
                else:
                    for task in tasks:
                        _photo_task(task)
                writer.writerows(row for row, _ in chunk)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    os.replace(tmp, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=85_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "catalogue")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    path = make_catalogue(args.out, args.n, args.seed, args.workers)
    print(f"wrote {args.n} products to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
