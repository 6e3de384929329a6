"""Split, lineage hash and class counts."""

from ml.core.data import (
    Sample,
    class_counts,
    dataset_hash,
    replay_sample,
    stratified_split,
)


def test_stratified_split_is_deterministic_and_stratified():
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 5

    train, val = stratified_split(labels, val_fraction=0.2, seed=3)

    assert (train, val) == stratified_split(labels, val_fraction=0.2, seed=3)
    assert sorted(train + val) == list(range(20))
    assert [labels[i] for i in val].count("a") == 2
    assert [labels[i] for i in val].count("b") == 1
    assert [labels[i] for i in val].count("c") == 1


def test_stratified_split_keeps_single_sample_classes_in_train():
    labels = ["a", "a", "a", "a", "b", "b", "b", "b", "lonely"]

    train, val = stratified_split(labels, val_fraction=0.25, seed=0)

    assert 8 in train
    assert len(val) == 2
    assert {labels[i] for i in val} == {"a", "b"}


def test_stratified_split_falls_back_when_classes_outnumber_val_rows():
    labels = ["a", "a", "b", "b", "c", "c", "d", "d"]

    train, val = stratified_split(labels, val_fraction=0.25, seed=0)

    assert len(val) == 2
    assert sorted(train + val) == list(range(8))


def test_stratified_split_without_any_splittable_class():
    assert stratified_split(["a", "b", "c"], seed=0) == ([0, 1, 2], [])


def test_dataset_hash_follows_content(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"\x01\x02")
    samples = [Sample("t", "d", photo, "a"), Sample("u", None, None, "b")]
    same = [Sample("t", "d", b"\x01\x02", "a"), Sample("u", None, None, "b")]

    digest = dataset_hash(samples)

    assert digest == dataset_hash(same)  # photos are hashed by content
    assert len(digest) == 64
    assert digest != dataset_hash([samples[0], Sample("u", None, None, "c")])
    photo.write_bytes(b"\x01\x03")
    assert digest != dataset_hash(samples)


def test_class_counts_are_sorted_by_label():
    # Labels first seen out of order, with different counts: the result is ordered by
    # label, not by first appearance nor by count (a dict ``==`` would not see it).
    counts = class_counts(["c", "a", "b", "c", "a", "c"])

    assert list(counts.items()) == [("a", 2), ("b", 1), ("c", 3)]


def test_class_counts_of_nothing_is_empty():
    assert list(class_counts([]).items()) == []


def test_replay_sample_is_seeded_and_keeps_every_label():
    # 40 rows of a big label, 6 of a small one
    labels = ["big"] * 40 + ["small"] * 6

    picked = replay_sample(labels, 6, min_per_label=5, seed=1)

    assert picked == replay_sample(labels, 6, min_per_label=5, seed=1)
    assert picked == sorted(set(picked))
    assert [labels[i] for i in picked].count("small") >= 5
    assert len(picked) >= 6
    # a label with fewer rows than the minimum keeps all it has; k caps at the rows
    assert replay_sample(["a", "a", "b"], 1, min_per_label=5) == [0, 1, 2]
    assert replay_sample(["a"] * 3, 10) == [0, 1, 2]
    assert replay_sample(["a"] * 3, 0) == []
