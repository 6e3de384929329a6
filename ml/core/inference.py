"""Serving: a thread-safe :class:`Predictor` per bundle, cached by sha256.

A predictor verifies and loads its bundle on first use (or :meth:`Predictor.load`),
rebuilds the backbone the bundle was trained with and checks that its weights
hash equals the recorded one, so serving computes the same image features as
training. Text and photo go through the same preprocessing functions as in
training.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ml.core.backbones import pooled
from ml.core.bundles import LoadedBundle, bundle_backbone, load_bundle
from ml.core.calibration import apply_temperature
from ml.core.errors import (
    EmptyInputError,
    MLError,
)
from ml.core.fusion import IMAGE_BRANCHES, fuse, shares
from ml.core.sentence import embed
from ml.core.sparse import sparse_inputs
from ml.core.transforms import (
    IMAGE_SIZE,
    ImageSource,
    encode_texts,
    image_tensor,
    open_image,
    product_text,
)

__all__ = [
    "PredictionResult",
    "Predictor",
    "get_predictor",
    "clear_predictor_cache",
]

Scored = tuple[str, float]


@dataclass(frozen=True)
class PredictionResult:
    """Outcome of one prediction.

    Attributes:
        top: the ``top_k`` (label, probability) pairs, most probable first.
        text_probs / image_probs: every label's probability from each branch,
            ``None`` when the branch was not used.
        branch_top: best (label, calibrated probability) of each branch of the
            bundle (``"text"``: the BiGRU, ``"tfidf"``, ``"sentence"``, ``"image"``,
            ``"image_linear"``), ``None`` where it could not see the product.
        shares: each branch's share of this product's fusion (the bundle's weights
            over the branches the product has, renormalised; 0.0 for the others).
        used: ``"text"``, ``"image"`` or ``"text+image"``: the inputs used.
        latency_ms: wall time of the call (per item share for batches).
        bundle_sha256: the bundle that made the prediction.
    """

    top: list[Scored]
    text_probs: dict[str, float] | None
    image_probs: dict[str, float] | None
    branch_top: dict[str, Scored | None]
    used: str
    latency_ms: float
    bundle_sha256: str
    shares: dict[str, float] = field(default_factory=dict)


def _optimized(module: nn.Module) -> nn.Module:
    """Return a frozen TorchScript version of ``module`` if it is equivalent.

    ``optimize_for_inference`` folds and fuses the convolutions for oneDNN. On
    the 2-core CPU, text+photo p50 went from 323 to 227 ms with vgg16 and from
    70 to 40 ms with efficientnet_lite0. Its output is compared with eager mode
    on a random batch; on any difference or error the eager module is kept.
    """
    example = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            scripted = torch.jit.optimize_for_inference(
                torch.jit.trace(module, example)
            )
            expected, got = module(example), scripted(example)
            for _ in range(2):  # warm up the single-image shape used when serving
                scripted(example[:1])
    except Exception:  # TorchScript is optional: any failure keeps eager mode
        return module
    if got.shape != expected.shape or not torch.allclose(
        got, expected, rtol=1e-3, atol=1e-4
    ):
        return module
    return scripted


class Predictor:
    """Predict categories with one bundle; safe to share between threads.

    Args:
        bundle_path: the bundle folder.
        sha256: expected bundle hash (checked on load), or ``None`` to trust
            the folder name.
        optimize_backbone: trace the backbone with TorchScript for speed (the
            result is checked against eager mode; falls back automatically).
        calibrated: apply the bundle's temperatures (the default, what is served);
            ``False`` measures the uncalibrated fusion (``bench/quality.py``).
        quantize: int8 dynamic quantisation of the BiGRU's GRU and linear layers
            (``torch.ao``): faster on CPU, at a small cost in accuracy measured by
            ``bench/batch.py``; the batch engine's option (``BATCH_QUANTIZE``).
    """

    def __init__(
        self,
        bundle_path: str | Path,
        sha256: str | None = None,
        *,
        optimize_backbone: bool = True,
        calibrated: bool = True,
        quantize: bool = False,
    ) -> None:
        self.bundle_path = Path(bundle_path)
        self.calibrated = calibrated
        self.quantize = quantize
        self._text_net: nn.Module | None = None
        self.sha256 = sha256
        self.optimize_backbone = optimize_backbone
        self._lock = threading.Lock()
        self._bundle: LoadedBundle | None = None
        self._backbone: nn.Module | None = None

    @property
    def loaded(self) -> bool:
        return self._bundle is not None

    @property
    def bundle(self) -> LoadedBundle:
        """The loaded bundle (loads it if needed)."""
        self.load()
        assert self._bundle is not None
        return self._bundle

    @property
    def labels(self) -> list[str]:
        return self.bundle.labels

    def load(self) -> None:
        """Verify and load the bundle and its backbone (once; thread-safe).

        Raises:
            BundleIntegrityError: the bundle fails verification, or the
                backbone available here differs from the one it was trained with.
            PretrainedWeightsUnavailableError: the backbone weights are missing.
        """
        if self._bundle is not None:
            return
        with self._lock:
            if self._bundle is not None:
                return
            bundle = load_bundle(self.bundle_path, expected_sha256=self.sha256)
            backbone = self._load_backbone(bundle) if bundle.image_head else None
            if bundle.sentence_head is not None:
                embed(["warm up"])  # loads the sentence encoder's weights once
            self._backbone = backbone
            self._text_net = (
                _quantized(bundle.text_net) if self.quantize else bundle.text_net
            )
            self.sha256 = bundle.sha256
            self._bundle = bundle

    def _load_backbone(self, bundle: LoadedBundle) -> nn.Module:
        module = bundle_backbone(bundle).module
        return _optimized(module) if self.optimize_backbone else module

    # ---------------------------------------------------------------- predicting
    def predict(
        self,
        *,
        title: str | None,
        description: str | None = None,
        image: ImageSource = None,
        top_k: int = 3,
        all_branches: bool = False,
    ) -> PredictionResult:
        """Predict the category of one product (``all_branches``: see
        :meth:`predict_batch`).

        Raises:
            InvalidImageError: ``image`` is given but cannot be decoded.
            EmptyInputError: no text and no usable photo.
            BundleIntegrityError / PretrainedWeightsUnavailableError: on load.
        """
        started = time.perf_counter()
        item = {"title": title, "description": description, "image": image}
        result = self._predict_many([item], top_k, all_branches=all_branches)[0]
        latency = (time.perf_counter() - started) * 1000.0
        return _with_latency(result, latency)

    def predict_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        top_k: int = 3,
        *,
        all_branches: bool = False,
    ) -> list[PredictionResult]:
        """Predict many products at once (mappings with ``title``,
        ``description`` and ``image`` keys); ``latency_ms`` is the per-item share.

        A text branch whose fusion weight is 0 cannot change the result while
        another text branch weighs more, so it is not computed (its ``branch_top``
        is ``None``); ``all_branches=True`` computes it anyway (evaluation scores
        every branch).

        Raises the same errors as :meth:`predict`; the message names the item.
        """
        started = time.perf_counter()
        results = self._predict_many(items, top_k, all_branches=all_branches)
        share = (time.perf_counter() - started) * 1000.0 / max(len(items), 1)
        return [_with_latency(result, share) for result in results]

    def _predict_many(
        self,
        items: Sequence[Mapping[str, Any]],
        top_k: int,
        *,
        all_branches: bool = False,
    ) -> list[PredictionResult]:
        bundle = self.bundle
        skipped = set() if all_branches else _unweighted_text_branches(bundle.fusion)
        texts = [product_text(i.get("title"), i.get("description")) for i in items]
        images = []
        for index, item in enumerate(items):
            img = None
            if bundle.image_head is not None:  # a text-only bundle ignores photos
                try:
                    img = open_image(item.get("image"))
                except MLError as exc:
                    raise type(exc)(f"item {index}: {exc}") from exc
            images.append(img)
        has_text = torch.tensor([bool(text) for text in texts], dtype=torch.bool)
        has_image = torch.tensor([img is not None for img in images], dtype=torch.bool)
        for index, (text_ok, image_ok) in enumerate(
            zip(has_text, has_image, strict=True)
        ):
            if not text_ok and not image_ok:
                raise EmptyInputError(
                    f"item {index}: the product has no text and no usable photo"
                )
        try:
            with torch.inference_mode():
                probs = self._branch_probs(
                    bundle, items, texts, images, has_text, skipped
                )
        except RuntimeError as exc:
            raise MLError(f"prediction failed: {exc}") from exc
        fusion = self._fusion(bundle)
        nothing = torch.zeros_like(has_text)
        available = {
            name: nothing
            if name in skipped
            else (has_image if name in IMAGE_BRANCHES else has_text)
            for name in probs
        }
        fused = apply_temperature(
            fuse(probs, available, fusion["weights"]), fusion["fused_temperature"]
        )
        return [
            self._result(
                fused[i],
                {name: p[i] for name, p in probs.items()},
                {name: bool(a[i]) for name, a in available.items()},
                top_k,
            )
            for i in range(len(items))
        ]

    def _fusion(self, bundle: LoadedBundle) -> dict[str, Any]:
        fusion = bundle.fusion
        if self.calibrated:
            return fusion
        return {
            **fusion,
            "temperatures": dict.fromkeys(fusion["branches"], 1.0),
            "fused_temperature": 1.0,
        }

    def _branch_probs(
        self,
        bundle: LoadedBundle,
        items: Sequence[Mapping[str, Any]],
        texts: list[str],
        images: list[Any],
        has_text: torch.Tensor,
        skipped: set[str],
    ) -> dict[str, torch.Tensor]:
        """Each branch's calibrated probabilities ``[N, C]`` (zero rows where the
        branch cannot see the product), in the bundle's branch order."""
        temperature = self._fusion(bundle)["temperatures"]
        n_classes = len(bundle.labels)
        text_rows = has_text.nonzero().flatten().tolist()
        probs: dict[str, torch.Tensor] = {}
        image_rows = [i for i, img in enumerate(images) if img is not None]
        features: torch.Tensor | None = None  # the backbone's, on image_rows
        # numpy branches first: torch's OpenMP threads spin for a while after its
        # parallel regions, which slows BLAS calls made right after them
        order = sorted(
            bundle.fusion["branches"], key=lambda n: n not in ("tfidf", "sentence")
        )
        for name in order:
            p = torch.zeros(len(items), n_classes)
            if name in skipped:
                probs[name] = p
                continue
            if name == "text" and text_rows:
                ids = encode_texts(
                    bundle.tokenizer,
                    [texts[i] for i in text_rows],
                    max_length=bundle.max_length,
                )
                assert self._text_net is not None
                p[text_rows] = apply_temperature(
                    _by_length(self._text_net, ids, bundle.tokenizer.pad_token_id),
                    temperature["text"],
                )
            elif name == "tfidf" and text_rows:
                assert bundle.sparse_text is not None
                inputs = [
                    sparse_inputs(items[i].get("title"), items[i].get("description"))
                    for i in text_rows
                ]
                p[text_rows] = apply_temperature(
                    bundle.sparse_text.logits(inputs), temperature["tfidf"], logits=True
                )
            elif name == "sentence" and text_rows:
                assert bundle.sentence_head is not None
                embeddings = embed([texts[i] for i in text_rows])
                p[text_rows] = apply_temperature(
                    bundle.sentence_head.logits(embeddings),
                    temperature["sentence"],
                    logits=True,
                )
            elif name in IMAGE_BRANCHES and image_rows:
                if features is None:  # once for both image branches
                    features = self._image_features([images[i] for i in image_rows])
                if name == "image":
                    assert bundle.image_head is not None
                    p[image_rows] = apply_temperature(
                        bundle.image_head(features).softmax(dim=-1),
                        temperature["image"],
                    )
                else:
                    assert bundle.image_linear_head is not None
                    p[image_rows] = apply_temperature(
                        bundle.image_linear_head.logits(pooled(features).numpy()),
                        temperature["image_linear"],
                        logits=True,
                    )
            probs[name] = p
        return {name: probs[name] for name in bundle.fusion["branches"]}

    def _image_features(self, images: list[Any]) -> torch.Tensor:
        """The backbone's features ``[N, D]`` of decoded photos, 16 at a time."""
        assert self._backbone is not None
        parts = [images[start : start + 16] for start in range(0, len(images), 16)]
        stack = torch.stack  # one batch of pixels at a time
        return torch.cat(
            [self._backbone(stack([image_tensor(i) for i in part])) for part in parts]
        )

    def _result(
        self,
        fused: torch.Tensor,
        probs: dict[str, torch.Tensor],
        available: dict[str, bool],
        top_k: int,
    ) -> PredictionResult:
        labels = self.bundle.labels
        has_text = any(
            ok for name, ok in available.items() if name not in IMAGE_BRANCHES
        )
        has_image = any(available.get(name, False) for name in IMAGE_BRANCHES)
        used = "+".join(
            name for name, ok in (("text", has_text), ("image", has_image)) if ok
        )
        return PredictionResult(
            top=_ranked(labels, fused)[: max(top_k, 1)],
            text_probs=_as_dict(labels, probs["text"]) if available["text"] else None,
            image_probs=_as_dict(labels, probs["image"]) if has_image else None,
            branch_top={
                name: _ranked(labels, p)[0] if available[name] else None
                for name, p in probs.items()
            },
            used=used,
            latency_ms=0.0,
            bundle_sha256=self.bundle.sha256,
            shares=shares(self.bundle.fusion["weights"], available),
        )


_TEXT_BRANCHES = ("text", "tfidf", "sentence")
#: Rows per forward pass of the BiGRU, taken in order of length (see _by_length).
TEXT_BUCKET = 64


def _by_length(net: nn.Module, ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The BiGRU's probabilities ``[N, C]`` for token ids ``[N, L]``, computed in
    buckets of ``TEXT_BUCKET`` rows of similar length. The network runs only as many
    steps as its longest row (and masks the pads), so a bucket of short texts costs
    less than a mixed batch padded to the longest; the result is the same."""
    lengths = (ids != pad_id).sum(dim=1)
    order = torch.argsort(lengths, stable=True)
    out: torch.Tensor | None = None
    for start in range(0, len(order), TEXT_BUCKET):
        rows = order[start : start + TEXT_BUCKET]
        probs = net(ids[rows]).softmax(dim=-1)
        if out is None:
            out = torch.empty(len(order), probs.shape[1], dtype=probs.dtype)
        out[rows] = probs
    assert out is not None
    return out


def _quantized(net: nn.Module) -> nn.Module:
    """``net`` with its GRU and linear layers quantised to int8 (dynamic: weights
    int8, activations quantised on the fly); a copy, the bundle's net is kept."""
    import copy

    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices
        return quantize_dynamic(
            copy.deepcopy(net), {nn.GRU, nn.Linear}, dtype=torch.qint8
        )


def _unweighted_text_branches(fusion: Mapping[str, Any]) -> set[str]:
    """Text branches of weight 0 beside a text branch that weighs more: they cannot
    change a fused probability (every row that has text has that other branch)."""
    weights = fusion["weights"]
    text = [name for name in fusion["branches"] if name in _TEXT_BRANCHES]
    if not any(float(weights[name]) > 0 for name in text):
        return set()
    return {name for name in text if float(weights[name]) == 0.0}


def _as_dict(labels: list[str], probs: torch.Tensor) -> dict[str, float]:
    return {label: float(p) for label, p in zip(labels, probs.tolist(), strict=True)}


def _ranked(labels: list[str], probs: torch.Tensor) -> list[Scored]:
    values = probs.tolist()
    order = sorted(range(len(labels)), key=lambda i: (-values[i], i))
    return [(labels[i], float(values[i])) for i in order]


def _with_latency(result: PredictionResult, latency_ms: float) -> PredictionResult:
    return replace(result, latency_ms=latency_ms)


# ------------------------------------------------------------- process-wide cache
_PREDICTORS: dict[str, Predictor] = {}
_PREDICTORS_LOCK = threading.Lock()


def get_predictor(
    bundle_path: str | Path, sha256: str, *, quantize: bool = False
) -> Predictor:
    """Return the process-wide :class:`Predictor` of bundle ``sha256`` (its int8
    variant with ``quantize``).

    The first call creates it (it loads lazily, once); later calls with the
    same hash return the same object. Thread-safe.
    """
    key = f"{sha256}:int8" if quantize else sha256
    with _PREDICTORS_LOCK:
        predictor = _PREDICTORS.get(key)
        if predictor is None:
            predictor = Predictor(bundle_path, sha256, quantize=quantize)
            _PREDICTORS[key] = predictor
        return predictor


def clear_predictor_cache() -> None:
    """Forget every cached predictor (tests, or after deleting bundles)."""
    with _PREDICTORS_LOCK:
        _PREDICTORS.clear()
