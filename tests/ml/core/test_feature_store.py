"""The memmap feature store, filling it from photos (in DataLoader workers) and
reading training batches from it."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from ml.core.backbones import BackboneSpec
from ml.core.feature_store import FeatureDataset, FeatureStore
from ml.core.features import (
    FeatureCache,
    extract_features,
    feature_store,
    fill_store,
    image_digest,
)
from tests.ml.core.samples import photo_bytes


class MeanColour(nn.Module):
    """Mean of each channel: features that tell photos apart, and quick."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1), requires_grad=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3)) * self.scale


@pytest.fixture
def spec():
    provenance = {"backbone": "toy", "source": "random", "state_sha256": "cd" * 32}
    return BackboneSpec(
        name="toy", module=MeanColour(), feature_dim=3, provenance=provenance
    )


def keys(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(n)]


def test_round_trip_across_shards(tmp_path):
    store = FeatureStore(tmp_path, "net/fp", 4, shard_rows=3)
    values = np.arange(28, dtype=np.float32).reshape(7, 4) / 7
    assert store.add(keys(7), values) == list(range(7))
    store.flush()

    again = FeatureStore(tmp_path, "net/fp", 4)  # shard size from meta.json
    assert again.shard_rows == 3 and len(again) == 7
    assert np.array_equal(again.read([6, 0, 3]), values[[6, 0, 3]])
    assert sorted(p.name for p in (tmp_path / "net/fp").glob("shard-*")) == [
        "shard-00000.bin",
        "shard-00001.bin",
        "shard-00002.bin",
    ]
    # each shard is a raw [3, 4] float32 array; a reader reads rows, maps nothing
    assert (tmp_path / "net/fp/shard-00002.bin").stat().st_size == 3 * 4 * 4
    assert again._maps == {}
    with pytest.raises(IndexError):
        again.read([7])


def test_existing_keys_keep_their_row_and_float16_halves_the_size(tmp_path):
    store = FeatureStore(tmp_path, "half", 2, dtype="float16", shard_rows=8)
    first = store.add(keys(2), np.array([[0.1, 0.2], [0.3, 0.4]]))
    assert store.add(keys(3)[1:], np.array([[9.0, 9.0], [0.5, 0.6]])) == [1, 2]
    assert first == [0, 1]
    got = store.read([0, 1, 2])
    assert got.dtype == np.float32
    assert np.allclose(got, [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], atol=1e-3)
    assert (tmp_path / "half/shard-00000.bin").stat().st_size == 8 * 2 * 2
    with pytest.raises(ValueError):
        FeatureStore(tmp_path, "half", 2, dtype="float32")


def test_lookup_by_hash_and_uncommitted_rows_stay_invisible(tmp_path):
    store = FeatureStore(tmp_path, "net", 2, flush_rows=1000)
    store.add(keys(2), np.ones((2, 2)))
    assert store.lookup([keys(2)[1], "f" * 64]) == [1, None]
    assert len(FeatureStore(tmp_path, "net", 2)) == 0  # index not committed yet
    store.flush()
    reader = FeatureStore(tmp_path, "net", 2)
    assert reader.lookup(keys(2)) == [0, 1]
    store.add(keys(3)[2:], np.zeros((1, 2)))
    store.flush()
    assert len(reader) == 2
    reader.refresh()
    assert reader.lookup(keys(3)) == [0, 1, 2]
    assert not list((tmp_path / "net").glob(".*tmp*"))  # no temporary file left


def test_fill_store_computes_each_photo_once(spec, tmp_path):
    red, blue = photo_bytes((250, 0, 0), seed=1), photo_bytes((0, 0, 250), seed=2)
    images = [red, None, blue, red, b"not an image"]
    store = feature_store(tmp_path, spec)
    rows = fill_store(spec, images, store, batch_size=2, num_workers=2)

    assert rows.tolist() == [0, -1, 1, 0, -1]
    assert store.lookup([image_digest(blue)]) == [1]
    features, has_image = extract_features(spec, images, None)
    assert torch.equal(torch.from_numpy(store.read([0, 1])), features[[0, 2]])
    # a second fill finds everything stored and adds nothing
    assert fill_store(spec, images, store).tolist() == rows.tolist()
    assert len(store) == 2


def test_workers_and_store_give_todays_features(spec, tmp_path):
    images = [photo_bytes((i * 20, 100, 0), seed=i) for i in range(9)]
    images += [None, images[0]]
    expected, has_image = extract_features(spec, images, None, batch_size=4)

    with_workers = extract_features(
        spec, images, FeatureCache(tmp_path / "c"), batch_size=4, num_workers=2
    )
    from_store = extract_features(
        spec, images, feature_store(tmp_path / "s", spec), batch_size=4, num_workers=2
    )
    for features, mask in (with_workers, from_store):
        assert torch.equal(mask, has_image)
        assert torch.allclose(features, expected, atol=1e-6, rtol=0)


def test_loader_with_workers_reads_the_same_batches(tmp_path):
    store = FeatureStore(tmp_path, "net", 5, shard_rows=4)
    values = np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32)
    store.add(keys(10), values)
    store.flush()
    dataset = FeatureDataset(store, rows=[9, 2, 2, 5, 0, 7], labels=[1, 0, 0, 2, 1, 1])

    def batches(workers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return list(DataLoader(dataset, batch_size=4, num_workers=workers))

    inline, parallel = batches(0), batches(2)
    assert len(inline) == len(parallel) == 2
    for (x0, y0), (x2, y2) in zip(inline, parallel, strict=True):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)
    assert torch.equal(inline[0][0], torch.from_numpy(values[[9, 2, 2, 5]]))
    assert inline[1][1].tolist() == [1, 1]
