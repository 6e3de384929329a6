"""Training samples, the stratified train/validation split and data lineage."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ml.core.errors import InvalidImageError
from ml.core.transforms import ImageSource, read_image_bytes

__all__ = [
    "Sample",
    "bounded_rows",
    "stratified_split",
    "replay_sample",
    "dataset_hash",
    "class_counts",
]


@dataclass(frozen=True)
class Sample:
    """One product: its text, optional photo and (for training) its label.
    ``weight`` scales the sample's term in a fine-tuning loss (1.0: as any other;
    full training ignores it)."""

    title: str | None
    description: str | None = None
    image: str | Path | bytes | None = None
    label: str | None = None
    weight: float = 1.0


def bounded_rows(
    rows: Sequence[int], targets: Sequence[int], cap: int | None, seed: int
) -> list[int]:
    """``rows`` when there are at most ``cap`` of them (or no cap), else a seeded
    sample of ``cap`` rows (in ``rows``' order) that keeps each category's share
    (largest remainders), plus one row of each category that would get none. ``targets``
    are the categories of ``rows``, in the same order.

    The linear branches' memory grows with the rows they are fitted on, so a
    large training set fits them on such a sample (:mod:`ml.core.linear_branches`).
    """
    rows = list(rows)
    if cap is None or len(rows) <= cap:
        return rows
    members: dict[int, list[int]] = {}
    for position, target in enumerate(targets):
        members.setdefault(int(target), []).append(position)
    classes = sorted(members)
    quotas = {c: cap * len(members[c]) / len(rows) for c in classes}
    counts = {c: int(quotas[c]) for c in classes}
    by_remainder = sorted(classes, key=lambda c: (counts[c] - quotas[c], c))
    for c in by_remainder[: cap - sum(counts.values())]:
        counts[c] += 1
    counts = {c: max(1, count) for c, count in counts.items()}
    generator = np.random.default_rng(seed)
    kept = [
        position
        for c in classes
        for position in generator.permutation(members[c])[: counts[c]].tolist()
    ]
    return [rows[position] for position in sorted(kept)]


def stratified_split(
    labels: Sequence[str], *, val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Split row indices into train and validation, stratified by label.

    Classes with a single sample cannot be stratified and go to train. If the
    remaining rows still cannot be stratified (e.g. the validation part would
    be smaller than the number of classes) a plain shuffled split is used.
    Returns sorted index lists; deterministic for a given ``seed``.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be between 0 and 1")
    counts = Counter(labels)
    singles = [i for i, label in enumerate(labels) if counts[label] < 2]
    rest = [i for i, label in enumerate(labels) if counts[label] >= 2]
    if len(rest) < 2:
        return sorted(singles + rest), []
    rest_labels = [labels[i] for i in rest]
    try:
        train, val = train_test_split(
            rest, test_size=val_fraction, random_state=seed, stratify=rest_labels
        )
    except ValueError:
        train, val = train_test_split(rest, test_size=val_fraction, random_state=seed)
    return sorted([*singles, *train]), sorted(val)


def replay_sample(
    labels: Sequence[str], k: int, *, min_per_label: int = 0, seed: int = 0
) -> list[int]:
    """The older rows an incremental retraining replays beside the new ones: a seeded
    random sample of ``k`` of the row indices of ``labels``, topped up so that every
    label keeps at least ``min_per_label`` rows (or all it has). Sorted indices."""
    rng = random.Random(seed)
    rows = range(len(labels))
    picked = set(rng.sample(rows, min(len(labels), max(k, 0))))
    counts = Counter(labels[i] for i in picked)
    for i in rng.sample(rows, len(labels)):
        if counts[labels[i]] < min_per_label and i not in picked:
            picked.add(i)
            counts[labels[i]] += 1
    return sorted(picked)


def _image_fingerprint(image: ImageSource) -> str | None:
    try:
        data = read_image_bytes(image)
    except InvalidImageError:
        return "invalid"
    return None if data is None else hashlib.sha256(data).hexdigest()


def dataset_hash(samples: Sequence[Sample]) -> str:
    """sha256 over every sample's title, description, label and photo bytes.

    Order matters (it also determines the split). Photos are hashed by content,
    so a moved file does not change the hash but an edited one does.
    """
    digest = hashlib.sha256()
    for sample in samples:
        record = [
            sample.title,
            sample.description,
            sample.label,
            _image_fingerprint(sample.image),
        ]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def class_counts(labels: Sequence[str]) -> dict[str, int]:
    """Number of rows per label, sorted by label."""
    return {str(k): int(v) for k, v in sorted(Counter(labels).items())}
