"""Test data of the web tests: ML rows (no bundle on disk: for pages and selectors
that only read the rows), photos, and the words of the tiny trained model."""

import io

import factory
from factory.django import DjangoModelFactory
from PIL import Image

from ml.models import ModelVersion, Prediction
from tests.factories import CategoryFactory

# Distinctive words per category, so a two-epoch text model tells them apart.
TRAINING_WORDS = {
    "9101": ("Livres", ["roman", "poche", "auteur", "chapitre", "edition"]),
    "9102": ("Jeux vidéo", ["console", "manette", "jeu", "playstation", "nintendo"]),
    "9103": ("Piscine", ["piscine", "filtre", "pompe", "chlore", "bassin"]),
}


def jpeg_bytes(color=(200, 30, 30), size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


class ModelVersionFactory(DjangoModelFactory):
    class Meta:
        model = ModelVersion

    name = factory.Sequence(lambda n: f"model {n}")
    status = ModelVersion.Status.READY
    bundle_path = factory.Sequence(lambda n: f"/nonexistent/bundle-{n}")
    bundle_sha256 = factory.Sequence(lambda n: f"{n:064x}")
    label_codes = factory.LazyFunction(list)
    metrics = factory.LazyFunction(dict)


class PredictionFactory(DjangoModelFactory):
    """A prediction whose first suggestion is ``predicted_category``."""

    class Meta:
        model = Prediction

    model_version = factory.SubFactory(ModelVersionFactory)
    predicted_category = factory.SubFactory(CategoryFactory)
    top_k = factory.LazyAttribute(
        lambda p: [
            {
                "category_id": p.predicted_category.pk,
                "code": p.predicted_category.code,
                "name": p.predicted_category.name,
                "probability": 0.8,
            }
        ]
    )
    branches = factory.LazyFunction(dict)
    used = "text"
    latency_ms = 12.0
