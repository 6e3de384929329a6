"""Seed a fresh database for the Prometheus smoke test (tools/prometheus_smoke.sh): a
seller (printed as one line: username and password), 24 listings in three categories,
each category written with words of its own, and a small text-only model trained on
them and activated, so that predict/ predicts. Kept small: the smoke test must be
quick."""

import django

django.setup()

from accounts.services import user_ensure_demo  # noqa: E402
from catalog.models import Category  # noqa: E402
from catalog.services.listings import listing_create  # noqa: E402
from ml.services.training_runs import (  # noqa: E402
    training_run_create,
    training_run_execute,
)

PASSWORD = "prom-pass-2026!"
WORDS = [
    ["roman", "poche", "auteur", "chapitre", "edition"],
    ["console", "manette", "jeu", "playstation", "nintendo"],
    ["piscine", "filtre", "pompe", "chlore", "bassin"],
]

seller, _ = user_ensure_demo(username="prom-seller", password=PASSWORD, role="seller")
categories = list(Category.objects.filter(active=True).order_by("code")[:3])
assert len(categories) == 3, categories
for category, words in zip(categories, WORDS, strict=True):
    for i in range(8):
        listing_create(
            seller=seller,
            title=" ".join(words[(i + j) % 5] for j in range(3)),
            description=" ".join(words),
            category=category,
            choice_source="api",
        )
run = training_run_create(
    parameters={"text_only": True, "epochs": 2, "activate": True}, enqueue=False
)
version = training_run_execute(run_id=run.pk).model_version
assert version is not None and version.status == "active", version
print("prom-seller", PASSWORD)
