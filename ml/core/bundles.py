"""Immutable, content-addressed model bundles.

A bundle is a folder ``<root>/<sha256>`` holding::

    bundle.json       label map, network/preprocessing config, backbone
                      provenance, fusion weight, metrics, lineage, versions
    text_net.pt       state dict of the text network
    image_head.pt     state dict of the image head (when there is one)
    backbone.pt       backbone state dict, only for randomly initialised ones
    tfidf.json        the sparse text branch's settings, labels, vocabularies
    tfidf.pt          its idf vectors and linear weights (tensors)
    sentence_head.pt  the sentence branch's linear head (its encoder is the installed
                      package's, checked against the recorded sha256 on load)
    image_linear_head.pt  the linear image branch's head (on the same backbone's
                      pooled features as the image head)
    tokenizer/        tokenizer.json + tokenizer_config.json
    MANIFEST.json     sha256 of every other file

The folder name is the sha256 of ``MANIFEST.json``. Bundles are written into a
temporary folder inside ``root`` and renamed in one step, so a partial bundle
is never visible. :func:`load_bundle` checks every hash before anything is
deserialised, and then only with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tokenizers
import torch
import torchvision
import transformers
from transformers import PreTrainedTokenizerFast

from ml.core.backbones import BACKBONES, BackboneSpec, build_backbone, state_dict_sha256
from ml.core.bundle_files import (
    MANIFEST,
    relative_files,
    sha256_file,
    verified_contents,
    verify_bundle,
)
from ml.core.config import TrainingResult
from ml.core.errors import BundleIntegrityError, PretrainedWeightsUnavailableError
from ml.core.fusion import GRID_STEP
from ml.core.linear_head import LinearHead
from ml.core.networks import ImageHead, TextClassifier, image_head, text_classifier
from ml.core.sentence import SentenceHead, encoder_provenance
from ml.core.sparse import SparseTextModel
from ml.core.transforms import TRANSFORMS_VERSION, load_tokenizer, save_tokenizer

__all__ = [
    "FORMAT_VERSION",
    "BundleRef",
    "LoadedBundle",
    "save_bundle",
    "verify_bundle",
    "load_bundle",
    "bundle_backbone",
    "library_versions",
]

#: 2: N-way fusion (``fusion``: branches, weights, temperatures) and the sparse text
#: branch. 3: the linear image branch (``image_linear``), which older code cannot
#: serve. Version 1 bundles (text + image, one ``fusion_weight``) and version 2 ones
#: still load.
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


@dataclass(frozen=True)
class BundleRef:
    """Where a saved bundle lives, its content hash and its ``bundle.json``."""

    path: Path
    sha256: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class LoadedBundle:
    """A verified bundle, with its networks built on CPU in eval mode."""

    path: Path
    sha256: str
    metadata: dict[str, Any]
    labels: list[str]
    tokenizer: PreTrainedTokenizerFast
    text_net: TextClassifier
    image_head: ImageHead | None
    backbone_state_dict: dict[str, torch.Tensor] | None
    sparse_text: SparseTextModel | None = None
    sentence_head: SentenceHead | None = None
    image_linear_head: LinearHead | None = None

    @property
    def fusion_weight(self) -> float:
        """The text branches' share of the fusion."""
        return float(self.metadata["fusion_weight"])

    @property
    def fusion(self) -> dict[str, Any]:
        """``branches``, ``weights``, ``temperatures``, ``fused_temperature``."""
        return fusion_of(self.metadata)

    @property
    def backbone_provenance(self) -> dict[str, Any]:
        return self.metadata["backbone"]

    @property
    def max_length(self) -> int:
        return int(self.metadata["preprocessing"]["max_length"])


def fusion_of(metadata: dict[str, Any]) -> dict[str, Any]:
    """A bundle's fusion; a version 1 bundle's is ``{text: w, image: 1 - w}`` with
    no temperatures (1.0)."""
    if "fusion" in metadata:
        return metadata["fusion"]
    w = float(metadata["fusion_weight"])
    names = ["text", "image"] if metadata["networks"].get("image_head") else ["text"]
    weights = (
        {"text": w, "image": round(1.0 - w, 6)} if len(names) == 2 else {"text": 1.0}
    )
    return {
        "branches": names,
        "weights": weights,
        "temperatures": dict.fromkeys(names, 1.0),
        "fused_temperature": 1.0,
    }


def library_versions() -> dict[str, str]:
    """Versions of the libraries a bundle depends on."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }


def _metadata(result: TrainingResult, extra: dict[str, Any]) -> dict[str, Any]:
    backbone: dict[str, Any] = {"backbone": None, "source": None, "warning": None}
    if result.backbone_provenance is not None:
        backbone = dict(result.backbone_provenance)
    backbone["state_file"] = "backbone.pt" if result.backbone_state_dict else None
    return {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(result.labels),
        "networks": {
            "text": {
                "builder": "ml.core.networks.text_classifier",
                "config": result.text_net_config,
                "file": "text_net.pt",
            },
            "image_head": (
                {
                    "builder": "ml.core.networks.image_head",
                    "config": result.image_head_config,
                    "file": "image_head.pt",
                }
                if result.image_head is not None
                else None
            ),
            "tfidf": (
                {
                    "builder": "ml.core.sparse.SparseTextModel.from_state",
                    "file": "tfidf.pt",
                    "description": "tfidf.json",
                }
                if result.sparse_text is not None
                else None
            ),
            "sentence": (
                {
                    "builder": "ml.core.sentence.SentenceHead.from_state",
                    "file": "sentence_head.pt",
                    "encoder": result.sentence_provenance,
                }
                if result.sentence_head is not None
                else None
            ),
            "image_linear": (
                {
                    "builder": "ml.core.linear_head.LinearHead.from_state",
                    "file": "image_linear_head.pt",
                    "input": "the image head's backbone features, pooled "
                    "(ml.core.backbones.pooled)",
                }
                if result.image_linear_head is not None
                else None
            ),
        },
        "preprocessing": result.preprocessing,
        "backbone": backbone,
        "fusion_weight": result.fusion_weight,
        "fusion": result.fusion
        or fusion_of(
            {
                "fusion_weight": result.fusion_weight,
                "networks": {"image_head": result.image_head is not None},
            }
        ),
        "fusion_rule": "each branch: p_b = softmax(log p_b / T_b) (the sparse "
        "branch: softmax(margins / T_b)); p = softmax(log(sum_b w_b p_b / sum_b "
        "w_b) / T) over the branches the product has (text branches need text, "
        "the image branches a photo); T_b, w_b and T fitted on validation rows kept "
        f"apart from early stopping, w_b on a {GRID_STEP} simplex grid by "
        "weighted F1",
        "metrics": result.metrics,
        "lineage": result.lineage,
        "training": {
            "config": result.config,
            "history": result.history,
            "warnings": result.warnings,
            "timings": result.timings,
        },
        "versions": library_versions(),
        "extra": extra,
    }


def save_bundle(
    result: TrainingResult, *, root: Path, extra_metadata: dict[str, Any] | None = None
) -> BundleRef:
    """Write ``result`` as a bundle under ``root`` and return its reference.

    ``extra_metadata`` (JSON-serialisable; other values are stored as ``str``)
    is kept under ``bundle.json["extra"]``. Saving identical content twice
    returns the existing bundle.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-bundle-", dir=root))
    try:
        torch.save(result.text_net.state_dict(), tmp / "text_net.pt")
        if result.image_head is not None:
            torch.save(result.image_head.state_dict(), tmp / "image_head.pt")
        if result.backbone_state_dict:
            torch.save(result.backbone_state_dict, tmp / "backbone.pt")
        if result.sparse_text is not None:
            description, tensors = result.sparse_text.to_state()
            (tmp / "tfidf.json").write_text(
                json.dumps(description, ensure_ascii=False, sort_keys=True), "utf-8"
            )
            torch.save(tensors, tmp / "tfidf.pt")
        if result.sentence_head is not None:
            torch.save(result.sentence_head.to_state(), tmp / "sentence_head.pt")
        if result.image_linear_head is not None:
            if result.image_head is None:
                raise ValueError("a linear image head needs the image head's backbone")
            state = result.image_linear_head.to_state()
            torch.save(state, tmp / "image_linear_head.pt")
        save_tokenizer(result.tokenizer, tmp / "tokenizer")
        metadata = _metadata(result, dict(extra_metadata or {}))
        (tmp / "bundle.json").write_text(
            json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n", "utf-8"
        )
        files = {name: sha256_file(tmp / name) for name in relative_files(tmp)}
        manifest = {"format_version": FORMAT_VERSION, "files": files}
        manifest_bytes = (
            json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        ).encode()
        (tmp / MANIFEST).write_bytes(manifest_bytes)
        sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        for path in tmp.rglob("*"):
            if path.is_file():
                path.chmod(0o444)
        final = root / sha256
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / MANIFEST).is_file():
                raise
            shutil.rmtree(tmp)  # the same bundle already exists
        return BundleRef(path=final, sha256=sha256, metadata=metadata)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load_state(contents: dict[str, bytes], name: str) -> dict[str, torch.Tensor]:
    state = torch.load(
        io.BytesIO(contents[name]), map_location="cpu", weights_only=True
    )
    if not isinstance(state, dict):
        raise TypeError(f"{name} does not hold a state dict")
    return state


def load_bundle(path: Path, *, expected_sha256: str | None = None) -> LoadedBundle:
    """Verify a bundle (see :func:`verify_bundle`) and load it on CPU.

    Raises:
        BundleIntegrityError: the bundle fails verification, has an unknown
            format version, or its weights do not fit its configuration.
    """
    path = Path(path)
    sha256, contents = verified_contents(path, expected_sha256)
    try:
        metadata = json.loads(contents["bundle.json"])
        version = metadata.get("format_version")
        if version not in READABLE_VERSIONS:
            raise BundleIntegrityError(
                f"bundle {path.name}: unsupported format version {version!r}"
            )
        # Bundles written before transforms were versioned used version 1's transforms.
        transforms = metadata["preprocessing"].get("version", 1)
        if transforms != TRANSFORMS_VERSION:
            raise BundleIntegrityError(
                f"bundle {path.name}: made with transforms version {transforms}, "
                f"this code serves version {TRANSFORMS_VERSION}: retrain the model"
            )
        networks = metadata["networks"]
        text_net = text_classifier(**networks["text"]["config"])
        text_net.load_state_dict(_load_state(contents, networks["text"]["file"]))
        text_net.eval()
        head = None
        if networks.get("image_head"):
            head = image_head(**networks["image_head"]["config"])
            head.load_state_dict(_load_state(contents, networks["image_head"]["file"]))
            head.eval()
        backbone = metadata["backbone"]
        backbone_state = (
            _load_state(contents, backbone["state_file"])
            if backbone.get("state_file")
            else None
        )
        sparse = None
        if networks.get("tfidf"):
            sparse = SparseTextModel.from_state(
                json.loads(contents[networks["tfidf"]["description"]]),
                _load_state(contents, networks["tfidf"]["file"]),
            )
        sentence = None
        if networks.get("sentence"):
            sentence = SentenceHead.from_state(
                list(metadata["labels"]),
                _load_state(contents, networks["sentence"]["file"]),
            )
        image_linear = None
        if networks.get("image_linear"):
            if head is None:
                raise BundleIntegrityError(
                    f"bundle {path.name}: a linear image head without an image head"
                )
            image_linear = LinearHead.from_state(
                list(metadata["labels"]),
                _load_state(contents, networks["image_linear"]["file"]),
            )
        tokenizer = load_tokenizer(path / "tokenizer")
    except BundleIntegrityError:
        raise
    except Exception as exc:  # torch / json / tokenizers errors: one domain error
        raise BundleIntegrityError(
            f"bundle {path.name} cannot be loaded: {exc}"
        ) from exc
    if sentence is not None:
        _check_encoder(path.name, networks["sentence"]["encoder"])
    return LoadedBundle(
        path=path,
        sha256=sha256,
        metadata=metadata,
        labels=list(metadata["labels"]),
        tokenizer=tokenizer,
        text_net=text_net,
        image_head=head,
        backbone_state_dict=backbone_state,
        sparse_text=sparse,
        sentence_head=sentence,
        image_linear_head=image_linear,
    )


def _check_encoder(name: str, recorded: dict[str, Any]) -> None:
    """The installed sentence encoder must be the one the bundle was trained with."""
    installed = encoder_provenance()
    if installed["files_sha256"] != recorded.get("files_sha256"):
        raise PretrainedWeightsUnavailableError(
            f"bundle {name} was trained with {recorded.get('package')} "
            f"{recorded.get('version')}; the encoder installed here "
            f"({installed['package']} {installed['version']}) has other weights"
        )


def bundle_backbone(bundle: LoadedBundle) -> BackboneSpec:
    """Rebuild the frozen backbone ``bundle``'s image head was trained on, from local
    weights (or the random weights stored in the bundle), and check that they are
    the same weights (``state_sha256``).

    Raises:
        BundleIntegrityError: unknown backbone, or stored weights that do not fit.
        PretrainedWeightsUnavailableError: the weights are missing here, or differ
            from those the bundle was trained with.
    """
    provenance = bundle.backbone_provenance
    name, source = provenance.get("backbone"), str(provenance.get("source", ""))
    if name not in BACKBONES:
        raise BundleIntegrityError(
            f"bundle {bundle.sha256}: unknown backbone {name!r} for its image head"
        )
    if source == "random":
        if bundle.backbone_state_dict is None:
            raise BundleIntegrityError(
                f"bundle {bundle.sha256}: random backbone without its weights"
            )
        spec = build_backbone(name, pretrained=False)
        try:
            spec.module.load_state_dict(bundle.backbone_state_dict)
        except RuntimeError as exc:
            raise BundleIntegrityError(f"backbone.pt does not fit {name}") from exc
    else:
        path = source.removeprefix("file:") if source.startswith("file:") else None
        spec = build_backbone(name, pretrained=True, weights_path=path)
    if state_dict_sha256(spec.module) != provenance.get("state_sha256"):
        raise PretrainedWeightsUnavailableError(
            f"the {name} weights available here ({source}) differ from those "
            f"bundle {bundle.sha256} was trained with"
        )
    spec.module.eval()
    return BackboneSpec(
        name=name,
        module=spec.module,
        feature_dim=spec.feature_dim,
        provenance={k: v for k, v in provenance.items() if k != "state_file"},
    )
