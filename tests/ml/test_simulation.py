"""``manage.py simulate_marketplace``: a labelled catalogue replayed as a marketplace
through the real services."""

import csv
import json
import random

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product
from ml.models import ModelVersion, Prediction
from tests.factories import TRAINING_WORDS, ProductFactory
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


def write_market_csv(path, *, per_category: int, seed: int, images=None):
    """A generic CSV of ``per_category`` listings per training category, written with
    its words; with ``images`` (a folder), each listing gets a photo of its
    category's colour."""
    colours = {"9101": (200, 30, 30), "9102": (30, 200, 30), "9103": (30, 30, 200)}
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "description", "category", "image"])
        for code, (_, words) in TRAINING_WORDS.items():
            for i in range(per_category):
                name = ""
                if images is not None:
                    name = f"{code}-{i}.jpg"
                    (images / name).write_bytes(jpeg_bytes(color=colours[code]))
                writer.writerow(
                    [
                        f"{code}-{i}",
                        " ".join(rng.sample(words, 3)),
                        " ".join(rng.sample(words, 4)),
                        code,
                        name,
                    ]
                )
    return path


@pytest.fixture
def market_csv(tmp_path):
    return write_market_csv(tmp_path / "market.csv", per_category=30, seed=0)


def test_label_noise_opens_an_alert_which_starts_a_gated_retraining(
    market_csv, tmp_path, settings, capsys
):
    # Given alert thresholds small enough for 90 products
    settings.ML_ARTIFACTS_DIR = str(tmp_path / "ml")
    settings.ML_ALERT_MIN_PRODUCTS = 10
    settings.ML_ALERT_MIN_CATEGORY_SUPPORT = 1000
    out = tmp_path / "timeline.json"
    # When 90 products are replayed in 3 steps, sellers mislabelling from step 2
    call_command(
        "simulate_marketplace",
        csv=market_csv,
        steps=3,
        drift="label-noise",
        epochs=3,
        json_path=out,
    )
    # Then the timeline has one entry per step covering the 54 streamed products
    timeline = json.loads(out.read_text())["steps"]
    assert [s["step"] for s in timeline] == [1, 2, 3]
    assert [s["n"] for s in timeline] == [18, 18, 18]
    assert set(timeline[0]) == {
        "step",
        "active_version",
        "n",
        "accuracy",
        "weighted_f1",
        "alerts_opened",
        "runs",
        "promotions",
    }
    # the clean first step opens no alert; the noisy steps open one, which starts
    # one incremental run judged by the gate
    assert timeline[0]["alerts_opened"] == [] and timeline[0]["runs"] == []
    alerted = [s for s in timeline[1:] if s["alerts_opened"]]
    assert alerted
    for entry in alerted:
        (run,) = entry["runs"]
        assert (run["kind"], run["status"]) == ("incremental", "succeeded")
        assert run["mode"] == "finetune"  # the active model's heads, fine-tuned
        assert "promote" in run["gate"]
    # and every listing went through a stored prediction
    assert Product.objects.count() == 90
    assert Prediction.objects.filter(product__isnull=False).count() == 54
    assert ModelVersion.objects.filter(status="active").count() == 1
    printed = capsys.readouterr().out
    assert "step 0: " in printed and "step 3: 18 products (label noise)" in printed


def test_an_unseen_category_with_photos_is_learnt_by_fine_tuning(
    tmp_path, settings, capsys
):
    # Given a catalogue with a photo per product (each category its own colour)
    settings.ML_ARTIFACTS_DIR = str(tmp_path / "ml")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ML_ALERT_MIN_PRODUCTS = 10
    settings.ML_ALERT_MIN_CATEGORY_SUPPORT = 1000
    settings.ML_GATE_MIN_RECENT_PRODUCTS = 1
    images = tmp_path / "images"
    images.mkdir()
    path = write_market_csv(
        tmp_path / "market.csv", per_category=24, seed=1, images=images
    )
    out = tmp_path / "timeline.json"
    # When it is replayed with one category kept out of the initial slice
    call_command(
        "simulate_marketplace",
        csv=path,
        images=images,
        steps=2,
        drift="unseen-category",
        epochs=3,
        json_path=out,
    )
    # Then the models see photos (text + efficientnet_lite0), every product keeps its
    # photo, and the alert's retraining fine-tunes the model, which the gate judges
    timeline = json.loads(out.read_text())["steps"]
    first = ModelVersion.objects.order_by("pk").first()
    assert first.backbone == "efficientnet_lite0"
    assert Product.objects.filter(image="").count() == 0
    runs = [run for step in timeline for run in step["runs"]]
    assert timeline[0]["alerts_opened"] and runs
    assert all(run["mode"] == "finetune" for run in runs)
    assert all(run["gate"]["recent"]["n"] > 0 for run in runs)
    tuned = ModelVersion.objects.get(pk=runs[0]["model_version"])
    assert tuned.backbone == "efficientnet_lite0"
    assert len(tuned.label_codes) == 3 and len(first.label_codes) == 2


def test_refuses_a_catalogue_that_is_not_empty(market_csv):
    ProductFactory()
    with pytest.raises(CommandError, match="catalogue is not empty"):
        call_command("simulate_marketplace", csv=market_csv, steps=2)
    assert ModelVersion.objects.count() == 0
