"""The pure machine-learning core of the product categoriser: PyTorch, torchvision,
transformers/tokenizers, numpy, PIL and scikit-learn, never Django (an import-linter
contract and ``tests/ml/core/test_no_django.py`` check it). Usable from a plain Python
process: training scripts, Celery workers, notebooks, benchmarks.

Modules, in the order a model goes through them:

* :mod:`~ml.core.errors` -- the domain errors that cross the boundary (no torch ones).
* :mod:`~ml.core.transforms` -- text cleaning, tokenizer, image decoding and transform,
  versioned by ``TRANSFORMS_VERSION`` (stored in each bundle, checked on load).
* :mod:`~ml.core.data` -- samples, stratified split, replay sample, dataset hash.
* :mod:`~ml.core.features` -- on-disk image-feature cache and batched extraction.
* :mod:`~ml.core.feature_store` -- memmap-sharded feature store for large photo sets.
* :mod:`~ml.core.networks` -- the text network (embedding + BiGRU) and the image head.
* :mod:`~ml.core.backbones` -- frozen VGG16 / EfficientNet-Lite0 feature extractors.
* :mod:`~ml.core.config` -- ``TrainingConfig`` (in) and ``TrainingResult`` (out).
* :mod:`~ml.core.checkpoints` -- stage fingerprints, atomic saves, resumable state.
* :mod:`~ml.core.engine` -- ``train_one_epoch``, ``evaluate``, ``fit`` (early stopping).
* :mod:`~ml.core.distributed` -- torchrun / DDP helpers; ``distributed_train`` runs
  ``train_model`` from a CSV in one process or several.
* :mod:`~ml.core.sparse` -- the TF-IDF + linear SVM text branch.
* :mod:`~ml.core.sentence` -- the frozen sentence encoder and its linear head.
* :mod:`~ml.core.branches` -- the run, the BiGRU and image branches, out-of-fold fits.
* :mod:`~ml.core.linear_branches` -- the TF-IDF and sentence branches, on bounded rows.
* :mod:`~ml.core.pipeline` -- ``train_model``: split, every branch, fusion, metrics.
* :mod:`~ml.core.finetune` -- ``finetune_model``: a bundle's heads on new products.
* :mod:`~ml.core.fusion` -- N-way late fusion of the branches' probabilities.
* :mod:`~ml.core.calibration` -- temperature scaling and the calibration error.
* :mod:`~ml.core.ensemble` -- the fusion stage: temperatures, weights, honest figures.
* :mod:`~ml.core.metrics` -- weighted F1, accuracy, per-class metrics.
* :mod:`~ml.core.bundles` -- immutable, content-addressed, hash-checked model bundles.
* :mod:`~ml.core.inference` -- the thread-safe, cached ``Predictor``.
* :mod:`~ml.core.evaluation` -- scoring a bundle on labelled items.
"""
