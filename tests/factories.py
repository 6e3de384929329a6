"""factory_boy factories for the platform's models, and the test data built with them:
the words of the tiny model trained once per session, products written with them."""

import random
from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory, Password

from accounts.models import User
from catalog.models import Category, Product
from catalog.text import product_search_text
from ml.models import ModelVersion, Prediction

DEFAULT_PASSWORD = "pass-12345!"

# Distinctive words per category, so a two-epoch text model tells them apart.
TRAINING_WORDS = {
    "9101": ("Livres", ["roman", "poche", "auteur", "chapitre", "edition"]),
    "9102": ("Jeux vidéo", ["console", "manette", "jeu", "playstation", "nintendo"]),
    "9103": ("Piscine", ["piscine", "filtre", "pompe", "chlore", "bassin"]),
}


class UserFactory(DjangoModelFactory):
    """A user with a role; ``is_staff`` follows the staff role, as in the services."""

    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = User.Role.SELLER
    is_staff = factory.LazyAttribute(lambda u: u.role == User.Role.STAFF)
    password = Password(DEFAULT_PASSWORD)


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("code",)

    # Far from the seeded Rakuten codes (10..2905).
    code = factory.Sequence(lambda n: f"9{n:04d}")
    name = factory.Sequence(lambda n: f"Catégorie de test {n}")
    active = True


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    title = factory.Sequence(lambda n: f"Produit de test {n}")
    description = "Une description de test."
    # As the product services write it (catalog.text).
    search_text = factory.LazyAttribute(
        lambda p: product_search_text(p.title, p.description)
    )
    seller = factory.SubFactory(UserFactory)
    category = factory.SubFactory(CategoryFactory)
    source = Product.Source.LISTING


class ModelVersionFactory(DjangoModelFactory):
    """A version row with no bundle on disk: for pages and selectors that only read
    the rows (the ``active_model`` fixture serves a real one)."""

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


def training_categories_create() -> dict:
    """The categories of ``TRAINING_WORDS``, by code."""
    return {
        code: CategoryFactory(code=code, name=name)
        for code, (name, _) in TRAINING_WORDS.items()
    }


def product_text(code: str, rng: random.Random) -> tuple[str, str]:
    """A title and description written with ``code``'s distinctive words."""
    words = TRAINING_WORDS[code][1]
    return " ".join(rng.sample(words, 3)), " ".join(rng.sample(words, 4))


def confirmed_catalogue(categories, *, per_category: int, seed: int) -> None:
    """``per_category`` imported products per category, confirmed yesterday."""
    rng = random.Random(seed)
    for code, category in sorted(categories.items()):
        for _ in range(per_category):
            title, description = product_text(code, rng)
            ProductFactory(
                title=title,
                description=description,
                category=category,
                seller=None,
                confirmed_at=timezone.now() - timedelta(days=1),
            )
