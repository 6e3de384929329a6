"""Backbone feature extraction with a persistent on-disk cache.

Backbones are frozen, so the feature vector of a photo only depends on the
photo's bytes, the preprocessing and the backbone weights. Features are stored
once under ``root/<backbone>/<weights fingerprint>/<sha[:2]>/<sha>.pt`` (the
fingerprint keeps e.g. two randomly initialised backbones apart) and a retrain
never recomputes them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ml.core.backbones import BackboneSpec
from ml.core.errors import TORCH_LOAD_ERRORS, InvalidImageError
from ml.core.transforms import ImageSource, image_tensor, open_image, read_image_bytes

__all__ = ["FeatureCache", "extract_features", "image_digest"]


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
    cache: FeatureCache | None,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    *,
    skip_invalid: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute (or fetch from ``cache``) the backbone features of ``images``.

    Args:
        backbone_spec: the frozen backbone; it runs on the device of its weights.
        images: per product a path, raw bytes, a binary file or ``None``.
        cache: feature cache, or ``None`` to always compute.
        batch_size: images per backbone forward pass.
        progress: called as ``progress(done, total)`` while going through images.
        skip_invalid: treat unreadable / undecodable images as missing instead
            of raising :class:`~ml.core.errors.InvalidImageError`.

    Returns:
        ``(features, has_image)``: ``Tensor[N, feature_dim]`` (float32, zeros
        where there is no usable image) and a ``BoolTensor[N]``.
    """
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
