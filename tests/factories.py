"""factory_boy factories for the platform's models."""

import factory
from factory.django import DjangoModelFactory, Password

from accounts.models import User
from catalog.models import Category, Product

DEFAULT_PASSWORD = "pass-12345!"


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
    seller = factory.SubFactory(UserFactory)
    category = factory.SubFactory(CategoryFactory)
    source = Product.Source.LISTING
