"""Pure-PyTorch machine-learning core of the rakuten product categoriser.

Nothing in this package imports Django: it is usable from a plain Python
process (training scripts, Celery workers, notebooks, tests).

Modules:

* :mod:`ml.errors` -- domain exceptions raised by the public functions.
* :mod:`ml.preprocessing` -- text cleaning, tokenizer, image decoding/transform.
* :mod:`ml.nets` -- text classifier (embedding + bi-GRU) and image head.
* :mod:`ml.backbones` -- frozen convolutional feature extractors.
* :mod:`ml.features` -- on-disk feature cache and batched feature extraction.
* :mod:`ml.datasets` -- samples, stratified split, dataset lineage hash.
* :mod:`ml.metrics` -- weighted F1 / accuracy / per-class metrics.
* :mod:`ml.fusion` -- late fusion of the text and image probabilities.
* :mod:`ml.training` -- training loop producing a :class:`TrainingResult`.
* :mod:`ml.bundles` -- immutable, content-addressed model bundles.
* :mod:`ml.inference` -- thread-safe, cached :class:`Predictor`.
"""
