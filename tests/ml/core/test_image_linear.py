"""The linear image branch (issue #12): a logistic regression on the backbone's
pooled features beside the specification's MLP head. Its head, its fit on a bounded
sample, its place in a bundle (hash checked), in a served prediction and in a
fine-tuning that keeps the base's image branches."""

import dataclasses
import os
import shutil

import numpy as np
import pytest
import torch

from ml.core.backbones import build_backbone, pooled
from ml.core.branches import fit_linear
from ml.core.bundles import load_bundle, save_bundle
from ml.core.errors import BundleIntegrityError
from ml.core.finetune import finetune_model
from ml.core.inference import Predictor
from ml.core.linear_head import UNKNOWN_MARGIN, LinearHead, fit_linear_head
from ml.core.pipeline import run_start, train_model
from ml.core.transforms import image_tensor, open_image
from tests.ml.core.samples import (
    COLOURS,
    KEYWORDS,
    handmade_result,
    multimodal_samples,
    photo_bytes,
    text_samples,
    tiny_config,
)

LABELS = sorted(KEYWORDS)


def test_a_resized_head_keeps_known_columns_and_gives_new_labels_no_evidence():
    # given a head over two labels
    head = LinearHead(
        labels=["a", "b"],
        weight=np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32),
        bias=np.array([0.5, -0.5], dtype=np.float32),
    )

    # when it is resized to b, a new label c, and a
    resized = head.resized(["b", "c", "a"])

    # then b and a keep their columns and c has zero weights and the unknown margin
    assert resized.labels == ["b", "c", "a"]
    assert resized.weight.tolist() == [[2.0, 0.0, 1.0], [4.0, 0.0, 3.0]]
    assert resized.bias.tolist() == [-0.5, UNKNOWN_MARGIN, 0.5]
    assert resized.logits(np.array([[1.0, 1.0]])).tolist() == [[5.5, -10.0, 4.5]]
    with pytest.raises(ValueError, match="does not fit the labels"):
        LinearHead.from_state(["a"], head.to_state())


def test_vgg16_features_are_pooled_over_their_positions_efficientnet_kept():
    # given VGG16's flattened 7x7x512 features: channel c holds c everywhere
    vgg = torch.arange(512, dtype=torch.float32).repeat_interleave(49).repeat(2, 1)
    efficientnet = torch.ones(3, 1280)

    # then the linear head reads 512 channel means, or EfficientNet's 1280 as they are
    assert pooled(vgg).shape == (2, 512)
    assert pooled(vgg)[1, :4].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert pooled(efficientnet) is efficientnet


def test_the_linear_fit_is_bounded_and_scores_every_row_out_of_fold(tmp_path):
    # given 90 products, one feature vector per category plus noise, every 3rd
    # product without a photo, and a cap of 30 rows
    samples = text_samples(30)
    y = [LABELS.index(s.label) for s in samples]
    rng = np.random.default_rng(0)
    vectors = np.eye(3, 8, dtype=np.float32)[y] * 4 + rng.normal(
        scale=0.3, size=(90, 8)
    ).astype(np.float32)
    has_photo = torch.tensor([i % 3 != 2 for i in range(90)])
    run = run_start(
        samples,
        [s.label for s in samples],
        LABELS,
        tiny_config(linear_max_rows=30, fusion_folds=3),
        tmp_path,
        None,
        None,
    )
    run.stack_rows = list(range(90))
    asked = []

    def read(rows):
        asked.append(list(rows))
        return vectors[rows]

    # when the linear branch is fitted
    fitted = fit_linear(run, has_photo, read)

    # then it read its 30-row sample once and the 30 other photos in one chunk
    assert fitted.n_fit == 30
    assert [len(rows) for rows in asked] == [30, 30]
    assert set(asked[0]).isdisjoint(asked[1])
    assert all(has_photo[i] for rows in asked for i in rows)
    # and every product with a photo has margins, the others none
    scored = (fitted.oof != 0).any(dim=1)
    assert torch.equal(scored, has_photo)
    assert fitted.oof[has_photo].argmax(dim=1).tolist() == [
        t for t, ok in zip(y, has_photo.tolist(), strict=True) if ok
    ]
    assert fitted.head.labels == LABELS


@pytest.fixture(scope="module")
def spec():
    return build_backbone("efficientnet_lite0", pretrained=True)


@pytest.fixture(scope="module")
def result(spec):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 1280)).astype(np.float32)
    linear = fit_linear_head(vectors, [i % 3 for i in range(30)], LABELS)
    return dataclasses.replace(
        handmade_result(backbone_spec=spec),
        image_linear_head=linear,
        fusion={
            "branches": ["text", "image", "image_linear"],
            "weights": {"text": 0.2, "image": 0.3, "image_linear": 0.5},
            "temperatures": {"text": 1.0, "image": 1.5, "image_linear": 0.7},
            "fused_temperature": 0.9,
        },
    )


@pytest.fixture(scope="module")
def bundle(result, tmp_path_factory):
    return save_bundle(result, root=tmp_path_factory.mktemp("bundles"))


def test_the_linear_image_head_round_trips_and_serves_beside_the_mlp(
    spec, result, bundle
):
    # given a bundle with both image branches
    loaded = load_bundle(bundle.path, expected_sha256=bundle.sha256)
    assert loaded.metadata["format_version"] == 3
    assert np.array_equal(
        loaded.image_linear_head.weight, result.image_linear_head.weight
    )
    photo = photo_bytes(COLOURS["games"], seed=3)

    # when a product with a photo is served
    got = Predictor(bundle.path, bundle.sha256).predict(
        title="manette", image=photo, top_k=3
    )

    # then the fusion holds the two image branches' calibrated probabilities
    with torch.inference_mode():
        ids = loaded.tokenizer("manette", return_tensors="pt")["input_ids"]
        features = spec.module.eval()(image_tensor(open_image(photo)).unsqueeze(0))
        text = result.text_net(ids).softmax(1)
        mlp = (result.image_head(features).softmax(1).log() / 1.5).softmax(1)
        linear = (result.image_linear_head.logits(features.numpy()) / 0.7).softmax(1)
    fused = 0.2 * text + 0.3 * mlp + 0.5 * linear
    expected = (fused.log() / 0.9).softmax(1)[0]
    for label, probability in got.top:
        assert probability == pytest.approx(
            float(expected[LABELS.index(label)]), abs=1e-4
        )
    assert got.shares == {"text": 0.2, "image": 0.3, "image_linear": 0.5}
    assert got.used == "text+image"
    assert got.branch_top["image_linear"][0] == LABELS[int(linear.argmax())]

    # and a product without a photo uses the text alone
    text_only = Predictor(bundle.path, bundle.sha256).predict(title="manette")
    assert text_only.shares == {"text": 1.0, "image": 0.0, "image_linear": 0.0}
    assert text_only.branch_top["image_linear"] is None


def test_a_modified_linear_image_head_is_refused_before_loading(bundle, tmp_path):
    copy = tmp_path / bundle.sha256
    shutil.copytree(bundle.path, copy)
    target = copy / "image_linear_head.pt"
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))

    with pytest.raises(BundleIntegrityError, match="image_linear_head.pt was modified"):
        load_bundle(copy)


def test_a_linear_image_head_without_an_image_head_is_not_saved(result, tmp_path):
    text_only = dataclasses.replace(result, image_head=None, image_head_config=None)

    with pytest.raises(ValueError, match="needs the image head's backbone"):
        save_bundle(text_only, root=tmp_path / "bundles")
    assert list((tmp_path / "bundles").iterdir()) == []


def test_fine_tuning_without_photos_keeps_both_image_branches(bundle, tmp_path):
    # given a base with both image branches, and new products without photos in a
    # new category
    base = load_bundle(bundle.path)
    samples = [
        dataclasses.replace(s, label="garden" if i % 4 == 0 else s.label)
        for i, s in enumerate(text_samples(12))
    ]

    # when it is fine-tuned
    tuned = finetune_model(
        samples,
        base,
        tiny_config(epochs=2, sparse_text=False, sentence_text=False),
        work_dir=tmp_path,
        feature_cache=None,
    )

    # then both image branches keep their shares and temperatures
    assert tuned.fusion["weights"]["image"] == 0.3
    assert tuned.fusion["weights"]["image_linear"] == 0.5
    assert tuned.fusion["weights"]["text"] == pytest.approx(0.2)
    assert tuned.fusion["temperatures"]["image_linear"] == 0.7
    # and the linear head gives the new category no evidence
    head = tuned.image_linear_head
    assert head.labels == ["books", "games", "garden", "kitchen"]
    assert head.bias[2] == UNKNOWN_MARGIN and not head.weight[:, 2].any()
    kept = base.image_linear_head.labels.index("kitchen")
    assert np.array_equal(head.weight[:, 3], base.image_linear_head.weight[:, kept])
    saved = load_bundle(save_bundle(tuned, root=tmp_path / "out").path)
    assert saved.image_linear_head.labels == head.labels


def test_a_training_run_with_the_option_fuses_the_linear_image_branch(tmp_path):
    # given products with text and (4 in 5) a photo, and the option on
    samples = multimodal_samples(12)
    config = tiny_config(backbone="efficientnet_lite0", image_linear=True, epochs=3)

    # when a model is trained and saved
    result = train_model(
        samples, config, work_dir=tmp_path / "work", feature_cache=None
    )
    loaded = load_bundle(save_bundle(result, root=tmp_path / "bundles").path)

    # then the linear image branch is one of the fusion's branches, fitted on every
    # photo, with its own temperature and figures, and the bundle serves it
    fusion = result.fusion
    assert fusion["branches"] == ["text", "tfidf", "sentence", "image", "image_linear"]
    assert sum(fusion["weights"].values()) == pytest.approx(1.0)
    assert fusion["temperatures"]["image_linear"] > 0
    assert result.lineage["n_image_linear_fit"] == 29 == result.lineage["n_with_image"]
    assert result.metrics["branches"]["image_linear"]["n"] > 0
    assert result.image_linear_head.weight.shape == (1280, 3)
    assert np.array_equal(loaded.image_linear_head.bias, result.image_linear_head.bias)
    got = Predictor(loaded.path, loaded.sha256).predict(
        title="", image=photo_bytes(COLOURS["kitchen"], seed=99)
    )
    assert got.used == "image"
    assert set(got.shares) == set(fusion["branches"])
    assert got.shares["text"] == got.shares["tfidf"] == 0.0
