"""Domain exceptions of the ML core.

The public functions of :mod:`ml.core.inference`, :mod:`ml.core.bundles`,
:mod:`ml.core.backbones` and :mod:`ml.core.pipeline` raise these instead of letting
torch / PIL / tokenizers exceptions leak, so callers (views, tasks) can map
them to user-facing messages.
"""

from __future__ import annotations

import pickle
import struct

__all__ = [
    "TORCH_LOAD_ERRORS",
    "MLError",
    "InvalidImageError",
    "EmptyInputError",
    "BundleIntegrityError",
    "PretrainedWeightsUnavailableError",
    "TrainingDataError",
    "DistributedTrainingError",
]


class MLError(Exception):
    """Base class of every error raised on purpose by the ML core."""


class InvalidImageError(MLError, ValueError):
    """Image data that cannot be read or decoded (corrupt, empty, not an image)."""


class EmptyInputError(MLError, ValueError):
    """A prediction was requested for a product with neither text nor photo."""


class BundleIntegrityError(MLError):
    """A model bundle is incomplete, altered, or does not match its hash."""


class PretrainedWeightsUnavailableError(MLError):
    """Pretrained backbone weights were requested but are not available offline."""


class TrainingDataError(MLError, ValueError):
    """The training data cannot produce a model (too few samples, classes, ...)."""


class DistributedTrainingError(MLError):
    """Training under torchrun (``ml.core.distributed_train``) failed: the message
    is the first failing rank's error, in one line."""


#: What ``torch.load`` raises on a missing, truncated or corrupted file.
TORCH_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    RuntimeError,
    ValueError,
    pickle.UnpicklingError,
    struct.error,
)
