"""What a training run learns from: the confirmed products (minus the evaluation
slice), as the core's samples, with the replay of older products for incremental
runs."""

from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from catalog.models import Category, Product
from ml.models import (
    ModelVersion,
    TrainingRun,
)
from ml.selectors.anomalies import (
    anomaly_product_ids,
    sellers_excluded_from_training,
)
from ml.selectors.model_versions import model_version_get_active

# Confirmed products whose pk falls in this slice are never trained on: the promotion
# gate scores every candidate, and the active model, on them.
EVAL_SLICE_MODULO = 10


# An incremental run replays up to this many older products per new one, and at least
# REPLAY_MIN_PER_LABEL of each label it keeps (so a small category is not forgotten).
REPLAY_FACTOR = 3


REPLAY_MIN_PER_LABEL = 5


@dataclass
class TrainingData:
    """What a run trains on. ``samples`` are core ``Sample`` objects. An incremental
    run with an active model also gets ``base`` (the version it fine-tunes),
    ``labels`` (the label set it will predict) and ``new`` (per sample: confirmed
    since ``base`` was made, rather than replayed)."""

    samples: list
    base: ModelVersion | None = None
    labels: list[str] | None = None
    new: list[bool] | None = None

    @property
    def n_new(self) -> int | None:
        return None if self.new is None else sum(self.new)


def training_samples_confirmed(
    *,
    kind: str = TrainingRun.Kind.FULL,
    exclude_eval_slice: bool = False,
    seed: int = 0,
) -> TrainingData:
    """Products with a confirmed, active category, as core ``Sample`` objects.

    ``full``: all of them. ``incremental``: those confirmed since the active model was
    created, plus a seeded replay sample of older ones (up to ``REPLAY_FACTOR`` times as
    many, topped up to ``REPLAY_MIN_PER_LABEL`` per label) in the label set: the
    active model's labels still active, plus the new products' labels.
    ``exclude_eval_slice`` leaves out the gate's evaluation slice.

    The listings of a seller under an open or excluded label review (the
    label-quality guard) are left out. In an incremental run, an anomaly (the seller
    confirmed another category than the model's first suggestion) gets the weight
    ``ML_ANOMALY_WEIGHT`` (1.0 by default: no weighting)."""
    from ml.core.data import replay_sample

    products = Product.objects.filter(
        category__isnull=False, category__active=True
    ).exclude(seller_id__in=sellers_excluded_from_training())
    if exclude_eval_slice:
        products = products.exclude(pk__in=evaluation_slice_products().values("pk"))
    active = model_version_get_active()
    if kind != TrainingRun.Kind.INCREMENTAL or active is None:
        return TrainingData(samples=_samples(products)[0])
    new = products.filter(confirmed_at__gt=active.created_at)
    new_ids = list(new.order_by("pk").values_list("pk", flat=True))
    active_codes = set(
        Category.objects.filter(active=True).values_list("code", flat=True)
    )
    labels = sorted(
        (set(active.label_codes) & active_codes)
        | set(new.values_list("category__code", flat=True))
    )
    older = list(
        products.exclude(pk__in=new_ids)
        .filter(category__code__in=labels)
        .order_by("pk")
        .values_list("pk", "category__code")
    )
    replay = replay_sample(
        [code for _, code in older],
        REPLAY_FACTOR * len(new_ids),
        min_per_label=REPLAY_MIN_PER_LABEL,
        seed=seed,
    )
    chosen = [older[i][0] for i in replay]
    trained = products.filter(pk__in=[*new_ids, *chosen])
    samples, pks = _samples(trained)
    weight = float(settings.ML_ANOMALY_WEIGHT)
    if weight != 1.0:
        anomalies = anomaly_product_ids(products=trained)
        samples = [
            replace(sample, weight=weight) if pk in anomalies else sample
            for sample, pk in zip(samples, pks, strict=True)
        ]
    is_new = set(new_ids)
    return TrainingData(
        samples=samples,
        base=active,
        labels=labels,
        new=[pk in is_new for pk in pks],
    )


def _samples(products) -> tuple[list, list[int]]:
    """Core ``Sample`` objects of ``products`` in pk order, and their pks."""
    from ml.core.data import Sample

    media = Path(settings.MEDIA_ROOT)
    rows = products.order_by("pk").values_list(
        "pk", "title", "description", "image", "category__code"
    )
    samples = [
        Sample(
            title=title,
            description=description,
            image=(media / image) if image else None,
            label=code,
        )
        for _, title, description, image, code in rows
    ]
    return samples, [row[0] for row in rows]


def evaluation_slice_products():
    """The gate's fixed evaluation slice: confirmed products whose pk is a multiple of
    ``EVAL_SLICE_MODULO`` (deterministic, and stable as the catalogue grows)."""
    from django.db.models.functions import Mod

    return (
        Product.objects.filter(category__isnull=False, category__active=True)
        .annotate(slice_mod=Mod("pk", EVAL_SLICE_MODULO))
        .filter(slice_mod=0)
    )
