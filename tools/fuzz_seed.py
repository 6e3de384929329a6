"""Seed a fresh database for the API fuzzing run (tools/schemathesis.sh): a staff
user and a seller (printed as two lines: username and password), a small demo
catalogue (categories and imported products), a few listings of the seller, so that
the fuzzer's ids often name real rows, and a small text-only model trained on the
catalogue and activated, so that predict/ predicts."""

import django

django.setup()

from accounts.models import User  # noqa: E402
from accounts.services import user_ensure_demo  # noqa: E402
from catalog.models import Category  # noqa: E402
from catalog.services.imports import demo_catalogue_ensure  # noqa: E402
from catalog.services.listings import listing_create  # noqa: E402
from ml.services.training_runs import (  # noqa: E402
    training_run_create,
    training_run_execute,
)

PASSWORD = "fuzz-pass-2026!"

staff, _ = user_ensure_demo(username="fuzz-staff", password=PASSWORD, role="staff")
seller, _ = user_ensure_demo(username="fuzz-seller", password=PASSWORD, role="seller")
demo_catalogue_ensure(per_category=6)
categories = list(Category.objects.filter(active=True)[:3])
for number, category in enumerate(categories, 1):
    listing_create(
        seller=seller,
        title=f"Fuzz listing {number}",
        description="Un produit de test.",
        category=category,
        choice_source="api",
    )
run = training_run_create(
    parameters={"text_only": True, "epochs": 2, "activate": True}, enqueue=False
)
version = training_run_execute(run_id=run.pk).model_version
assert version is not None and version.status == "active", version
assert User.objects.filter(username__in=["fuzz-staff", "fuzz-seller"]).count() == 2
print("fuzz-staff", PASSWORD)
print("fuzz-seller", PASSWORD)
