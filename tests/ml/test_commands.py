"""The ML management commands end to end on a tiny generated catalogue, and the
activation/rollback services behind them."""

import csv
import io
import json

import pytest
import torch
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from PIL import Image

from catalog.models import Product
from ml.models import ModelActivation, ModelVersion, Prediction, TrainingRun
from ml.services.model_versions import model_version_activate
from ml.services.starter import starter_model_request
from ml.services.training_runs import training_run_execute
from tests.factories import CategoryFactory, ProductFactory

WORDS = {
    "piscine": ["piscine", "liner", "pompe", "bâche", "chlore", "skimmer"],
    "livre": ["roman", "livre", "poche", "auteur", "chapitre", "édition"],
    "jardin": ["tondeuse", "sécateur", "râteau", "bêche", "arrosoir", "taille-haie"],
}


def _catalogue(per_category: int = 10) -> dict:
    categories = {}
    for code, words in WORDS.items():
        categories[code] = CategoryFactory(code=code, name=code.title())
        for i in range(per_category):
            ProductFactory(
                title=f"{words[i % 6]} {words[(i + 1) % 6]} modèle {i}",
                description=f"{words[(i + 2) % 6]} de qualité",
                category=categories[code],
                source=Product.Source.IMPORT,
                seller=None,
            )
    return categories


@pytest.fixture
def no_torch_hub_weights(tmp_path, monkeypatch):
    """torch's hub cache is an empty folder: no pretrained VGG16 file anywhere."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield
    torch.hub.set_dir(previous)


@pytest.mark.django_db
def test_train_model_trains_activates_and_writes_json(artifacts, tmp_path):
    # given a small confirmed catalogue in three categories
    _catalogue()
    report = tmp_path / "train.json"
    # when a text-only model is trained and activated from the command line
    call_command(
        "train_model", "--text-only", "--epochs", "4", "--activate", "--json", report
    )
    # then one version is active, built from a finished run, with its bundle on disk
    version = ModelVersion.objects.get()
    assert version.status == ModelVersion.Status.ACTIVE
    assert version.label_codes == ["jardin", "livre", "piscine"]
    assert version.backbone == ""
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.model_version == version
    assert run.progress == 1.0
    bundle_dir = artifacts / "bundles" / version.bundle_sha256
    assert bundle_dir.is_dir()
    data = json.loads(report.read_text())
    assert data["model_version"] == version.pk
    assert data["status"] == "active"
    assert 0.0 <= data["metrics"]["fused"]["weighted_f1"] <= 1.0


@pytest.mark.django_db
def test_train_model_refuses_an_image_branch_without_pretrained_weights(
    artifacts, no_torch_hub_weights, settings
):
    # given products with photos but no VGG16 weights on disk
    _catalogue(per_category=4)
    for product in Product.objects.all():
        product.image.save("p.jpg", ContentFile(_jpeg()), save=True)
    settings.ML_VGG16_WEIGHTS_PATH = ""
    # when the vgg16 image branch is asked for without allowing random weights
    with pytest.raises(CommandError) as excinfo:
        call_command("train_model", "--backbone", "vgg16", "--epochs", "1")
    # then the command fails with one clear line, the run is failed, no version exists
    assert "weights" in str(excinfo.value).lower()
    assert "\n" not in str(excinfo.value)
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED
    assert ModelVersion.objects.count() == 0


@pytest.mark.django_db
def test_train_model_needs_two_categories(artifacts):
    # given products in a single category
    category = CategoryFactory(code="seul")
    ProductFactory.create_batch(5, category=category)
    # when / then
    with pytest.raises(CommandError, match="two categories"):
        call_command("train_model", "--text-only", "--epochs", "1")
    assert ModelVersion.objects.count() == 0


@pytest.mark.django_db
def test_evaluate_model_scores_a_csv_without_storing_anything(artifacts, tmp_path):
    # given an active model and a labelled CSV in the generic layout
    _catalogue()
    call_command("train_model", "--text-only", "--epochs", "4", "--activate")
    csv_path = tmp_path / "eval.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "description", "category", "image"])
        writer.writerow(["e1", "pompe piscine", "liner", "piscine", ""])
        writer.writerow(["e2", "roman poche", "auteur", "livre", ""])
        writer.writerow(["e3", "tondeuse râteau", "bêche", "jardin", ""])
        writer.writerow(["e4", "sans catégorie", "", "", ""])
    products_before = Product.objects.count()
    report_path = tmp_path / "eval.json"
    # when it is evaluated
    call_command(
        "evaluate_model",
        "--csv",
        csv_path,
        "--version",
        "active",
        "--json",
        report_path,
    )
    # then the report has the fused and per-branch figures and a confusion matrix
    report = json.loads(report_path.read_text())
    assert report["n"] == 3
    assert set(report["per_class"]) == {"jardin", "livre", "piscine"}
    assert report["branches"]["text"]["n"] == 3
    assert report["branches"]["image"]["n"] == 0
    for key in ("accuracy", "weighted_f1"):
        assert 0.0 <= report[key] <= 1.0
        assert key in report["branches"]["text"]
        assert key in report["branches"]["image"]
    assert report_path.with_suffix(".png").stat().st_size > 0
    # and nothing was stored
    assert Product.objects.count() == products_before
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_evaluate_model_without_a_model_fails_with_one_line(tmp_path):
    csv_path = tmp_path / "eval.csv"
    csv_path.write_text("product_id,title,description,category,image\n")
    with pytest.raises(CommandError, match="No model is active"):
        call_command("evaluate_model", "--csv", csv_path)
    with pytest.raises(CommandError, match="No trained model version #999"):
        call_command("evaluate_model", "--csv", csv_path, "--version", "999")


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _ready(name: str) -> ModelVersion:
    return ModelVersion.objects.create(
        name=name,
        status=ModelVersion.Status.READY,
        bundle_sha256=(name * 64)[:64],
        bundle_path=f"/nowhere/{name}",
    )


@pytest.mark.django_db
def test_activate_model_then_rollback_keeps_exactly_one_active():
    # given two trained versions
    first, second = _ready("a"), _ready("b")
    # when the first, then the second is activated, then rolled back
    call_command("activate_model", str(first.pk))
    call_command("activate_model", str(second.pk))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("retired", "active")
    call_command("activate_model", "--rollback")
    # then the first is active again, the second retired, and history has 3 rows
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("active", "retired")
    assert ModelVersion.objects.filter(status="active").count() == 1
    history = list(ModelActivation.objects.order_by("id"))
    assert [(h.version_id, h.previous_id, h.is_rollback) for h in history] == [
        (first.pk, None, False),
        (second.pk, first.pk, False),
        (first.pk, second.pk, True),
    ]


@pytest.mark.django_db
def test_rollback_without_history_and_unknown_id_fail_cleanly():
    with pytest.raises(CommandError, match="no previous model version"):
        call_command("activate_model", "--rollback")
    with pytest.raises(CommandError, match="no model version #42"):
        call_command("activate_model", "42")


@pytest.mark.django_db  # the service's atomic block runs as a savepoint here
def test_activation_is_atomic_when_the_history_write_fails(monkeypatch):
    # given an active version and a candidate
    first, second = _ready("a"), _ready("b")
    model_version_activate(version=first)

    # when recording the activation fails half-way
    def broken_create(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(ModelActivation.objects, "create", broken_create)
    with pytest.raises(DatabaseError):
        model_version_activate(version=second)
    # then nothing changed: the first is still the one active version
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("active", "ready")
    assert first.active_marker is True and second.active_marker is None


@pytest.mark.django_db
def test_the_unique_marker_forbids_two_active_versions():
    first, second = _ready("a"), _ready("b")
    model_version_activate(version=first)
    second.status, second.active_marker = ModelVersion.Status.ACTIVE, True
    with pytest.raises(DatabaseError):
        second.save()


@pytest.mark.django_db
def test_starter_model_is_a_demo_model_and_only_trained_once(artifacts):
    # given a catalogue and no active model
    _catalogue(per_category=6)
    # when the starter model is requested, trained (as the worker does) and requested
    # again
    run = starter_model_request()
    version = training_run_execute(run_id=run.pk).model_version
    again = starter_model_request()
    # then one demo, text-only version is active and the second call queued nothing
    assert version is not None and version.is_demo and version.backbone == ""
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.ACTIVE
    assert again is None
    assert TrainingRun.objects.count() == 1
