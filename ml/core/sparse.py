"""The sparse linear text branch: TF-IDF n-grams into a linear SVM.

Features (scikit-learn ``TfidfVectorizer``, sublinear tf, on the cleaned text that
the other branches read):

* ``words``: word 1-2-grams of title + description;
* ``chars``: character 2-5-grams (within word boundaries) of title + description,
  seen in at least two training products;
* ``title``: character 1-5-grams of the title alone (a title says more than the
  description: it gets its own, separately normalised features).

The classifier is ``LinearSVC`` (squared hinge, balanced class weights). Its margins
are the branch's logits: the fusion turns them into probabilities with a temperature
fitted on held-out rows (:mod:`ml.core.calibration`). Character n-grams survive
misspellings, OCR noise and languages a small subword vocabulary covers badly, and
their errors differ from the BiGRU's.

A fitted model is stored without pickle: the vocabularies and settings as JSON, the
idf vectors and the weights as tensors (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from ml.core.errors import TrainingDataError
from ml.core.transforms import clean_text, product_text

__all__ = [
    "SPARSE_DEFAULTS",
    "SparseTextModel",
    "fit_sparse",
    "sparse_inputs",
]

#: The branch's settings (stored in the bundle with the fitted model).
SPARSE_DEFAULTS: dict[str, Any] = {
    "words": {"ngram_range": [1, 2], "min_df": 1},
    "chars": {"ngram_range": [2, 5], "min_df": 2},
    "title": {"ngram_range": [1, 5], "min_df": 2},
    "C": 0.5,
}
_ANALYZER = {"words": "word", "chars": "char_wb", "title": "char_wb"}
#: Products turned into one sparse matrix at a time when scoring: the document-term
#: matrix of a whole catalogue would grow with it.
_SCORE_CHUNK = 4096


def sparse_inputs(title: str | None, description: str | None) -> dict[str, str]:
    """What each vectoriser reads: the cleaned product text (as the BiGRU reads it),
    and the cleaned title."""
    text = product_text(title, description)
    return {"words": text, "chars": text, "title": clean_text(title)}


def _vectorizer(name: str, settings: dict[str, Any]) -> TfidfVectorizer:
    low, high = settings["ngram_range"]
    return TfidfVectorizer(
        analyzer=_ANALYZER[name],
        ngram_range=(int(low), int(high)),
        min_df=int(settings["min_df"]),
        sublinear_tf=True,
        dtype=np.float32,
    )


@dataclass
class SparseTextModel:
    """A fitted sparse branch: one vectoriser per input and the linear weights."""

    settings: dict[str, Any]
    labels: list[str]
    vectorizers: dict[str, TfidfVectorizer]
    coef: np.ndarray  # [n_features, n_classes], float32
    intercept: np.ndarray  # [n_classes]

    def features(self, inputs: Sequence[dict[str, str]]) -> scipy.sparse.csr_matrix:
        blocks = [
            vectorizer.transform([row[name] for row in inputs])
            for name, vectorizer in self.vectorizers.items()
        ]
        return scipy.sparse.hstack(blocks, format="csr", dtype=np.float32)

    def logits(self, inputs: Sequence[dict[str, str]]) -> torch.Tensor:
        """The SVM margins ``[N, C]`` of each product's inputs."""
        out = torch.zeros(len(inputs), len(self.labels))
        for start in range(0, len(inputs), _SCORE_CHUNK):
            chunk = inputs[start : start + _SCORE_CHUNK]
            scores = self.features(chunk) @ self.coef + self.intercept
            out[start : start + len(chunk)] = torch.from_numpy(
                np.asarray(scores, dtype=np.float32)
            )
        return out

    # ------------------------------------------------------------ storage
    def to_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """JSON-ready description (settings, labels, vocabularies) and tensors."""
        description = {
            "settings": self.settings,
            "labels": self.labels,
            # a list, in feature order (JSON objects may be re-ordered)
            "vocabularies": [
                [name, sorted(v.vocabulary_, key=v.vocabulary_.__getitem__)]
                for name, v in self.vectorizers.items()
            ],
        }
        tensors = {
            **{
                f"idf.{name}": torch.from_numpy(v.idf_.astype(np.float32))
                for name, v in self.vectorizers.items()
            },
            "coef": torch.from_numpy(self.coef),
            "intercept": torch.from_numpy(self.intercept),
        }
        return description, tensors

    @classmethod
    def from_state(
        cls, description: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> SparseTextModel:
        """Rebuild a model :meth:`to_state` described (raises ``ValueError`` /
        ``KeyError`` when the parts do not fit)."""
        settings = description["settings"]
        vectorizers = {}
        for name, terms in description["vocabularies"]:
            vectorizer = _vectorizer(name, settings[name])
            vectorizer.vocabulary_ = {term: i for i, term in enumerate(terms)}
            vectorizer.fixed_vocabulary_ = True
            idf = tensors[f"idf.{name}"].numpy().astype(np.float64)
            if idf.shape != (len(terms),):
                raise ValueError(f"idf.{name} does not fit its vocabulary")
            vectorizer.idf_ = idf
            vectorizers[name] = vectorizer
        coef = tensors["coef"].numpy()
        n_features = sum(len(terms) for _, terms in description["vocabularies"])
        labels = list(description["labels"])
        if coef.shape != (n_features, len(labels)):
            raise ValueError("the sparse weights do not fit the vocabularies")
        return cls(
            settings=settings,
            labels=labels,
            vectorizers=vectorizers,
            coef=coef,
            intercept=tensors["intercept"].numpy(),
        )


def fit_sparse(
    inputs: Sequence[dict[str, str]],
    y: Sequence[int],
    labels: Sequence[str],
    *,
    settings: dict[str, Any] | None = None,
    seed: int = 0,
) -> SparseTextModel:
    """Fit the vectorisers and the SVM on ``inputs`` (see :func:`sparse_inputs`) with
    class indices ``y`` into ``labels``. Classes without rows get a margin of -1
    everywhere (the SVM's "not this class")."""
    settings = {**SPARSE_DEFAULTS, **(settings or {})}
    vectorizers = {
        name: _vectorizer(name, settings[name]) for name in ("words", "chars", "title")
    }
    blocks = []
    for name in list(vectorizers):
        column = [row[name] for row in inputs]
        for min_df in (settings[name]["min_df"], 1):
            vectorizers[name] = _vectorizer(name, {**settings[name], "min_df": min_df})
            try:
                blocks.append(vectorizers[name].fit_transform(column))
                break
            except ValueError:  # empty vocabulary: too few (or too short) texts
                continue
        else:
            del vectorizers[name]  # nothing to learn from this input
    if not blocks:
        raise TrainingDataError("the texts have no word or character n-gram to learn")
    matrix = scipy.sparse.hstack(blocks, format="csr", dtype=np.float32)
    y_array = np.asarray(y, dtype=np.int64)
    present = np.unique(y_array)
    coef = np.zeros((matrix.shape[1], len(labels)), dtype=np.float32)
    intercept = np.full(len(labels), -1.0, dtype=np.float32)
    if len(present) == 1:  # one class: it wins everywhere
        intercept[present[0]] = 1.0
    else:
        svm = LinearSVC(
            C=float(settings["C"]), class_weight="balanced", random_state=seed
        )
        svm.fit(matrix, y_array)
        classes = svm.classes_
        if len(classes) == 2:  # binary: one margin, the second class positive
            coef[:, classes[1]] = svm.coef_[0]
            coef[:, classes[0]] = -svm.coef_[0]
            intercept[classes[1]] = svm.intercept_[0]
            intercept[classes[0]] = -svm.intercept_[0]
        else:
            coef[:, classes] = svm.coef_.T
            intercept[classes] = svm.intercept_
    return SparseTextModel(
        settings=settings,
        labels=list(labels),
        vectorizers=vectorizers,
        coef=coef,
        intercept=intercept,
    )
