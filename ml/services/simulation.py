"""A marketplace replayed through the real services, to watch the self-improving loop
work (``manage.py simulate_marketplace``): an initial model is trained on a first slice
of a labelled catalogue, then the rest arrives in steps as sellers listing products
with the model's suggestions and confirming their true category; after each step the
daily check runs (snapshot, alerts), and an opened alert starts an incremental
retraining that the promotion gate accepts or holds."""

import random
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile

from accounts.models import User
from accounts.services import user_create
from catalog.models import Category, Product
from catalog.services.listings import listing_create
from catalog.services.products import product_create
from ml.models import Alert, ModelActivation, TrainingRun
from ml.selectors.model_versions import model_version_get_active
from ml.services.monitoring import model_monitoring_run
from ml.services.predictions import prediction_create
from ml.services.scheduling import training_run_scheduled_execute
from ml.services.training_runs import training_run_create, training_run_execute
from rakuten.exceptions import ApplicationError

DRIFTS = ("none", "unseen-category", "label-noise")
INITIAL_FRACTION = 0.4
LABEL_NOISE_RATE = 0.3


@dataclass(frozen=True)
class MarketItem:
    title: str
    description: str
    category: str
    image: bytes | None = None
    image_name: str = "photo.jpg"  # its extension tells the photo's format


def marketplace_simulate(
    *,
    items: Sequence[MarketItem],
    steps: int = 5,
    drift: str = "none",
    seed: int = 0,
    epochs: int = 4,
    backbone: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Replay ``items`` on an empty catalogue; returns ``{"steps": [...]}``, one entry
    per step: ``step``, ``active_version``, ``n`` (products listed), ``accuracy`` and
    ``weighted_f1`` of the suggestions made during the step, ``alerts_opened``,
    ``runs`` (retraining runs and their outcome) and ``promotions``.

    ``drift``: ``unseen-category`` keeps one category out of the initial slice (it
    only appears later); ``label-noise`` makes sellers confirm a wrong category for
    30 % of the products of the second half of the steps. ``backbone``: train
    text + image models on that backbone (the items' photos are listed with the
    products); ``None``: text only."""
    from ml.core.metrics import classification_metrics

    say = log or (lambda line: None)
    if drift not in DRIFTS:
        raise ApplicationError(f"Unknown drift {drift!r}: use {', '.join(DRIFTS)}.")
    if steps < 1:
        raise ApplicationError("steps must be at least 1.")
    if Product.objects.exists():
        raise ApplicationError(
            "The catalogue is not empty: run the simulation on a fresh database "
            "(DATABASE_URL=sqlite:///var/simulation.sqlite3, then migrate)."
        )
    rng = random.Random(seed)
    items = list(items)
    rng.shuffle(items)
    categories = {
        code: Category.objects.get_or_create(code=code, defaults={"name": code})[0]
        for code in sorted({item.category for item in items})
    }
    unseen = None
    if drift == "unseen-category":
        unseen = Counter(item.category for item in items).most_common()[-1][0]
    cut = int(len(items) * INITIAL_FRACTION)
    initial = [i for i in items[:cut] if i.category != unseen]
    stream = [i for i in items[:cut] if i.category == unseen] + items[cut:]
    rng.shuffle(stream)

    # The platform before the market opens: an initial catalogue and model.
    for item in initial:
        product_create(
            seller=None,
            title=item.title,
            description=item.description,
            category=categories[item.category],
            image=_photo(item),
        )
    run = training_run_create(
        parameters={
            "text_only": backbone is None,
            "backbone": backbone,
            "epochs": epochs,
            "activate": True,
        },
        enqueue=False,
    )
    run = training_run_execute(run_id=run.pk)
    say(
        f"step 0: {len(initial)} products, initial model {run.model_version} "
        f"(validation weighted F1 {run.model_version.weighted_f1:.3f})"
    )
    seller = User.objects.filter(username="marketplace-simulator").first()
    if seller is None:
        seller = user_create(
            username="marketplace-simulator",
            password=secrets.token_urlsafe(24),
            role=User.Role.SELLER,
            validate=False,
        )

    timeline = []
    size = max(1, -(-len(stream) // steps))
    codes = sorted(categories)
    for step in range(1, steps + 1):
        chunk = stream[(step - 1) * size : step * size]
        noisy = drift == "label-noise" and step > steps // 2
        real, predicted = [], []
        for item in chunk:
            prediction = prediction_create(
                title=item.title,
                description=item.description,
                image=item.image,
                user=seller,
            )
            code = item.category
            if noisy and rng.random() < LABEL_NOISE_RATE:
                code = rng.choice([c for c in codes if c != item.category])
            listing_create(
                seller=seller,
                title=item.title,
                description=item.description,
                category=categories[code],
                image=_photo(item),
                prediction_id=prediction.pk,
            )
            real.append(code)
            predicted.append(prediction.top_k[0]["code"] if prediction.top_k else "")
        activations_before = ModelActivation.objects.count()
        opened = model_monitoring_run(days=settings.ML_METRICS_WINDOW_DAYS)
        runs = []
        if opened:
            retrain = training_run_scheduled_execute(
                kind=TrainingRun.Kind.INCREMENTAL,
                schedule_key=f"simulation:{seed}:{step}:{Alert.objects.count()}",
            )
            version = retrain.model_version
            runs.append(
                {
                    "id": retrain.pk,
                    "kind": retrain.kind,
                    "status": retrain.status,
                    "mode": (version.lineage or {}).get("mode", "scratch")
                    if version
                    else None,
                    "model_version": version.pk if version else None,
                    "gate": (version.gate if version else {}) or {},
                }
            )
        promotions = [
            {"version": a.version_id, "previous": a.previous_id, "reason": a.reason}
            for a in ModelActivation.objects.order_by("id")[activations_before:]
        ]
        metrics = (
            classification_metrics(
                real, predicted, labels=sorted(set(real) | set(predicted))
            )
            if real
            else None
        )
        active = model_version_get_active()
        entry = {
            "step": step,
            "active_version": active.pk if active else None,
            "n": len(chunk),
            "accuracy": metrics["accuracy"] if metrics else None,
            "weighted_f1": metrics["weighted_f1"] if metrics else None,
            "alerts_opened": [
                {"id": a.pk, "kind": a.kind, "message": a.message} for a in opened
            ],
            "runs": runs,
            "promotions": promotions,
        }
        timeline.append(entry)
        say(
            f"step {step}: {entry['n']} products"
            + (" (label noise)" if noisy else "")
            + (
                f", accuracy {entry['accuracy']:.3f}, weighted F1 "
                f"{entry['weighted_f1']:.3f}"
                if metrics
                else ""
            )
            + f", {len(opened)} alert(s), {len(runs)} run(s), "
            f"{len(promotions)} promotion(s); active #{entry['active_version']}"
        )
    return {"steps": timeline}


def _photo(item: MarketItem) -> ContentFile | None:
    return ContentFile(item.image, name=item.image_name) if item.image else None
