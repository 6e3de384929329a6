"""Content-addressed bundles: round trip and tamper detection."""

import json
import shutil

import pytest
import torch

from ml.core.backbones import build_backbone
from ml.core.bundles import load_bundle, save_bundle, verify_bundle
from ml.core.errors import BundleIntegrityError
from ml.core.transforms import encode_texts
from tests.ml.core.samples import handmade_result


@pytest.fixture(scope="module")
def image_result():
    return handmade_result(
        backbone_spec=build_backbone("efficientnet_lite0", pretrained=True)
    )


@pytest.fixture(scope="module")
def bundle(image_result, tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    return save_bundle(image_result, root=root, extra_metadata={"training_run": 7})


def test_save_and_load_round_trip(bundle, image_result):
    loaded = load_bundle(bundle.path, expected_sha256=bundle.sha256)

    assert bundle.path.name == bundle.sha256 == loaded.sha256
    assert sorted(
        p.relative_to(bundle.path).as_posix() for p in bundle.path.rglob("*.*")
    ) == [
        "MANIFEST.json",
        "bundle.json",
        "image_head.pt",
        "text_net.pt",
        "tokenizer/tokenizer.json",
        "tokenizer/tokenizer_config.json",
    ]
    assert loaded.labels == image_result.labels
    assert loaded.fusion_weight == 0.6
    assert loaded.metadata["extra"] == {"training_run": 7}
    assert loaded.metadata == bundle.metadata
    ids = encode_texts(loaded.tokenizer, ["roman neuf"])
    assert torch.equal(ids, encode_texts(image_result.tokenizer, ["roman neuf"]))
    with torch.inference_mode():
        torch.testing.assert_close(loaded.text_net(ids), image_result.text_net(ids))
        features = torch.randn(2, 1280)
        torch.testing.assert_close(
            loaded.image_head(features), image_result.image_head(features)
        )


def test_bundle_json_records_what_serving_needs(bundle):
    metadata = json.loads((bundle.path / "bundle.json").read_text())

    assert metadata["format_version"] == 3
    assert metadata["fusion"] == {
        "branches": ["text", "image"],
        "weights": {
            "text": metadata["fusion_weight"],
            "image": 1.0 - metadata["fusion_weight"],
        },
        "temperatures": {"text": 1.0, "image": 1.0},
        "fused_temperature": 1.0,
    }
    assert metadata["networks"]["tfidf"] is None
    assert metadata["labels"] == ["books", "games", "kitchen"]
    assert metadata["preprocessing"]["max_length"] == 50
    assert metadata["preprocessing"]["image_size"] == 224
    assert metadata["backbone"]["backbone"] == "efficientnet_lite0"
    assert metadata["backbone"]["warning"] is None
    assert metadata["backbone"]["state_file"] is None
    assert metadata["networks"]["image_head"]["config"]["in_features"] == 1280
    assert set(metadata["versions"]) == {
        "python",
        "torch",
        "torchvision",
        "transformers",
        "tokenizers",
    }
    assert metadata["metrics"]["fused"]["weighted_f1"] == 0.5


def test_no_temporary_folder_is_left_behind(bundle):
    assert [p.name for p in bundle.path.parent.iterdir()] == [bundle.sha256]


def _copy(bundle, tmp_path):
    target = tmp_path / bundle.sha256
    shutil.copytree(bundle.path, target)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@pytest.mark.parametrize(
    "name",
    [
        "MANIFEST.json",
        "bundle.json",
        "image_head.pt",
        "text_net.pt",
        "tokenizer/tokenizer.json",
        "tokenizer/tokenizer_config.json",
    ],
)
def test_a_changed_byte_in_any_file_is_refused(bundle, tmp_path, name):
    copy = _copy(bundle, tmp_path)
    path = copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(BundleIntegrityError, match="does not match|modified"):
        load_bundle(copy)


def test_missing_and_extra_files_are_refused(bundle, tmp_path):
    copy = _copy(bundle, tmp_path)
    (copy / "text_net.pt").unlink()
    with pytest.raises(BundleIntegrityError, match="missing"):
        load_bundle(copy)

    copy = _copy(bundle, tmp_path / "second")
    (copy / "extra.pt").write_bytes(b"x")
    with pytest.raises(BundleIntegrityError, match="unexpected"):
        load_bundle(copy)


def test_wrong_expected_hash_or_renamed_folder_is_refused(bundle, tmp_path):
    with pytest.raises(BundleIntegrityError, match="expected"):
        verify_bundle(bundle.path, expected_sha256="0" * 64)
    renamed = tmp_path / "latest"
    shutil.copytree(bundle.path, renamed)
    with pytest.raises(BundleIntegrityError, match="not named by its hash"):
        load_bundle(renamed)
    assert load_bundle(renamed, expected_sha256=bundle.sha256).sha256 == bundle.sha256
    with pytest.raises(BundleIntegrityError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")


def test_random_backbone_weights_travel_in_the_bundle(tmp_path):
    torch.manual_seed(0)
    spec = build_backbone("efficientnet_lite0", pretrained=False)
    result = handmade_result(backbone_spec=spec, random_backbone=True)

    ref = save_bundle(result, root=tmp_path)
    loaded = load_bundle(ref.path)

    assert ref.metadata["backbone"]["state_file"] == "backbone.pt"
    assert ref.metadata["backbone"]["warning"].startswith("random weights")
    for key, value in spec.module.state_dict().items():
        assert torch.equal(loaded.backbone_state_dict[key], value)


def test_text_only_bundle_has_no_backbone(tmp_path):
    ref = save_bundle(handmade_result(), root=tmp_path)

    loaded = load_bundle(ref.path)

    assert loaded.image_head is None
    assert loaded.backbone_provenance["backbone"] is None
    assert not (ref.path / "image_head.pt").exists()
