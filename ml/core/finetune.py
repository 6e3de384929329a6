"""Incremental fine-tuning: a bundle's heads are trained again on new products (the
tokenizer, embedding, GRUs and backbone stay frozen), with output layers resized to the
new label set."""

import copy
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ml.core.backbones import BackboneSpec
from ml.core.branches import (
    ImageBranch,
    Run,
    TextBranch,
    feature_progress,
    image_linear,
    probabilities,
    text_rows,
)
from ml.core.bundles import LoadedBundle, bundle_backbone
from ml.core.checkpoints import stage_fingerprint
from ml.core.config import ProgressCallback, TrainingConfig, TrainingResult
from ml.core.data import Sample
from ml.core.errors import TrainingDataError
from ml.core.feature_store import FeatureStore
from ml.core.features import FeatureCache, image_features
from ml.core.fusion import IMAGE_BRANCHES
from ml.core.linear_branches import train_sentence_branch, train_sparse_branch
from ml.core.networks import ImageHead, TextClassifier
from ml.core.pipeline import (
    branches_and_fusion,
    run_lineage,
    run_start,
    sample_labels,
    text_share,
)
from ml.core.transforms import (
    encode_texts,
)


class _FeatureHead(nn.Module):
    """The text network's dropout and final linear layer, trained on its frozen pooled
    features (``classifier`` is the network's own layer: training it trains the
    network)."""

    def __init__(self, net: TextClassifier) -> None:
        super().__init__()
        self.dropout = nn.Dropout(net.dropout.p)
        self.classifier = net.classifier

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(features))


def _resized_linear(
    old: nn.Linear, old_labels: Sequence[str], new_labels: Sequence[str]
) -> nn.Linear:
    """``old`` for ``new_labels``: a label ``old`` knows keeps its row; a new label
    starts with zero weights and the mean bias (it has no opinion yet)."""
    new = nn.Linear(old.in_features, len(new_labels))
    row_of = {label: i for i, label in enumerate(old_labels)}
    with torch.no_grad():
        new.weight.zero_()
        new.bias.fill_(float(old.bias.mean()))
        for row, label in enumerate(new_labels):
            if label in row_of:
                new.weight[row] = old.weight[row_of[label]]
                new.bias[row] = old.bias[row_of[label]]
    return new


def _text_features(net: TextClassifier, ids: torch.Tensor) -> torch.Tensor:
    net.eval()
    with torch.inference_mode():
        return torch.cat([net.features(batch) for batch in ids.split(256)])


def _finetune_text(
    run: Run, samples: Sequence[Sample], base: LoadedBundle
) -> TextBranch:
    texts, has_text, train, val = text_rows(run, samples)
    ids = encode_texts(base.tokenizer, texts, max_length=base.max_length)
    net = copy.deepcopy(base.text_net)
    net.classifier = _resized_linear(net.classifier, base.labels, run.labels)
    features = _text_features(net, ids)
    head = _FeatureHead(net)
    band = (0.0, 0.45) if base.image_head is not None else (0.0, 0.95)
    fingerprint = stage_fingerprint({**run.fingerprint, "stage": "text"})
    run.fit(head, "text", band, features, (train, val), fingerprint)
    net.eval()
    net_config = dict(base.metadata["networks"]["text"]["config"])
    net_config["num_classes"] = len(run.labels)
    p_val = probabilities(head, features[run.fusion_idx])
    return TextBranch(base.tokenizer, net, net_config, has_text, p_val)


def _finetune_image(
    run: Run,
    samples: Sequence[Sample],
    base: LoadedBundle,
    spec: BackboneSpec,
    cache: FeatureCache | FeatureStore | None,
) -> ImageBranch | None:
    """Fine-tune the image head on cached features (a store's read batch by batch);
    ``None`` when too few photos (the caller then keeps the base's head)."""
    if all(sample.image is None for sample in samples):
        return None
    started = time.perf_counter()
    spec.module.to(run.device)
    features, has_image = image_features(
        spec,
        [sample.image for sample in samples],
        cache,
        batch_size=run.config.feature_batch_size,
        progress=feature_progress(run),
    )
    spec.module.cpu()
    run.timings["features_s"] = time.perf_counter() - started
    train = [i for i in run.train_idx if has_image[i]]
    val = [i for i in run.val_idx if has_image[i]]
    if not train or not val:
        return None
    assert base.image_head is not None
    head = copy.deepcopy(base.image_head)
    head.layers[-1] = _resized_linear(head.layers[-1], base.labels, run.labels)
    fingerprint = stage_fingerprint({**run.fingerprint, "stage": "image"})
    run.fit(head, "image", (0.75, 0.95), features, (train, val), fingerprint)
    p_val = torch.zeros(len(run.fusion_idx), len(run.labels))
    has_image_val = has_image[run.fusion_idx]
    if has_image_val.any():
        p_val[has_image_val] = probabilities(
            head, features[run.fusion_idx][has_image_val]
        )
    head_config = dict(base.metadata["networks"]["image_head"]["config"])
    head_config["num_classes"] = len(run.labels)
    linear = None
    if base.image_linear_head is not None:  # refitted: cheap, nothing frozen in it
        linear = image_linear(run, features, has_image)
    return ImageBranch(
        head=head,
        head_config=head_config,
        provenance=dict(spec.provenance),
        backbone_state=base.backbone_state_dict,
        has_image=has_image,
        p_val=p_val,
        linear=linear,
    )


def _carried_image_head(
    base: LoadedBundle, spec: BackboneSpec, labels: list[str]
) -> tuple[ImageHead, dict[str, Any]]:
    """The base's image head unchanged but for its output layer, resized to
    ``labels`` (a new label gets no image evidence until a photo trains it)."""
    assert base.image_head is not None
    head = copy.deepcopy(base.image_head)
    last = head.layers[-1]
    resized = _resized_linear(last, base.labels, labels)
    with torch.no_grad():  # new labels: below every known one, not at the mean
        known = torch.tensor([label in base.labels for label in labels])
        resized.bias[~known] = float(last.bias.min()) - 10.0
    head.layers[-1] = resized
    head.eval()
    config = dict(base.metadata["networks"]["image_head"]["config"])
    config["num_classes"] = len(labels)
    return head, {"provenance": dict(spec.provenance), "config": config}


def _with_carried_image(
    fusion: dict[str, Any], base_fusion: dict[str, Any]
) -> dict[str, Any]:
    """The text branches' fusion (just fitted) plus the base's image branches with
    their previous shares and temperatures."""
    carried = ["image"] + [n for n in IMAGE_BRANCHES[1:] if n in base_fusion["weights"]]
    image = sum(float(base_fusion["weights"].get(name, 0.0)) for name in carried)
    weights = {
        name: round(w * (1.0 - image), 6) for name, w in fusion["weights"].items()
    }
    temperatures = dict(fusion["temperatures"])
    for name in carried:
        weights[name] = round(float(base_fusion["weights"].get(name, 0.0)), 6)
        temperatures[name] = float(base_fusion["temperatures"].get(name, 1.0))
    return {
        **fusion,
        "branches": list(weights),
        "weights": weights,
        "temperatures": temperatures,
    }


def finetune_model(
    samples: Sequence[Sample],
    base: LoadedBundle,
    config: TrainingConfig,
    *,
    labels: Sequence[str] | None = None,
    new: Sequence[bool] | None = None,
    work_dir: Path,
    feature_cache: FeatureCache | FeatureStore | None,
    progress: ProgressCallback | None = None,
    log_dir: Path | None = None,
) -> TrainingResult:
    """Fine-tune the heads of a trained model (``base``) on new samples: the
    incremental retraining.

    The tokenizer, the embedding and GRUs and the backbone stay as ``base`` trained
    them; the text network's final linear layer (on its frozen pooled features,
    computed once) and the image head (on cached backbone features) are trained,
    with early stopping on validation weighted F1, and the fusion weight is chosen
    again on validation. The output layers are resized to the label set: a label
    ``base`` knows keeps its trained row, a new one starts from zero; a label of
    ``base`` left out of ``labels`` (a retired category) is dropped. When too few
    samples have a photo, the image head of ``base`` is kept with its share of the
    fusion and its temperature. The sparse text branch (when ``config.sparse_text``)
    is fitted again on the samples: it is cheap and has no frozen part to keep.

    From ``config`` only the optimisation fields apply (``epochs``,
    ``batch_size``, ``lr``, ``patience``, ``seed``, ``val_fraction``,
    ``feature_batch_size``, ``device``, ``num_threads``); the architecture and
    preprocessing come from ``base``.

    Args:
        samples: labelled products (new ones plus a replay of older ones).
        base: the loaded bundle to start from.
        labels: the label set of the result (default: ``base``'s labels and
            those of ``samples``); it must contain every sample's label.
        new: which samples are new (not replayed). Validation (early stopping,
            fusion weight and the metrics) is drawn from the new ones only: the
            frozen text encoder was trained on the replayed ones, which would make
            the validation figures optimistic. Default: every sample.
        work_dir, feature_cache, progress, log_dir: as for :func:`train_model`.

    Each sample's ``weight`` scales its term in the loss of both heads (weighted
    cross-entropy reduced over the weights); with every weight 1.0 the run is the
    unweighted one, unchanged.

    Raises:
        TrainingDataError: unlabelled samples, a label outside ``labels``, fewer
            than two labels, too few samples for a validation split, or no text.
        PretrainedWeightsUnavailableError: the backbone ``base`` was trained with
            is not available here.
    """
    started = time.perf_counter()
    label_of = sample_labels(samples)
    labels = sorted(set(labels if labels is not None else [*base.labels, *label_of]))
    unknown = sorted(set(label_of) - set(labels))
    if unknown:
        raise TrainingDataError(f"samples have labels outside the label set: {unknown}")
    if len(labels) < 2:
        raise TrainingDataError("training needs at least two categories")
    if new is not None and len(new) != len(samples):
        raise TrainingDataError("new must say, for every sample, whether it is new")
    weights = [float(sample.weight) for sample in samples]
    if any(w <= 0 for w in weights):
        raise TrainingDataError("sample weights must be positive")
    weighted = any(w != 1.0 for w in weights)
    fingerprint: dict[str, Any] = {
        "mode": "finetune",
        "base": base.sha256,
        "epochs": config.epochs,
        "new": None
        if new is None
        else hashlib.sha256(bytes(map(bool, new))).hexdigest(),
    }
    if weighted:  # only then: unweighted runs keep their checkpoints' fingerprint
        fingerprint["weights"] = hashlib.sha256(
            repr(weights).encode("utf-8")
        ).hexdigest()
    run = run_start(
        samples,
        label_of,
        labels,
        config,
        work_dir,
        progress,
        log_dir,
        fingerprint=fingerprint,
        validate_on=new,
    )
    if weighted:
        run.sample_weights = torch.tensor(weights, dtype=torch.float32)
    spec = bundle_backbone(base) if base.image_head is not None else None
    fitted = branches_and_fusion(
        run,
        lambda: _finetune_text(run, samples, base),
        lambda: train_sparse_branch(run, samples) if config.sparse_text else None,
        lambda: train_sentence_branch(run, samples) if config.sentence_text else None,
        lambda: (
            _finetune_image(run, samples, base, spec, feature_cache)
            if spec is not None
            else None
        ),
    )
    text, image = fitted.text, fitted.image
    fusion = fitted.fusion.as_metadata()

    head, head_config, provenance, backbone_state = None, None, None, None
    linear_head = None
    if image is not None:
        head, head_config = image.head, image.head_config
        provenance, backbone_state = image.provenance, image.backbone_state
        linear_head = image.linear.head if image.linear is not None else None
    elif spec is not None:
        run.warnings.append(
            "too few photos to fine-tune on: the image head was kept as it was "
            "(new categories get no image evidence), with the previous fusion weight"
        )
        head, carried = _carried_image_head(base, spec, labels)
        head_config, provenance = carried["config"], carried["provenance"]
        backbone_state = base.backbone_state_dict
        fusion = _with_carried_image(fusion, base.fusion)
        if base.image_linear_head is not None:
            linear_head = base.image_linear_head.resized(labels)
    lineage = {
        **run_lineage(run, samples, label_of, text, image),
        "mode": "finetune",
        "n_new": len(samples) if new is None else sum(map(bool, new)),
        "base_sha256": base.sha256,
        "base_labels": list(base.labels),
    }
    if weighted:
        lineage["weighted_samples"] = sum(w != 1.0 for w in weights)
        lineage["max_sample_weight"] = max(weights)
    run.timings["total_s"] = time.perf_counter() - started
    base_config = base.metadata.get("training", {}).get("config", {})
    trained = {
        key: getattr(config, key)
        for key in (
            "epochs",
            "batch_size",
            "lr",
            "patience",
            "seed",
            "val_fraction",
            "feature_batch_size",
            "device",
            "num_threads",
        )
    }
    return TrainingResult(
        labels=labels,
        tokenizer=text.tokenizer,
        text_net=text.net,
        text_net_config=text.net_config,
        image_head=head,
        image_head_config=head_config,
        backbone_provenance=provenance,
        backbone_state_dict=backbone_state,
        fusion_weight=text_share(fusion["weights"]),
        fusion=fusion,
        sparse_text=fitted.sparse.model if fitted.sparse else None,
        sentence_head=fitted.sentence.head if fitted.sentence else None,
        sentence_provenance=fitted.sentence.provenance if fitted.sentence else None,
        image_linear_head=linear_head,
        metrics=fitted.metrics,
        lineage=lineage,
        preprocessing=dict(base.metadata["preprocessing"]),
        config={**base_config, **trained, "finetuned_from": base.sha256},
        history=run.history,
        warnings=run.warnings,
        timings=run.timings,
    )
