"""Training the image head on a feature store reads its features batch by batch
(issue #17: 85,000 products with photos on one machine), with the results of the
dense features of a feature cache."""

import gc

import numpy as np
import pytest
import torch

from ml.core import branches
from ml.core.backbones import build_backbone
from ml.core.branches import train_image_branch
from ml.core.bundles import load_bundle, save_bundle
from ml.core.data import Sample
from ml.core.engine import SourceDataset, batches
from ml.core.feature_store import FeatureStore, StoreRows
from ml.core.features import FeatureCache, feature_store, image_digest
from ml.core.finetune import finetune_model
from ml.core.pipeline import run_start
from tests.ml.core.samples import COLOURS, handmade_result, photo_bytes, tiny_config

N_SAMPLES = 1200  # every 7th has no photo: 1029 photos
BATCH_SIZE = 32
PROBABILITY_BATCH = 256  # branches.probabilities: the largest batch the branch reads


@pytest.fixture(scope="module")
def spec():
    return build_backbone("efficientnet_lite0", pretrained=True)


@pytest.fixture(scope="module")
def photos():
    """``(samples, features of each photo by digest)``: the features are drawn
    around a mean per category and stored ahead, so no backbone runs."""
    rng = np.random.default_rng(0)
    labels = sorted(COLOURS)
    means = rng.normal(size=(len(labels), 1280)).astype(np.float32)
    samples, features = [], {}
    for i in range(N_SAMPLES):
        label = labels[i % len(labels)]
        image = None
        if i % 7 != 6:
            image = photo_bytes(COLOURS[label], seed=i, size=16)
            noise = rng.normal(scale=2.0, size=1280).astype(np.float32)
            features.setdefault(image_digest(image), means[i % len(labels)] + noise)
        samples.append(Sample(title=f"produit {i}", image=image, label=label))
    return samples, features


@pytest.fixture(scope="module")
def sources(spec, photos, tmp_path_factory):
    """The same features in a feature cache and in a feature store."""
    _, features = photos
    root = tmp_path_factory.mktemp("sources")
    cache = FeatureCache(root / "cache")
    for digest, row in features.items():
        cache.put(FeatureCache.namespace(spec), digest, torch.from_numpy(row))
    store = feature_store(root / "store", spec)
    store.add(list(features), np.stack(list(features.values())))
    store.flush()
    return cache, store


@pytest.fixture
def reads(monkeypatch):
    """The number of rows of every :meth:`FeatureStore.read` call."""
    sizes = []
    read = FeatureStore.read

    def recorded(self, rows):
        sizes.append(len(rows))
        return read(self, rows)

    monkeypatch.setattr(FeatureStore, "read", recorded)
    return sizes


def config(**overrides):
    values = {
        "backbone": "efficientnet_lite0",
        "epochs": 3,
        "batch_size": BATCH_SIZE,
        "val_fraction": 0.5,
        "fusion_folds": 5,
    }
    return tiny_config(**{**values, **overrides})


def assert_same_state(left, right):
    assert list(left) == list(right)
    for key, value in right.items():
        assert torch.equal(left[key], value), key


def image_run(samples, cache, work_dir):
    """The image branch of a training run on ``samples`` with ``cache``."""
    labels = sorted({s.label for s in samples})
    run = run_start(
        samples,
        [s.label for s in samples],
        labels,
        config(linear_max_rows=PROBABILITY_BATCH, image_linear=True),
        work_dir,
        None,
        None,
    )
    run.stack_rows = list(range(len(samples)))  # out-of-fold refits, as train_model
    return run, train_image_branch(run, samples, cache)


def test_a_store_trains_the_image_head_as_a_cache_does_reading_batches(
    photos, sources, reads, tmp_path, monkeypatch
):
    # given the same features in a feature cache and in a feature store, and the
    # linear image branch bounded to 256 rows, reading 256 at a time outside them
    samples, features = photos
    cache, store = sources
    monkeypatch.setattr(branches, "LINEAR_CHUNK", PROBABILITY_BATCH)

    # when the image branch trains once on each
    dense_run, dense = image_run(samples, cache, tmp_path / "dense")
    stream_run, streamed = image_run(samples, store, tmp_path / "stream")

    # then the head, its history and its probabilities are the same
    assert dense is not None and streamed is not None
    assert int(streamed.has_image.sum()) == len(features) == 1029
    assert torch.equal(streamed.has_image, dense.has_image)
    assert stream_run.history["image"] == dense_run.history["image"]
    assert_same_state(streamed.head.state_dict(), dense.head.state_dict())
    assert torch.equal(streamed.p_val, dense.p_val)
    assert streamed.oof is not None and dense.oof is not None
    assert torch.equal(streamed.oof, dense.oof)
    # and so is the linear image branch, fitted on a sample of 256 photos
    assert streamed.linear is not None and dense.linear is not None
    assert streamed.linear.n_fit == dense.linear.n_fit == 256
    assert np.array_equal(streamed.linear.head.weight, dense.linear.head.weight)
    assert torch.equal(streamed.linear.oof, dense.linear.oof)
    assert int((streamed.linear.oof != 0).any(dim=1).sum()) == 1029
    # and the store was read a batch at a time: training batches of 32, the
    # validation loader's 128 rows, the probabilities' 256 (the linear branch's
    # sample and its chunks too), never the 1029 photos (nor the 514 training rows)
    # at once
    assert max(reads) == PROBABILITY_BATCH
    assert reads.count(BATCH_SIZE) > 0 and reads.count(128) > 0
    assert len(dense_run.train_idx) == len(stream_run.train_idx) == 600


def test_fine_tuning_on_a_store_reads_batches_and_matches_a_cache(
    spec, photos, sources, reads, tmp_path
):
    # given a model with an image head, and the same features in a cache and a store
    samples, _ = photos
    cache, store = sources
    ref = save_bundle(handmade_result(backbone_spec=spec), root=tmp_path / "base")
    base = load_bundle(ref.path)
    tuning = config(sparse_text=False, sentence_text=False)

    # when its heads are fine-tuned once on each
    dense, streamed = (
        finetune_model(
            samples, base, tuning, work_dir=tmp_path / name, feature_cache=features
        )
        for name, features in (("dense", cache), ("stream", store))
    )

    # then the image heads are the same, trained on batches read from the store
    assert streamed.history["image"] == dense.history["image"]
    assert len(dense.history["image"]) == 3
    assert_same_state(streamed.image_head.state_dict(), dense.image_head.state_dict())
    assert streamed.metrics["image"] == dense.metrics["image"]
    assert max(reads) == PROBABILITY_BATCH
    assert reads.count(BATCH_SIZE) > 0


def test_store_rows_index_lazily_and_read_only_their_rows(tmp_path):
    # given a store of 5 rows and a view of rows 3, -1 (no photo), 0, 4
    store = FeatureStore(tmp_path, "net/fp", 2)
    values = np.arange(10, dtype=np.float32).reshape(5, 2)
    store.add([f"{i:064x}" for i in range(5)], values)
    view = StoreRows(store, [3, -1, 0, 4])

    # when it is indexed with a list, then with a mask
    picked = view[[3, 0, 1]][torch.tensor([True, False, True])]

    # then the views read nothing until asked; their rows are the store's
    assert view.shape == (4, 2) and len(picked) == 2
    assert picked.rows.tolist() == [4, -1]
    assert picked.tensor().tolist() == [[8.0, 9.0], [0.0, 0.0]]
    assert view.tensor().tolist() == [[6.0, 7.0], [0.0, 0.0], [0.0, 1.0], [8.0, 9.0]]
    with pytest.raises(TypeError):
        view[0]


def test_a_loader_over_a_store_gives_the_batches_of_its_tensor(tmp_path):
    # given the same rows as a tensor and as a store view
    store = FeatureStore(tmp_path, "net/fp", 3, shard_rows=4)
    values = np.arange(30, dtype=np.float32).reshape(10, 3)
    store.add([f"{i:064x}" for i in range(10)], values)
    order = [7, 2, 9, 0, 5, 1]

    # when both are read in batches of 4
    dense = list(batches(torch.from_numpy(values)[order], 4))
    lazy = list(batches(StoreRows(store, order), 4))

    # then the batches are the same tensors, across shards
    assert [len(b[0]) for b in lazy] == [4, 2]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(dense, lazy, strict=True))
    labels = torch.arange(6)
    assert SourceDataset(StoreRows(store, order), labels)[2][1].item() == 2
    with pytest.raises(ValueError):
        SourceDataset(StoreRows(store, order), labels[:5])


def rss_file_mb() -> float:
    """This process's resident file-backed pages (mapped files), in MB."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no RssFile in /proc/self/status")


def test_reading_a_whole_store_keeps_none_of_it_resident(tmp_path):
    # given a 48 MB store written and closed
    rows, dim = 12_288, 1024
    writer = FeatureStore(tmp_path, "net/fp", dim)
    keys = [f"{i:064x}" for i in range(rows)]
    for start in range(0, rows, 2048):
        block = np.full((2048, dim), start, dtype=np.float32)
        writer.add(keys[start : start + 2048], block)
    writer.flush()
    del writer, block
    gc.collect()
    store = FeatureStore(tmp_path, "net/fp", dim)
    before = rss_file_mb()

    # when every row is read, a batch of 256 at a time, as an epoch does
    firsts = [float(store.read(range(s, s + 256))[0, 0]) for s in range(0, rows, 256)]

    # then the rows are right and the process did not map the 48 MB (a memory map
    # would keep each page read resident until unmapped); the margin is for the
    # libraries' own pages
    assert firsts[:9] == [0.0] * 8 + [2048.0]
    assert rss_file_mb() - before < 8
