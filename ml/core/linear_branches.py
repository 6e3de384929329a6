"""The linear text branches of a training run: TF-IDF n-grams into a linear SVM, and
a logistic regression on the frozen sentence encoder's embeddings.

Both are fitted out of fold (their margins on every training row fit the fusion's
temperatures and weights), then on every training product with text, up to
``TrainingConfig.linear_max_rows``: a stratified sample of that many rows
(:func:`ml.core.data.bounded_rows`, the same rows for both branches). Their memory
grows with the rows they are fitted on (the document-term matrix and liblinear's
copy of it; the embeddings and scikit-learn's float64 copy of them), whereas the
networks stream their inputs; on the specification's 85,000 products the linear
fits were most of training's memory. Rows outside the sample get the sampled fit's
margins, which are out of fold for them; their embeddings are computed a chunk at a
time and not kept.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ml.core.branches import Run, bounded_input_rows, fit_linear, out_of_fold
from ml.core.data import Sample
from ml.core.errors import TrainingDataError
from ml.core.sentence import SentenceHead, embed, encoder_provenance
from ml.core.sparse import SparseTextModel, fit_sparse, sparse_inputs
from ml.core.transforms import product_text

__all__ = [
    "SentenceBranch",
    "SparseBranch",
    "train_sentence_branch",
    "train_sparse_branch",
]


@dataclass
class SparseBranch:
    model: SparseTextModel  # fitted on every sample (what the bundle keeps)
    has_text: torch.Tensor  # per sample
    # [n_fusion, C]: margins of a fit without those rows (zero when ``oof`` is set)
    logits_val: torch.Tensor
    oof: torch.Tensor | None = None  # [N, C] out-of-fold margins (``stack_rows``)
    n_fit: int = 0  # rows ``model`` was fitted on (``linear_max_rows`` bounds them)


@dataclass
class SentenceBranch:
    head: SentenceHead  # fitted on every sample with text
    provenance: dict[str, Any]  # the frozen encoder's
    has_text: torch.Tensor  # per sample
    # [n_fusion, C]: a head fitted without those rows (zero when ``oof`` is set)
    logits_val: torch.Tensor
    oof: torch.Tensor | None = None  # [N, C] out-of-fold margins (``stack_rows``)
    n_fit: int = 0  # rows ``head`` was fitted on (``linear_max_rows`` bounds them)


def _require_text(run: Run, has_text: torch.Tensor) -> None:
    """The text branches need products with text in train and in validation."""
    if not any(has_text[i] for i in run.train_idx) or not any(
        has_text[i] for i in run.fusion_idx
    ):
        raise TrainingDataError("training needs products with text in train and val")


def train_sparse_branch(run: Run, samples: Sequence[Sample]) -> SparseBranch:
    """Fit the sparse branch out of fold (or without the fusion rows): its margins
    there fit the temperature and the weights; then on every sample with text, up
    to ``linear_max_rows`` (the model the bundle keeps: a linear model gains from
    every row and needs no early stopping). Seconds on thousands of products."""
    started = time.perf_counter()
    inputs = [sparse_inputs(sample.title, sample.description) for sample in samples]
    has_text = torch.tensor([bool(row["chars"]) for row in inputs], dtype=torch.bool)
    _require_text(run, has_text)
    held = set(run.fusion_idx)
    y = run.y.tolist()
    with_text, all_rows = bounded_input_rows(run, has_text)
    fit_rows = [i for i in all_rows if i not in held]

    def fitted(rows: list[int]) -> SparseTextModel:
        return fit_sparse(
            [inputs[i] for i in rows],
            [y[i] for i in rows],
            run.labels,
            seed=run.config.seed,
        )

    oof = out_of_fold(
        run,
        all_rows,
        lambda fit, held: fitted(fit).logits([inputs[i] for i in held]),
    )
    logits_val = torch.zeros(len(run.fusion_idx), len(run.labels))
    if fit_rows and oof is None:  # out-of-fold margins replace the held-out fit's
        partial = fitted(fit_rows)
        rows = [k for k, i in enumerate(run.fusion_idx) if has_text[i]]
        if rows:
            logits_val[rows] = partial.logits([inputs[run.fusion_idx[k]] for k in rows])
    model = fitted(all_rows)
    unseen = sorted(set(with_text) - set(all_rows))  # outside a bounded sample
    if oof is not None and unseen:
        oof[unseen] = model.logits([inputs[i] for i in unseen])
    run.timings["tfidf_s"] = time.perf_counter() - started
    return SparseBranch(model, has_text, logits_val, oof, n_fit=len(all_rows))


def train_sentence_branch(run: Run, samples: Sequence[Sample]) -> SentenceBranch:
    """The frozen sentence encoder's embeddings and a linear head on them
    (:func:`ml.core.branches.fit_linear`: out of fold, then on the bounded sample
    of rows with text, as the sparse branch)."""
    started = time.perf_counter()
    provenance = encoder_provenance()
    texts = [product_text(sample.title, sample.description) for sample in samples]
    has_text = torch.tensor([bool(text) for text in texts], dtype=torch.bool)
    _require_text(run, has_text)
    fitted = fit_linear(run, has_text, lambda rows: embed([texts[i] for i in rows]))
    run.timings["sentence_s"] = time.perf_counter() - started
    return SentenceBranch(
        fitted.head,
        provenance,
        has_text,
        fitted.logits_val,
        fitted.oof,
        n_fit=fitted.n_fit,
    )
