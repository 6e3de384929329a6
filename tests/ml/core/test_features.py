"""Feature extraction and its on-disk cache."""

import pytest
import torch
from torch import nn

from ml.core.backbones import BackboneSpec
from ml.core.errors import InvalidImageError
from ml.core.features import FeatureCache, extract_features, image_digest
from tests.ml.core.samples import photo_bytes


class CountingBackbone(nn.Module):
    """Mean colour per channel; counts forward calls and images seen."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1), requires_grad=False)
        self.calls = 0
        self.images = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.images += images.size(0)
        return images.mean(dim=(2, 3)) * self.scale


@pytest.fixture
def spec():
    provenance = {"backbone": "toy", "source": "random", "state_sha256": "ab" * 32}
    return BackboneSpec(
        name="toy", module=CountingBackbone(), feature_dim=3, provenance=provenance
    )


def test_second_extraction_hits_the_cache(spec, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    red, blue = photo_bytes((250, 0, 0), seed=1), photo_bytes((0, 0, 250), seed=2)
    images = [red, None, blue, red]

    first, has_image = extract_features(spec, images, cache, batch_size=2)
    calls, seen = spec.module.calls, spec.module.images
    second, has_image_again = extract_features(spec, images, FeatureCache(cache.root))

    assert (calls, seen) == (1, 2)  # the duplicate photo is computed once
    assert spec.module.calls == 1  # nothing recomputed
    assert has_image.tolist() == has_image_again.tolist() == [True, False, True, True]
    assert torch.equal(first, second)
    assert torch.equal(first[1], torch.zeros(3))
    assert torch.equal(first[0], first[3])
    assert first[0, 0] > first[0, 2] and first[2, 2] > first[2, 0]
    stored = cache.path("toy/abababababababab", image_digest(red))
    assert stored.is_file()
    assert not list(cache.root.rglob(".tmp-*"))


def test_paths_and_bytes_of_the_same_photo_share_one_entry(spec, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    data = photo_bytes((0, 200, 0), seed=3)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)

    extract_features(spec, [data], cache)
    features, _ = extract_features(spec, [path], cache)

    assert spec.module.calls == 1
    assert cache.hits == 1
    assert len(list(cache.root.rglob("*.pt"))) == 1
    assert features.shape == (1, 3)


def test_invalid_photos_are_skipped_or_raised(spec, tmp_path):
    images = [b"broken", tmp_path / "missing.jpg", photo_bytes((9, 9, 9), seed=4)]

    _, has_image = extract_features(spec, images, None)

    assert has_image.tolist() == [False, False, True]
    with pytest.raises(InvalidImageError):
        extract_features(spec, images, None, skip_invalid=False)


def test_a_damaged_cache_file_is_recomputed(spec, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    data = photo_bytes((5, 50, 150), seed=5)
    expected, _ = extract_features(spec, [data], cache)
    cache.path(FeatureCache.namespace(spec), image_digest(data)).write_bytes(b"junk")

    again, _ = extract_features(spec, [data], cache)

    assert spec.module.calls == 2
    assert torch.equal(expected, again)


def test_progress_reports_every_batch(spec):
    seen = []
    images = [photo_bytes((i * 20, 0, 0), seed=i) for i in range(5)]

    extract_features(
        spec, images, None, batch_size=2, progress=lambda d, t: seen.append((d, t))
    )

    assert seen == [(2, 5), (4, 5), (5, 5)]
