"""Backbone feature extraction with a persistent on-disk cache.

Backbones are frozen, so the feature vector of a photo only depends on the
photo's bytes, the preprocessing and the backbone weights. Features are stored
once under ``root/<backbone>/<weights fingerprint>/<sha[:2]>/<sha>.pt`` (the
fingerprint keeps e.g. two randomly initialised backbones apart) and a retrain
never recomputes them.

At scale, :func:`fill_store` puts them in a :class:`~ml.core.feature_store.FeatureStore`
(memmap shards) instead, reading and decoding the photos in DataLoader workers
(``num_workers``) while the main process runs the backbone; :func:`extract_features`
accepts such a store in place of the cache, and :func:`image_features` gives training
a lazy view of the store's rows instead of a dense ``[N, D]`` tensor.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from ml.core.backbones import BackboneSpec
from ml.core.errors import TORCH_LOAD_ERRORS, InvalidImageError
from ml.core.feature_store import FeatureStore, StoreRows
from ml.core.transforms import ImageSource, image_tensor, open_image, read_image_bytes

__all__ = [
    "FeatureCache",
    "extract_features",
    "feature_store",
    "fill_store",
    "image_digest",
    "image_features",
]


def image_digest(data: bytes) -> str:
    """sha256 hex digest of raw image bytes (the cache key)."""
    return hashlib.sha256(data).hexdigest()


class FeatureCache:
    """Per-image feature tensors on disk, keyed by (image sha256, backbone).

    Files are written atomically (temporary file + ``os.replace``), so
    concurrent extractions and crashes never leave a partial file visible.
    ``hits`` and ``misses`` count lookups made through this instance.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def namespace(spec: BackboneSpec) -> str:
        """Cache folder of a backbone: ``<name>/<weights fingerprint>``."""
        return f"{spec.name}/{spec.fingerprint}"

    def path(self, namespace: str, digest: str) -> Path:
        """File that holds (or would hold) the features of ``digest``."""
        return self.root / namespace / digest[:2] / f"{digest}.pt"

    def get(self, namespace: str, digest: str) -> torch.Tensor | None:
        """Return the cached features or ``None`` (a damaged file counts as absent)."""
        path = self.path(namespace, digest)
        try:
            tensor = torch.load(path, map_location="cpu", weights_only=True)
        except TORCH_LOAD_ERRORS:  # absent, or damaged: recompute and overwrite
            self.misses += 1
            return None
        self.hits += 1
        return tensor

    def put(self, namespace: str, digest: str, features: torch.Tensor) -> None:
        """Store ``features`` (a 1-D tensor) for ``digest`` atomically."""
        path = self.path(namespace, digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pt")
        try:
            with os.fdopen(fd, "wb") as handle:
                torch.save(features.detach().cpu().clone(), handle)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def extract_features(
    backbone_spec: BackboneSpec,
    images: Sequence[ImageSource],
    cache: FeatureCache | FeatureStore | None,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    *,
    skip_invalid: bool = True,
    num_workers: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute (or fetch from ``cache``) the backbone features of ``images``.

    Args:
        backbone_spec: the frozen backbone; it runs on the device of its weights.
        images: per product a path, raw bytes, a binary file or ``None``.
        cache: feature cache or store (:func:`feature_store`), or ``None`` to
            always compute.
        batch_size: images per backbone forward pass.
        progress: called as ``progress(done, total)`` while going through images
            (with workers or a store: through the distinct photos to compute).
        skip_invalid: treat unreadable / undecodable images as missing instead
            of raising :class:`~ml.core.errors.InvalidImageError`.
        num_workers: DataLoader workers that read, hash and decode the photos;
            0 decodes in this process, as before.

    Returns:
        ``(features, has_image)``: ``Tensor[N, feature_dim]`` (float32, zeros
        where there is no usable image) and a ``BoolTensor[N]``.
    """
    if isinstance(cache, FeatureStore):
        rows = fill_store(
            backbone_spec,
            images,
            cache,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=progress,
            skip_invalid=skip_invalid,
        )
        return _gather(cache, rows)
    if num_workers > 0:
        return _extract_with_workers(
            backbone_spec,
            images,
            cache,
            batch_size,
            progress,
            skip_invalid,
            num_workers,
        )
    module = backbone_spec.module
    namespace = FeatureCache.namespace(backbone_spec)
    device = next(module.parameters()).device
    total = len(images)
    features = torch.zeros(total, backbone_spec.feature_dim)
    has_image = torch.zeros(total, dtype=torch.bool)
    rows_of: dict[str, list[int]] = {}  # digest -> rows waiting for its features
    first_row: dict[str, int] = {}  # digest -> a row that already has them
    invalid: set[str] = set()
    batch: list[tuple[str, torch.Tensor]] = []

    def flush() -> None:
        if not batch:
            return
        with torch.inference_mode():
            inputs = torch.stack([tensor for _, tensor in batch]).to(device)
            outputs = module(inputs).float().cpu()
        for (digest, _), row_features in zip(batch, outputs, strict=True):
            rows = rows_of.pop(digest)
            features[rows] = row_features
            has_image[rows] = True
            first_row[digest] = rows[0]
            if cache is not None:
                cache.put(namespace, digest, row_features)
        batch.clear()

    for index, source in enumerate(images):
        try:
            data = read_image_bytes(source)
        except InvalidImageError:
            if not skip_invalid:
                raise
            data = None
        if data is not None:
            digest = image_digest(data)
            if digest in first_row:
                features[index] = features[first_row[digest]]
                has_image[index] = True
            elif digest in rows_of:
                rows_of[digest].append(index)
            elif digest not in invalid:
                cached = cache.get(namespace, digest) if cache is not None else None
                if cached is not None:
                    features[index] = cached
                    has_image[index] = True
                    first_row[digest] = index
                else:
                    try:
                        tensor = image_tensor(open_image(data))
                    except InvalidImageError:
                        if not skip_invalid:
                            raise
                        invalid.add(digest)
                    else:
                        rows_of[digest] = [index]
                        batch.append((digest, tensor))
                        if len(batch) >= batch_size:
                            flush()
        if progress is not None and (
            (index + 1) % batch_size == 0 or index + 1 == total
        ):
            flush()
            progress(index + 1, total)
    flush()
    return features, has_image


# ------------------------------------------------------- workers and feature store
_INVALID = "invalid:"  # prefix of a worker's answer for an unusable photo


class _Digests(Dataset):
    """sha256 of each image (``None``: no image; ``_INVALID``...: unreadable)."""

    def __init__(self, images: Sequence[ImageSource]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> str | None:
        try:
            data = read_image_bytes(self.images[index])
        except InvalidImageError as exc:
            return f"{_INVALID}{exc}"
        return None if data is None else image_digest(data)


class _Decoded(Dataset):
    """The normalised tensor of each image, or ``_INVALID``... when undecodable."""

    def __init__(self, images: Sequence[ImageSource]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor | str:
        try:
            return image_tensor(open_image(self.images[index]))
        except InvalidImageError as exc:
            return f"{_INVALID}{exc}"


def _as_list(batch: list) -> list:
    return batch


def _loader(dataset: Dataset, batch_size: int, num_workers: int) -> DataLoader:
    return DataLoader(
        dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=_as_list
    )


def _checked(answer: str | None, skip_invalid: bool) -> str | None:
    """A worker's answer, with an unusable photo as ``None`` (or raised)."""
    if isinstance(answer, str) and answer.startswith(_INVALID):
        if not skip_invalid:
            raise InvalidImageError(answer[len(_INVALID) :])
        return None
    return answer


def _digests(
    images: Sequence[ImageSource], num_workers: int, skip_invalid: bool
) -> list[str | None]:
    """Each image's sha256 (``None``: no usable image), read in the workers."""
    out: list[str | None] = []
    for batch in _loader(_Digests(images), 64, num_workers):
        out.extend(_checked(answer, skip_invalid) for answer in batch)
    return out


def _compute(
    spec: BackboneSpec,
    todo: dict[str, ImageSource],
    save: Callable[[list[str], torch.Tensor], None],
    batch_size: int,
    num_workers: int,
    progress: Callable[[int, int], None] | None,
    skip_invalid: bool,
) -> None:
    """Decode ``todo`` (digest -> a source) in the workers, run the backbone here
    and ``save(digests, features)`` batch by batch."""
    module = spec.module
    device = next(module.parameters()).device
    keys = list(todo)
    done = 0
    for batch in _loader(_Decoded(list(todo.values())), batch_size, num_workers):
        names, done = keys[done : done + len(batch)], done + len(batch)
        good = [
            (name, tensor)
            for name, tensor in zip(names, batch, strict=True)
            if _checked(tensor, skip_invalid) is not None
        ]
        if good:
            with torch.inference_mode():
                inputs = torch.stack([tensor for _, tensor in good]).to(device)
                outputs = module(inputs).float().cpu()
            save([name for name, _ in good], outputs)
        if progress is not None:
            progress(done, len(keys))


def _first_sources(
    images: Sequence[ImageSource], digests: list[str | None], known: set[str]
) -> dict[str, ImageSource]:
    todo: dict[str, ImageSource] = {}
    for source, digest in zip(images, digests, strict=True):
        if digest is not None and digest not in known and digest not in todo:
            todo[digest] = source
    return todo


def _extract_with_workers(
    spec: BackboneSpec,
    images: Sequence[ImageSource],
    cache: FeatureCache | None,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
    skip_invalid: bool,
    num_workers: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`extract_features` with the photos read and decoded in workers."""
    namespace = FeatureCache.namespace(spec)
    digests = _digests(images, num_workers, skip_invalid)
    found: dict[str, torch.Tensor] = {}
    for digest in dict.fromkeys(d for d in digests if d is not None):
        cached = cache.get(namespace, digest) if cache is not None else None
        if cached is not None:
            found[digest] = cached

    def save(names: list[str], outputs: torch.Tensor) -> None:
        for name, row in zip(names, outputs, strict=True):
            found[name] = row
            if cache is not None:
                cache.put(namespace, name, row)

    todo = _first_sources(images, digests, set(found))
    _compute(spec, todo, save, batch_size, num_workers, progress, skip_invalid)
    features = torch.zeros(len(images), spec.feature_dim)
    has_image = torch.zeros(len(images), dtype=torch.bool)
    for index, digest in enumerate(digests):
        if digest in found:
            features[index] = found[digest]
            has_image[index] = True
    return features, has_image


def feature_store(
    root: str | Path, spec: BackboneSpec, *, dtype: str = "float32"
) -> FeatureStore:
    """The store of ``spec``'s features under ``root`` (one folder per backbone
    and weights fingerprint, as in :class:`FeatureCache`)."""
    return FeatureStore(
        root, FeatureCache.namespace(spec), spec.feature_dim, dtype=dtype
    )


def fill_store(
    spec: BackboneSpec,
    images: Sequence[ImageSource],
    store: FeatureStore,
    *,
    batch_size: int = 16,
    num_workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    skip_invalid: bool = True,
) -> torch.Tensor:
    """Add the features of every photo ``store`` lacks (duplicates computed once);
    return each image's store row, ``-1`` where there is no usable photo. Only one
    batch of features is in memory at a time."""
    if store.dim != spec.feature_dim:
        raise ValueError(
            f"store holds {store.dim} features, backbone gives {spec.feature_dim}"
        )
    digests = _digests(images, num_workers, skip_invalid)
    known = {d for d in digests if d is not None and d in store}
    todo = _first_sources(images, digests, known)

    def save(names: list[str], outputs: torch.Tensor) -> None:
        store.add(names, outputs.numpy())

    _compute(spec, todo, save, batch_size, num_workers, progress, skip_invalid)
    store.flush()
    rows = store.lookup([d or "" for d in digests])
    return torch.tensor([-1 if row is None else row for row in rows], dtype=torch.long)


def _gather(
    store: FeatureStore, rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(features [N, D], has_image [N])`` of store ``rows`` (-1: none)."""
    return StoreRows(store, rows).tensor(), rows >= 0


def image_features(
    spec: BackboneSpec,
    images: Sequence[ImageSource],
    cache: FeatureCache | FeatureStore | None,
    *,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor | StoreRows, torch.Tensor]:
    """:func:`extract_features` for training: with a store, its missing photos
    are added and the features come back as a lazy :class:`StoreRows` view (the
    engine reads them batch by batch); otherwise as the dense tensor.

    Returns:
        ``(features, has_image)``: ``[N, feature_dim]`` (zeros where there is no
        usable image) and a ``BoolTensor[N]``.
    """
    if not isinstance(cache, FeatureStore):
        return extract_features(
            spec, images, cache, batch_size=batch_size, progress=progress
        )
    rows = fill_store(spec, images, cache, batch_size=batch_size, progress=progress)
    return StoreRows(cache, rows), rows >= 0
